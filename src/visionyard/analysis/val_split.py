"""The run's validation images, labelled in the model's class order.

Export checks (ONNX against PyTorch) and metrics recomputed for a checkpoint need real images
of the run's own dataset: the folder in the run's config.json ``root``, split ``val``. The
dataset may have moved or changed since training; that is reported as a DatasetError whose
message says what is wrong, and each caller decides whether that is fatal.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from visionyard.errors import DatasetError
from visionyard.training.dataset_index import Sample
from visionyard.training.imagefolder import scan_dataset


@dataclass(frozen=True)
class ValSplit:
    root: Path
    samples: list[Sample]  # label = index of the class in the model's logits


def _dataset_root(run_dir: Path) -> Path:
    try:
        config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"cannot read the run's config.json ({exc})") from None
    root = config.get("root") if isinstance(config, dict) else None
    if not isinstance(root, str) or not root:
        raise DatasetError("the run's config.json names no dataset root")
    return Path(root).expanduser()


def labelled_split(root: Path, split: str, class_names: Sequence[str]) -> list[Sample] | None:
    """The images of `split` under `root`, labelled in the model's class order (None when the
    dataset has no such split); DatasetError when the dataset's classes are no longer the
    model's (a label shift would make every comparison wrong)."""
    # Files are listed, not opened: a bad image fails where it is read, naming itself.
    index = scan_dataset(root, image_check="off")
    if list(index.classes) != list(class_names):
        raise DatasetError(
            f"the dataset at {root} now has the classes {index.classes}, not the model's "
            f"{list(class_names)}; restore the dataset the run was trained on"
        )
    found = index.splits.get(split)
    return list(found) if found is not None else None


def load_val_split(run_dir: Path, class_names: Sequence[str]) -> ValSplit:
    """The val split of the run's dataset; DatasetError when it is gone, has no val images or
    no longer has the classes the model was trained on."""
    root = _dataset_root(Path(run_dir))
    samples = labelled_split(root, "val", class_names)
    if not samples:
        raise DatasetError(f"the dataset at {root} has no val images")
    return ValSplit(root=root, samples=samples)


def spread(samples: Sequence[Sample], count: int) -> list[Sample]:
    """At most `count` samples evenly spaced over the list (which is sorted by class), so a
    small check still sees every class rather than the first one only."""
    if count >= len(samples):
        return list(samples)
    step = len(samples) / count
    return [samples[int(i * step)] for i in range(count)]


def open_image(root: Path, sample: Sample) -> Image.Image:
    path = root / sample.path
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except OSError as exc:
        raise DatasetError(f"cannot read the val image {path}: {exc}") from None


def batches(
    split: ValSplit, samples: Sequence[Sample], size: int
) -> Iterator[tuple[list[Image.Image], list[int]]]:
    """(images, labels) in batches of `size`, opened one batch at a time."""
    for start in range(0, len(samples), size):
        chunk = samples[start : start + size]
        yield [open_image(split.root, s) for s in chunk], [s.label for s in chunk]
