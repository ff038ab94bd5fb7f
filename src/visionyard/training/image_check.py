"""Whether the images of a scanned dataset can be read: empty files and broken links always
fail; ``image_check="header"`` opens every image with PIL and runs ``verify()``, ``"full"``
also decodes it. Unreadable files fail the scan, or with ``skip_corrupt`` are left out."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

from PIL import Image

from visionyard.errors import DatasetError
from visionyard.training.dataset_index import Sample

ImageCheck = Literal["full", "header", "off"]

# How many offending paths an error message lists before it summarises the rest.
_MAX_LISTED = 10


def _check_one(path: str, mode: ImageCheck) -> str | None:
    """Return why ``path`` is unreadable, or None when it is fine."""
    try:
        with Image.open(path) as image:
            image.verify()
        if mode == "full":
            # verify() leaves the image unusable, so the full decode needs a fresh handle.
            with Image.open(path) as image:
                image.load()
    except Exception as exc:  # PIL raises OSError, SyntaxError, ValueError, struct.error...
        return f"{type(exc).__name__}: {exc}"
    return None


def _check_workers() -> int:
    # Threads, not processes: the work is file I/O and PIL's C decoders, which release the GIL.
    return min(32, (os.cpu_count() or 1) + 4)


def check_images(
    root_real: Path, splits: dict[str, list[Sample]], mode: ImageCheck, skip_corrupt: bool
) -> list[tuple[str, str]]:
    """The (path, reason) of every unreadable sample, sorted; raises unless ``skip_corrupt``."""
    samples = [s for split_samples in splits.values() for s in split_samples]
    bad: list[tuple[str, str]] = []
    to_open: list[Sample] = []
    for sample in samples:
        if sample.size == 0:
            full = root_real / sample.path
            broken = full.is_symlink() and not full.exists()
            reason = "broken symbolic link" if broken else "empty file (0 bytes)"
            bad.append((sample.path, reason))
        else:
            to_open.append(sample)
    if mode != "off" and to_open:
        root_str = str(root_real)
        paths = [os.path.join(root_str, s.path) for s in to_open]
        with ThreadPoolExecutor(max_workers=_check_workers()) as pool:
            reasons = pool.map(_check_one, paths, [mode] * len(paths))
            bad.extend(
                (s.path, reason) for s, reason in zip(to_open, reasons, strict=True) if reason
            )
    bad.sort()
    if bad and not skip_corrupt:
        listed = "\n".join(f"  - {path}: {reason}" for path, reason in bad[:_MAX_LISTED])
        more = f"\n  ... and {len(bad) - _MAX_LISTED} more" if len(bad) > _MAX_LISTED else ""
        raise DatasetError(
            f"{len(bad)} unreadable image file(s) in dataset {root_real} "
            f"(image_check={mode!r}):\n{listed}{more}\n"
            "Fix or delete them, or set skip_corrupt_images=true to leave them out."
        )
    return bad


def check_not_emptied(root_real: Path, classes: list[str], splits: dict[str, list[Sample]]) -> None:
    """Raise when leaving out unreadable images left a class of some split with none."""
    emptied: list[str] = []
    for split, samples in splits.items():
        present = {s.label for s in samples}
        emptied.extend(f"{split}/{name}" for i, name in enumerate(classes) if i not in present)
    if emptied:
        raise DatasetError(
            f"Leaving out unreadable images emptied class folder(s) {emptied} in dataset "
            f"{root_real}; every class needs at least one readable image in every split. "
            "Add readable images to them."
        )
