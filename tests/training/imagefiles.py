"""Real tiny image files and ImageFolder trees for the data tests."""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import numpy as np
from PIL import Image
from torchvision.transforms import v2

from visionyard.training.dataset_index import Sample


def noise(h: int, w: int, channels: int, seed: int = 0) -> np.ndarray:
    shape = (h, w) if channels == 1 else (h, w, channels)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def save(root: Path, rel: str, image: Image.Image, **kwargs: object) -> Sample:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **kwargs)
    return Sample(path=rel, label=0, size=path.stat().st_size)


def make_split(root: Path, n: int, size: int = 16, num_classes: int = 2) -> list[Sample]:
    samples = []
    for i in range(n):
        rel = f"train/c{i % num_classes}/{i:03d}.png"
        sample = save(root, rel, Image.fromarray(noise(size, size, 3, i)))
        samples.append(Sample(sample.path, i % num_classes, sample.size))
    return samples


def write_image(path: Path, *, value: int = 0, size: int = 8, fmt: str | None = None) -> Path:
    """Write a real tiny image; ``value`` makes files differ in content (and usually size)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(noise(size, size, 3, value)).save(path, format=fmt)
    return path


def make_dataset(root: Path, layout: dict[str, dict[str, int]], ext: str = ".png") -> Path:
    """layout: split -> class -> number of images."""
    for split, classes in layout.items():
        for name, count in classes.items():
            (root / split / name).mkdir(parents=True, exist_ok=True)
            for i in range(count):
                value = zlib.crc32(f"{split}/{name}/{i}".encode())
                write_image(root / split / name / f"img_{i:03d}{ext}", value=value)
    return root


STANDARD = {
    "train": {"dog": 3, "cat": 2, "ant": 4},
    "val": {"dog": 1, "cat": 1, "ant": 2},
}


def png_bytes(value: int = 1) -> bytes:
    """A noisy 32x32 PNG: its pixel data spans well past the header, so halving it truncates."""
    buf = io.BytesIO()
    Image.fromarray(noise(32, 32, 3, value)).save(buf, format="PNG")
    return buf.getvalue()


# A random torch-based augmentation: what the seeded-transform tests reproduce.
AUGMENT = v2.Compose([v2.RandomResizedCrop(8, antialias=True), v2.RandomHorizontalFlip()])
