"""A labelled set of images uploaded as a zip in the ImageFolder layout, unpacked for
evaluation without trusting it.

Layout: ``<class>/<image>`` for each image, optionally under one top folder (what zipping a
folder gives) and optionally under a split folder (``val/<class>/<image>``). Class folder names
must be classes of the model; other folders are refused by name. Files that are not images
(by extension), macOS metadata and hidden files are left out.

What is refused, naming the member: absolute names, ``..`` and backslashes, links and other
special members, more than `max_files` members, more than `max_bytes` unpacked (counted while
reading, not from the headers, which a zip bomb lies in), images whose header declares more than
`max_pixels` pixels. Nothing is written outside `dest`.
"""

from __future__ import annotations

import stat
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from PIL import Image, UnidentifiedImageError

from visionyard.errors import DatasetError, InvalidRequestError, PayloadTooLargeError
from visionyard.text import printable
from visionyard.training.dataset_index import Sample
from visionyard.training.imagefolder import IMAGE_EXTENSIONS

UPLOAD_SPLIT = "upload"
_SPLIT_FOLDERS = ("val", "test", "train", "valid", "validation")
_CHUNK = 1 << 16


@dataclass(frozen=True)
class UploadLimits:
    max_files: int
    max_bytes: int
    max_pixels: int


def _refuse(problem: str) -> InvalidRequestError:
    return InvalidRequestError(problem, [{"field": "archive", "message": problem}])


def _member_parts(info: zipfile.ZipInfo) -> tuple[str, ...] | None:
    """The member's path parts, None for what is left out; refuses names that lead elsewhere."""
    name = info.filename
    shown = printable(name[:200])
    if "\\" in name or "\x00" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise _refuse(f"the archive member {shown!r} has an absolute or Windows-style name")
    parts = PurePosixPath(name).parts
    if any(part in ("..", ".") for part in parts):
        raise _refuse(f"the archive member {shown!r} leads out of the archive ('..')")
    # Unix type bits, when the archiver set them (zips made elsewhere often leave them 0).
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        raise _refuse(f"the archive member {shown!r} is a link or special file; only plain files")
    if info.is_dir() or not parts:
        return None
    if parts[0] == "__MACOSX" or any(part.startswith(".") for part in parts):
        return None
    if PurePosixPath(name).suffix.lower() not in IMAGE_EXTENSIONS:
        return None
    return parts


def _strip_wrappers(paths: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Drop one shared top folder and then one split folder, when every image has them."""
    for _ in range(2):
        if paths and all(len(p) >= 3 for p in paths) and len({p[0] for p in paths}) == 1:
            paths = [p[1:] for p in paths]
    if paths and all(len(p) >= 3 and p[0] in _SPLIT_FOLDERS for p in paths):
        paths = [p[1:] for p in paths]
    return paths


def extract_labelled_zip(
    archive: Path, dest: Path, class_names: Sequence[str], limits: UploadLimits
) -> list[Sample]:
    """Unpack the images of `archive` into ``dest/upload/<class>/`` and return them as samples
    labelled in `class_names`' order (paths relative to `dest`)."""
    try:
        bundle = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _refuse(f"the upload is not a readable zip archive ({exc})") from None
    with bundle:
        members = bundle.infolist()
        if len(members) > limits.max_files:
            raise PayloadTooLargeError(
                f"the archive holds {len(members)} entries, more than the {limits.max_files} "
                "accepted; evaluate a smaller sample"
            )
        kept = [(info, parts) for info in members if (parts := _member_parts(info)) is not None]
        if not kept:
            raise _refuse(
                "the archive holds no images; zip class folders of images (<class>/<image>)"
            )
        layout = _strip_wrappers([parts for _, parts in kept])
        if any(len(parts) != 2 for parts in layout):
            odd = next("/".join(parts) for parts in layout if len(parts) != 2)
            raise _refuse(
                f"{printable(odd)!r} is not <class>/<image>: zip one folder per class, each "
                "holding its images (optionally under one top folder or a val/ folder)"
            )
        index = {name: i for i, name in enumerate(class_names)}
        unknown = sorted({parts[0] for parts in layout} - set(index))
        if unknown:
            shown = ", ".join(printable(u) for u in unknown[:10])
            raise _refuse(
                f"the archive has class folders the model does not know: {shown}; its classes "
                f"are {', '.join(class_names[:30])}"
            )
        budget = limits.max_bytes
        samples: list[Sample] = []
        for (info, _), (cls, filename) in zip(kept, layout, strict=True):
            rel = f"{UPLOAD_SPLIT}/{cls}/{filename}"
            target = dest / UPLOAD_SPLIT / cls / filename
            target.parent.mkdir(parents=True, exist_ok=True)
            written = _copy_bounded(bundle, info, target, budget)
            budget -= written
            _check_pixels(target, rel, limits.max_pixels)
            samples.append(Sample(path=rel, label=index[cls], size=written))
    if not samples:
        raise DatasetError("the archive holds no images to evaluate")
    return sorted(samples, key=lambda s: s.path)


def _copy_bounded(bundle: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: int) -> int:
    written = 0
    try:
        with bundle.open(info) as source, target.open("xb") as out:
            while chunk := source.read(_CHUNK):
                written += len(chunk)
                if written > budget:
                    raise PayloadTooLargeError(
                        "the archive unpacks to more than the bytes accepted "
                        "(VISIONYARD_EVALUATE_MAX_BYTES); evaluate a smaller sample"
                    )
                out.write(chunk)
    except FileExistsError:
        raise _refuse(f"the archive holds {printable(info.filename)!r} twice") from None
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        raise _refuse(
            f"the archive member {printable(info.filename)!r} is damaged ({exc})"
        ) from None
    return written


def _check_pixels(path: Path, rel: str, max_pixels: int) -> None:
    try:
        with Image.open(path) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise _refuse(f"{printable(rel)} is not a readable image") from None
    if width * height > max_pixels:
        raise _refuse(
            f"{printable(rel)} is {width}x{height}, more than the {max_pixels} pixels accepted "
            "(VISIONYARD_PREDICT_MAX_PIXELS)"
        )
