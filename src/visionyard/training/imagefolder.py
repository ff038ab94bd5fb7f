"""Scan and validate an ImageFolder dataset, and fingerprint what was found.

Layout (contract)::

    ROOT/train/CLASS/*.jpg|png|...   ROOT/val/CLASS/...   ROOT/test/CLASS/... (optional)

The class index is the position of the class name in the sorted train class names; val and test
must hold exactly the same class folders, so a missing or extra folder is an error rather than a
silent label shift. The scan is read-only and returns a :class:`DatasetIndex` whose
:meth:`DatasetIndex.fingerprint` is what a run stores as ``dataset.json``. What the scan found is
``dataset_index.py``'s; the train subsampling (``max_per_class``) is ``subsample.py``'s and the
readability check of every image ``image_check.py``'s.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from visionyard.errors import DatasetError
from visionyard.paths import is_inside, resolved_or_none
from visionyard.training.dataset_index import DatasetIndex, Sample
from visionyard.training.image_check import ImageCheck, check_images, check_not_emptied
from visionyard.training.subsample import class_caps, subsample_train

#: File name suffixes (lower case, with the dot) that count as images; matching ignores case.
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
)

REQUIRED_SPLITS: tuple[str, ...] = ("train", "val")
OPTIONAL_SPLITS: tuple[str, ...] = ("test",)


@dataclass(frozen=True)
class _File:
    rel: str
    size: int


@dataclass
class _ClassDir:
    files: list[_File]
    n_other_files: int = 0
    example_other: str | None = None
    n_subdirs: int = 0


def scan_dataset(
    root: str | Path,
    *,
    image_check: ImageCheck = "header",
    skip_corrupt: bool = False,
    max_per_class: int | Sequence[int] | None = None,
    seed: int = 0,
    expected_classes: Sequence[str] | None = None,
) -> DatasetIndex:
    """Scan ``root`` (ImageFolder layout), validate it and return a :class:`DatasetIndex`.

    Args:
        root: dataset folder holding ``train/``, ``val/`` and optionally ``test/``.
        image_check: ``"header"`` opens every image with PIL and runs ``verify()`` (cheap,
            catches non-images and most truncation); ``"full"`` also decodes every image;
            ``"off"`` trusts the files. Empty (0-byte) files and broken links are always bad.
        skip_corrupt: leave unreadable images out (recorded in ``skipped``) instead of failing.
        max_per_class: cap on train images per class, an int for all classes or one int per
            class in sorted-class order. The choice is a seeded random subset (same seed, same
            files); val and test are never subsampled so metrics stay comparable. Only the
            chosen files are image-checked, and a bad chosen file is not replaced.
        seed: seed of that subsampling.
        expected_classes: class names the user declared (``class_labels``); the discovered
            set must match exactly.

    Raises:
        DatasetError: for any layout problem or unreadable image; the message names the paths.
    """
    if image_check not in ("full", "header", "off"):
        raise DatasetError(
            f"image_check={image_check!r} is not one of 'full', 'header', 'off'; pick one of them."
        )
    root_path = Path(root).expanduser()
    if not root_path.exists():
        raise DatasetError(
            f"Dataset root {root_path} does not exist; check the 'root' setting (it must point "
            "at a folder holding train/ and val/ class folders)."
        )
    if not root_path.is_dir():
        raise DatasetError(
            f"Dataset root {root_path} is not a directory; point 'root' at the folder that "
            "holds train/ and val/."
        )
    # Resolve once: symlinks inside the tree are checked against the real root location.
    root_real = root_path.resolve()

    split_dirs = _find_splits(root_real)
    scanned = {split: _scan_split(root_real, split, path) for split, path in split_dirs.items()}
    classes = sorted(scanned["train"])
    if not classes:
        raise DatasetError(
            f"No class folders in {root_real / 'train'}; put each class's images in its own "
            "sub-folder, e.g. train/cat/001.jpg and train/dog/002.jpg."
        )
    _check_structure(root_real, classes, scanned, expected_classes)

    label_of = {name: i for i, name in enumerate(classes)}
    splits: dict[str, list[Sample]] = {}
    for split, class_dirs in scanned.items():
        splits[split] = [
            Sample(path=f.rel, label=label_of[name], size=f.size)
            for name in classes
            for f in class_dirs[name].files
        ]

    subsampling = None
    if max_per_class is not None:
        caps = class_caps(max_per_class, classes)
        splits["train"], subsampling = subsample_train(splits["train"], classes, caps, seed)

    skipped = check_images(root_real, splits, image_check, skip_corrupt)
    if skipped:
        dropped = {path for path, _ in skipped}
        splits = {
            split: [s for s in samples if s.path not in dropped]
            for split, samples in splits.items()
        }
        check_not_emptied(root_real, classes, splits)

    return DatasetIndex(
        root=root_real, classes=classes, splits=splits, skipped=skipped, subsampling=subsampling
    )


# --------------------------------------------------------------------------- layout


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def _refuse_outside_link(entry_path: str, root_real: Path) -> None:
    """Called for a link `is_inside` refused: it leads out, or it resolves to nothing."""
    target = resolved_or_none(Path(entry_path))
    if target is None:
        raise DatasetError(
            f"{entry_path} is a symbolic link that loops back on itself; remove or fix the link"
        )
    raise DatasetError(
        f"{entry_path} is a symbolic link to {target}, outside the dataset root {root_real}; "
        "links may only point inside the dataset. Copy the file into the dataset or remove "
        "the link."
    )


def _list_dir(path: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as it:
            entries = [e for e in it if not _is_hidden(e.name)]
    except OSError as exc:
        raise DatasetError(
            f"Cannot list {path}: {exc.strerror or exc}; check that it exists and is readable."
        ) from exc
    entries.sort(key=lambda e: e.name)
    return entries


def _find_splits(root_real: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for split in (*REQUIRED_SPLITS, *OPTIONAL_SPLITS):
        path = root_real / split
        if path.is_symlink() and not is_inside(path, root_real):
            _refuse_outside_link(str(path), root_real)
        if path.is_dir():
            found[split] = path
        elif split in REQUIRED_SPLITS:
            present = [e.name for e in _list_dir(root_real) if e.is_dir()]
            seen = ", ".join(f"{name}/" for name in present) if present else "no folders"
            raise DatasetError(
                f"Dataset root {root_real} has no {split}/ folder (found: {seen}). The layout is "
                f"ROOT/train/CLASS/*.jpg and ROOT/val/CLASS/*.jpg (test/ optional); create "
                f"{split}/ or point 'root' at the right folder."
            )
    return found


def _scan_split(root_real: Path, split: str, split_dir: Path) -> dict[str, _ClassDir]:
    """Class name -> image files of one split (hidden entries ignored)."""
    out: dict[str, _ClassDir] = {}
    for entry in _list_dir(split_dir):
        if entry.is_symlink() and not is_inside(Path(entry.path), root_real):
            _refuse_outside_link(entry.path, root_real)
        if entry.is_dir():
            out[entry.name] = _scan_class(root_real, f"{split}/{entry.name}", Path(entry.path))
        # Loose files directly under train/ (no class folder) carry no label: ignored.
    return out


def _scan_class(root_real: Path, rel_dir: str, path: Path) -> _ClassDir:
    result = _ClassDir(files=[])
    for entry in _list_dir(path):
        name = entry.name
        ext = os.path.splitext(name)[1].lower()
        # Only links pay for a resolve(); plain files use the cached d_type from scandir.
        if entry.is_symlink():
            if not is_inside(Path(entry.path), root_real):
                _refuse_outside_link(entry.path, root_real)
            if ext in IMAGE_EXTENSIONS and not os.path.exists(entry.path):
                # Kept with size 0 so the image check reports it like any unreadable file.
                result.files.append(_File(rel=f"{rel_dir}/{name}", size=0))
                continue
        if entry.is_dir():
            result.n_subdirs += 1
        elif ext in IMAGE_EXTENSIONS and entry.is_file():
            try:
                size = entry.stat().st_size
            except OSError as exc:
                raise DatasetError(
                    f"Cannot read {entry.path}: {exc.strerror or exc}; check its permissions."
                ) from exc
            result.files.append(_File(rel=f"{rel_dir}/{name}", size=size))
        else:
            result.n_other_files += 1
            if result.example_other is None:
                result.example_other = name
    return result


def _check_structure(
    root_real: Path,
    classes: list[str],
    scanned: dict[str, dict[str, _ClassDir]],
    expected_classes: Sequence[str] | None,
) -> None:
    """Collect every layout problem and raise them together, so one run shows them all."""
    problems: list[str] = []
    train_set = set(classes)

    if expected_classes is not None:
        expected = list(expected_classes)
        duplicates = sorted({c for c in expected if expected.count(c) > 1})
        if set(expected) != train_set or duplicates:
            detail = []
            missing = sorted(set(expected) - train_set)
            extra = sorted(train_set - set(expected))
            if missing:
                detail.append(f"declared but with no train folder: {missing}")
            if extra:
                detail.append(f"train folders not declared: {extra}")
            if duplicates:
                detail.append(f"declared more than once: {duplicates}")
            problems.append(
                f"class_labels {sorted(expected)} do not match the class folders found in "
                f"{root_real / 'train'}: {classes} ({'; '.join(detail)}). Fix class_labels or "
                "the folders (or leave class_labels unset to use the folders)."
            )

    for split, class_dirs in scanned.items():
        if split == "train":
            continue
        found = set(class_dirs)
        missing = sorted(train_set - found)
        extra = sorted(found - train_set)
        if missing or extra:
            detail = []
            if missing:
                detail.append(f"missing {missing}")
            if extra:
                detail.append(f"extra {extra}")
            problems.append(
                f"{root_real / split} does not hold the same class folders as train/: "
                f"{', '.join(detail)}. Every split needs exactly the train classes {classes} "
                "(class index = position in that sorted list); add or rename the folders."
            )

    for split, class_dirs in scanned.items():
        for name, class_dir in class_dirs.items():
            if class_dir.files:
                continue
            why = []
            if class_dir.n_subdirs:
                why.append(
                    f"it holds {class_dir.n_subdirs} sub-folder(s); images must sit directly "
                    "in the class folder"
                )
            if class_dir.n_other_files:
                why.append(
                    f"{class_dir.n_other_files} non-image file(s) ignored, e.g. "
                    f"{class_dir.example_other!r}"
                )
            suffix = f" ({'; '.join(why)})" if why else ""
            problems.append(
                f"empty class folder: {root_real / split / name} has no image files"
                f"{suffix}. Add images ({', '.join(sorted(IMAGE_EXTENSIONS))}) or remove the "
                "folder from every split."
            )

    if problems:
        if len(problems) == 1:
            raise DatasetError(problems[0])
        listing = "\n".join(f"  - {p}" for p in problems)
        raise DatasetError(f"Dataset {root_real} has {len(problems)} problems:\n{listing}")
