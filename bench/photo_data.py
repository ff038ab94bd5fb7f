"""The photo-like dataset the CPU benchmarks train and load from: `photos.py`'s JPEGs in an
ImageFolder layout with train/ and val/ splits.

    from photo_data import write_photo_dataset   # bench/ is on sys.path for bench scripts
    root = write_photo_dataset(Path("/tmp/photos"), train_images=2000)
"""

from __future__ import annotations

from pathlib import Path

from photos import HEIGHT, WIDTH, write_photo_folder


def write_photo_dataset(
    root: Path,
    *,
    train_images: int = 2000,
    val_images: int = 200,
    classes: int = 10,
    seed: int = 0,
    size: tuple[int, int] = (WIDTH, HEIGHT),
) -> Path:
    """``root/{train,val}/class_NNN/NNNNNN.jpg`` (`size` = width, height; quality 90); reused
    when complete."""
    write_photo_folder(root / "train", train_images, classes, seed, size=size)
    write_photo_folder(root / "val", val_images, classes, seed + 1, size=size)
    return root
