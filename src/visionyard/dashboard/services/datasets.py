"""Datasets: folders under DATASETS_DIR registered by path (relative to it, or absolute inside
it, as a config's ``root`` may be), validated and analysed by
the training core's own scanner, browsed and previewed safely.

Decision on corrupt files: registration and re-analysis scan with ``skip_corrupt=True``, so a
dataset holding unreadable images registers and its analysis LISTS them (``skipped``) instead of
failing; a training run later decides for itself (``skip_corrupt_images``). Layout errors
(missing split, class mismatch, empty class, link out of the root) still answer 422.

Scans and image decoding happen while the request holds no database lock: on SQLite every
write transaction (BEGIN IMMEDIATE) blocks all other writers, agents' heartbeats included, so
the slow file work is done first (or with a separate read-only session) and the write
transaction is kept to a few statements.
"""

from __future__ import annotations

import io
import os
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from visionyard.dashboard.repositories import datasets as repo
from visionyard.dashboard.state import AppState
from visionyard.db.models import Dataset, utcnow
from visionyard.errors import (
    ConflictError,
    DatasetError,
    NotFoundError,
    VisionyardError,
)
from visionyard.paths import (
    MAX_PATH_CHARS,
    is_inside,
    relative_posix,
    resolve_inside,
    resolve_under,
)
from visionyard.text import printable, storable
from visionyard.training.imagefolder import IMAGE_EXTENSIONS, scan_dataset

SPLITS = ("train", "val", "test")
#: longest failure reason kept per skipped file in the stored analysis
MAX_REASON = 300
#: browse lists at most this many folders, and counts images among this many entries per folder
MAX_BROWSE_ENTRIES = 500
MAX_COUNTED_ENTRIES = 10_000
#: and look at no more than this many entries in all, so one request stays cheap
MAX_COUNTED_TOTAL = 100_000
#: thumbnails: edge bounds, and the largest source file decoded at all
MIN_THUMBNAIL, MAX_THUMBNAIL = 16, 512
MAX_THUMBNAIL_SOURCE_BYTES = 64 * 1024 * 1024
# Decoding is the memory-hungry part (up to Image.MAX_IMAGE_PIXELS pixels each): bound how many
# run at once so a gallery of large images cannot exhaust the server's memory.
_DECODE_SLOTS = threading.BoundedSemaphore(4)


# ---- analysis ----------------------------------------------------------------------------------


def _is_dir(path: Path) -> bool:
    # Path.is_dir() raises on EACCES (a folder the dashboard may not enter); that is "no".
    try:
        return path.is_dir()
    except OSError:
        return False


def _clean(value: Any) -> Any:
    """JSON-safe copy: file names may hold undecodable bytes that neither the JSON encoder nor
    PostgreSQL accept."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def analyse(root: Path) -> tuple[dict[str, Any], str]:
    """Scan `root` with the training scanner; return (analysis, fingerprint sha256).

    Raises DatasetError (HTTP 422) with the scanner's message for layout problems.
    """
    try:
        index = scan_dataset(root, image_check="header", skip_corrupt=True)
    except OSError as exc:  # the scanner wraps the expected ones; this is the safety net
        raise DatasetError(f"cannot read dataset {root}: {exc.strerror or exc}") from None
    except RuntimeError as exc:
        # Python 3.11's Path.resolve() raises RuntimeError on a symbolic-link loop.
        raise DatasetError(
            f"dataset {root} holds a symbolic-link loop ({exc}); remove the link and retry."
        ) from None
    fingerprint = index.fingerprint()
    analysis = {
        "classes": index.classes,
        "num_images": fingerprint["num_images"],
        "counts": index.counts(),
        "skipped": [
            {"path": path, "reason": reason[:MAX_REASON]} for path, reason in index.skipped
        ],
        "fingerprint": fingerprint,
    }
    return _clean(analysis), fingerprint["file_list_sha256"]


def _dataset_root(state: AppState, dataset: Dataset) -> Path:
    # Re-checked on every use: the folder (or a link on its way) may have changed since
    # registration, and a stored path must never be trusted to still lead inside the root.
    root = resolve_inside(state.settings.datasets_root, dataset.rel_path, what="dataset path")
    if not _is_dir(root):
        raise NotFoundError(
            f"dataset {dataset.name!r}: its folder {dataset.rel_path!r} no longer exists under "
            "DATASETS_DIR; restore it, or delete and register the dataset again."
        )
    return root


def _not_found(dataset_id: int) -> NotFoundError:
    return NotFoundError(f"dataset {dataset_id} does not exist; list datasets to find its id")


def _lookup(state: AppState, dataset_id: int) -> Dataset:
    """Read a dataset row through a short read-only session (no write lock held afterwards)."""
    with state.read_sessions() as read:
        dataset = repo.get(read, dataset_id)
    if dataset is None:
        raise _not_found(dataset_id)
    return dataset


# ---- registration --------------------------------------------------------------------------


def get_dataset(session: Session, dataset_id: int) -> Dataset:
    dataset = repo.get(session, dataset_id)
    if dataset is None:
        raise _not_found(dataset_id)
    return dataset


def _duplicate_name(name: str) -> ConflictError:
    return ConflictError(f"a dataset named {name!r} is already registered; choose another name")


def _registrable_folder(datasets_root: Path, path: str) -> Path:
    # A relative path gets the strict lexical rules of every client path (no '..', no
    # backslash); an absolute one only has to resolve inside DATASETS_DIR.
    if path.startswith("/"):
        root = resolve_under(path, datasets_root, what="dataset path", env_name="DATASETS_DIR")
    else:
        root = resolve_inside(datasets_root.resolve(), path, what="dataset path")
    if not root.is_dir():
        # Said here rather than by the training core's scanner, whose message is about a
        # config's `root` setting, which this request does not have.
        raise DatasetError(
            f"dataset path {printable(path)[:200]!r} is not a folder under DATASETS_DIR "
            f"({datasets_root.resolve()}). Copy the dataset there first (train/ and val/ class "
            "folders, test/ optional) and give its path relative to DATASETS_DIR; GET "
            "/api/v1/datasets/browse lists the folders that are there."
        )
    return root


def register_dataset(session: Session, state: AppState, *, name: str, path: str) -> Dataset:
    """Register the folder `path` under `name` after scanning it. `path` is relative to
    DATASETS_DIR or absolute inside it (the same rule as a config's `root`, so a path that works
    in a config registers too); the relative form is what is stored."""
    datasets_root = state.settings.datasets_root
    root = _registrable_folder(datasets_root, path)
    rel_path = relative_posix(datasets_root, root)
    if len(rel_path) > MAX_PATH_CHARS:
        # a link inside DATASETS_DIR can resolve to a longer path than the one given
        raise DatasetError(
            f"dataset folder {printable(rel_path)[:200]!r}... resolves to a path longer than "
            f"{MAX_PATH_CHARS} characters; register a folder with a shorter path."
        )
    with state.read_sessions() as read:
        if repo.get_by_name(read, name) is not None:
            raise _duplicate_name(name)
        existing = repo.get_by_path(read, rel_path)
        if existing is not None:
            raise ConflictError(
                f"folder {rel_path or '.'!r} is already registered as dataset "
                f"{existing.name!r} (id {existing.id}); use that one or re-analyse it."
            )
    analysis, fingerprint = analyse(root)
    try:
        return repo.add(
            session,
            name=name,
            rel_path=rel_path,
            analysis=analysis,
            fingerprint=fingerprint,
            analysed_at=utcnow(),
        )
    except IntegrityError:
        raise _duplicate_name(name) from None


def analyze_dataset(session: Session, state: AppState, dataset_id: int) -> Dataset:
    """Re-scan a registered dataset and store the new analysis (the old one stays if the scan
    fails: the request then rolls back)."""
    root = _dataset_root(state, _lookup(state, dataset_id))
    analysis, fingerprint = analyse(root)
    dataset = get_dataset(session, dataset_id)  # the write transaction starts here
    dataset.analysis = analysis
    dataset.fingerprint = fingerprint
    dataset.analysed_at = utcnow()
    session.flush()
    return dataset


def list_datasets(
    session: Session, *, q: str | None, sort: str, descending: bool, limit: int, offset: int
) -> tuple[Sequence[Dataset], int]:
    return repo.list_page(
        session, q=q, sort=sort, descending=descending, limit=limit, offset=offset
    )


def delete_dataset(session: Session, dataset_id: int) -> None:
    """Forget the registration; the files are never touched."""
    get_dataset(session, dataset_id)
    repo.remove(session, dataset_id)


# ---- browsing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FolderEntry:
    name: str
    path: str
    image_count: int
    image_count_capped: bool
    is_dataset: bool


@dataclass(frozen=True)
class FolderListing:
    path: str
    parent: str | None
    image_count: int
    image_count_capped: bool
    entries: list[FolderEntry]
    truncated: bool


def _is_image_name(name: str) -> bool:
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


class _Budget:
    """How many directory entries one browse request may still look at."""

    def __init__(self, total: int) -> None:
        self.left = total


def _count_images(folder: Path, budget: _Budget) -> tuple[int, bool]:
    """Images directly in `folder`, looking at no more than MAX_COUNTED_ENTRIES entries (and
    what is left of the request's budget); True when it stopped early."""
    count = 0
    limit = min(MAX_COUNTED_ENTRIES, budget.left)
    seen = 0
    try:
        with os.scandir(folder) as it:
            for entry in it:
                if seen >= limit:
                    return count, True
                seen += 1
                if _is_image_name(entry.name) and entry.is_file():
                    count += 1
    except OSError:
        return 0, False
    finally:
        budget.left -= seen
    return count, False


def _inside_dir(entry: os.DirEntry[str], root: Path) -> bool:
    """A directory entry that is a folder and, if a link, leads inside `root`."""
    try:
        if not entry.is_dir():
            return False
        return not entry.is_symlink() or is_inside(Path(entry.path), root)
    except OSError:
        return False


def browse(state: AppState, path: str) -> FolderListing:
    """The folders in DATASETS_DIR/`path`, with image counts, for the "pick a folder" UI."""
    root = state.settings.datasets_root
    folder = resolve_inside(root, path, what="browse path")
    if not _is_dir(folder):
        raise NotFoundError(
            f"folder {printable(path)!r} does not exist under DATASETS_DIR; browse from '' (the "
            "top) and pick one of the folders listed."
        )
    try:
        with os.scandir(folder) as it:
            names = sorted(
                (e for e in it if not e.name.startswith(".") and _inside_dir(e, root)),
                key=lambda e: e.name,
            )
    except OSError as exc:
        raise NotFoundError(
            f"folder {printable(path)!r} cannot be listed ({exc.strerror or exc})."
        ) from None
    budget = _Budget(MAX_COUNTED_TOTAL)
    count, capped = _count_images(folder, budget)
    entries = []
    for entry in names[:MAX_BROWSE_ENTRIES]:
        child = Path(entry.path)
        child_count, child_capped = _count_images(child, budget)
        entries.append(
            FolderEntry(
                name=printable(entry.name),
                path=printable(relative_posix(root, folder / entry.name)),
                image_count=child_count,
                image_count_capped=child_capped,
                is_dataset=_is_dir(child / "train") and _is_dir(child / "val"),
            )
        )
    rel = relative_posix(root, folder)
    return FolderListing(
        path=printable(rel),
        parent=None if folder == root else printable(relative_posix(root, folder.parent)),
        image_count=count,
        image_count_capped=capped,
        entries=entries,
        truncated=len(names) > MAX_BROWSE_ENTRIES,
    )


# ---- samples and thumbnails ----------------------------------------------------------------


@dataclass(frozen=True)
class SampleRef:
    path: str
    split: str
    class_name: str


def list_samples(
    state: AppState,
    dataset_id: int,
    *,
    split: str,
    class_name: str | None,
    descending: bool,
    limit: int,
    offset: int,
) -> tuple[list[SampleRef], int]:
    """Image paths (relative to the dataset root) of one split, optionally one class."""
    dataset = _lookup(state, dataset_id)
    root = _dataset_root(state, dataset)
    classes: list[str] = list((dataset.analysis or {}).get("classes", []))
    if class_name is not None:
        if class_name not in classes:
            raise NotFoundError(
                f"dataset {dataset.name!r} has no class {class_name!r}; its classes are "
                f"{classes[:50]} (re-analyse it if the folders changed)."
            )
        classes = [class_name]
    refs: list[SampleRef] = []
    for name in classes:
        folder = resolve_inside(root, f"{split}/{name}", what="class folder")
        try:
            with os.scandir(folder) as it:
                files = [e for e in it if _is_image_name(e.name) and e.is_file()]
        except OSError:
            continue  # a split (test/) or class folder that is absent lists nothing
        for entry in files:
            if entry.is_symlink() and not is_inside(Path(entry.path), root):
                continue  # never offer a file the thumbnail route would refuse
            refs.append(
                SampleRef(
                    path=printable(f"{split}/{name}/{entry.name}"), split=split, class_name=name
                )
            )
    refs.sort(key=lambda r: r.path, reverse=descending)
    return refs[offset : offset + limit], len(refs)


def _bomb(path: str, width: int, height: int, limit: int) -> DatasetError:
    return DatasetError(
        f"image {path!r} is {width}x{height} = {width * height} pixels, over the limit of "
        f"{limit} pixels (PIL's MAX_IMAGE_PIXELS); it is not decoded for a preview."
    )


def _render(file: Path, rel: str, size: int) -> tuple[bytes, str]:
    limit = Image.MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        # PIL only warns between MAX_IMAGE_PIXELS and twice that (and raises above); the
        # explicit check below refuses the whole range with a message that gives the size.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(file) as image:
            width, height = image.size
            if limit is not None and width * height > limit:
                raise _bomb(rel, width, height, limit)
            # JPEG: let the decoder downscale by 1/2..1/8 while decoding (far less memory).
            image.draft("RGB", (size, size))
            image.thumbnail((size, size))
            try:
                thumb = ImageOps.exif_transpose(image)
            except Exception:  # noqa: BLE001 - a malformed EXIF block only loses the rotation
                thumb = image.copy()
    out = io.BytesIO()
    transparent = thumb.mode in ("RGBA", "LA", "PA") or (
        thumb.mode == "P" and "transparency" in thumb.info
    )
    if transparent:
        thumb.convert("RGBA").save(out, format="PNG", optimize=True)
        return out.getvalue(), "image/png"
    thumb.convert("RGB").save(out, format="JPEG", quality=85)
    return out.getvalue(), "image/jpeg"


def thumbnail(state: AppState, dataset_id: int, *, path: str, size: int) -> tuple[bytes, str]:
    """(bytes, media type) of a preview at most `size` pixels on its longer edge, of the image
    at `path` inside the dataset. Non-images, broken and oversized images answer 4xx."""
    if not MIN_THUMBNAIL <= size <= MAX_THUMBNAIL:
        raise DatasetError(f"size={size} must be between {MIN_THUMBNAIL} and {MAX_THUMBNAIL}")
    dataset = _lookup(state, dataset_id)
    root = _dataset_root(state, dataset)
    file = resolve_inside(root, path, what="image path")
    shown = printable(path)
    try:
        is_file = file.is_file()
        nbytes = file.stat().st_size if is_file else 0
    except OSError:
        is_file = False
    if not is_file:
        raise NotFoundError(f"dataset {dataset.name!r} has no file {shown!r}")
    if os.path.splitext(file.name)[1].lower() not in IMAGE_EXTENSIONS:
        raise DatasetError(
            f"{shown!r} is not an image file (allowed: {', '.join(sorted(IMAGE_EXTENSIONS))})"
        )
    if nbytes > MAX_THUMBNAIL_SOURCE_BYTES:
        raise DatasetError(
            f"image {shown!r} is {nbytes} bytes, over the {MAX_THUMBNAIL_SOURCE_BYTES} byte "
            "preview limit."
        )
    with _DECODE_SLOTS:
        try:
            return _render(file, shown, size)
        except VisionyardError:
            raise
        except Image.DecompressionBombError:
            raise DatasetError(
                f"image {shown!r} is over PIL's MAX_IMAGE_PIXELS limit; it is not decoded."
            ) from None
        except Exception as exc:  # PIL raises OSError, SyntaxError, ValueError, struct.error...
            raise DatasetError(
                f"{shown!r} is not a readable image ({type(exc).__name__}: "
                f"{printable(str(exc))[:200]}); fix or delete the file."
            ) from None
