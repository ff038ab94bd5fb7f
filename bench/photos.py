"""Photo-like JPEGs for data-pipeline benchmarks: a seeded, offline stand-in for a photo dataset.

Decode and resize cost depend on what is in a JPEG, not only on its size: flat or white-noise
images compress (and decode) very differently from photographs. These images have the statistics
that matter to a decoder: a 1/f amplitude spectrum (natural images' scale invariance), strongly
correlated colour channels (most energy in luminance, weaker opponent-colour fields), and a few
hard-edged occluding shapes. Each image depends only on (seed, index), so a folder is the same on
every machine and with any number of worker processes.

    from photos import write_photo_folder
    write_photo_folder(Path("/tmp/photos/train"), n_images=4096, n_classes=10, seed=0)
"""

from __future__ import annotations

import functools
import json
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

__all__ = ["photo", "write_photo_folder"]

WIDTH, HEIGHT = 500, 375  # the most common photo size of PASCAL VOC / ImageNet-style datasets
QUALITY = 90
_MARKER = ".photos.json"
# Opponent-colour basis -> RGB: luminance, red-green, blue-yellow. Chroma fields are weaker than
# luminance, which is what makes natural images' RGB channels correlate.
_OPPONENT = np.array([[1.0, 1.0, 1.0], [1.0, -1.0, 0.0], [0.5, 0.5, -1.0]], dtype=np.float32)
_FIELD_STRENGTH = np.array([1.0, 0.18, 0.15], dtype=np.float32)


@functools.lru_cache(maxsize=4)
def _pink_filter(height: int, width: int) -> np.ndarray:
    """Amplitude 1/f over the rfft2 grid (power ~ 1/f^2), DC removed."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    f[0, 0] = np.inf
    return (1.0 / f).astype(np.float32)


def _pink_fields(rng: np.random.Generator, n: int, height: int, width: int) -> np.ndarray:
    """`n` independent 1/f noise fields, each scaled to unit standard deviation."""
    white = rng.standard_normal((n, height, width), dtype=np.float32)
    spectrum = np.fft.rfft2(white) * _pink_filter(height, width)
    fields = np.fft.irfft2(spectrum, s=(height, width)).astype(np.float32)
    fields /= fields.std(axis=(1, 2), keepdims=True) + 1e-6
    return fields


def photo(seed: int, index: int, size: tuple[int, int] = (WIDTH, HEIGHT)) -> Image.Image:
    """Image `index` of the set seeded by `seed`: an RGB PIL image of `size` (width, height)."""
    width, height = size
    rng = np.random.default_rng([seed, index])
    fields = _pink_fields(rng, 3, height, width) * _FIELD_STRENGTH[:, None, None]
    # (3, H, W) opponent fields -> (H, W, 3) RGB around a random mean colour
    rgb = np.einsum("chw,cd->hwd", fields, _OPPONENT) * 32.0
    rgb += rng.uniform(60, 190, size=3).astype(np.float32)
    image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")
    # a few occluding objects: flat-coloured shapes with hard edges...
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(2, 6))):
        x0, y0 = rng.uniform(-0.2, 0.9, size=2) * (width, height)
        w, h = rng.uniform(0.1, 0.5, size=2) * (width, height)
        box = (float(x0), float(y0), float(x0 + w), float(y0 + h))
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        if rng.random() < 0.5:
            draw.ellipse(box, fill=colour)
        else:
            draw.rectangle(box, fill=colour)
    # ...then texture over everything, so objects are not perfectly flat either
    out = np.asarray(image, dtype=np.float32) + 12.0 * fields[0][:, :, None]
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8), "RGB")


def _write_range(
    root: str, seed: int, n_classes: int, start: int, stop: int, size: tuple[int, int]
) -> None:
    for index in range(start, stop):
        label = index % n_classes
        path = os.path.join(root, f"class_{label:03d}", f"{index:06d}.jpg")
        photo(seed, index, size).save(path, format="JPEG", quality=QUALITY)


def write_photo_folder(
    root: Path,
    n_images: int,
    n_classes: int,
    seed: int,
    *,
    workers: int | None = None,
    size: tuple[int, int] = (WIDTH, HEIGHT),
) -> Path:
    """Write `n_images` photo-like quality-90 JPEGs of `size` (width, height; 500x375 unless
    asked) into `root/class_NNN/` (ImageFolder layout, image i in class i % n_classes) and
    return `root`.

    Idempotent: a folder already written with the same arguments is left as it is. `workers`
    processes share the encoding (default: up to 8, one per core); the output does not depend
    on it.
    """
    if n_images < 1 or n_classes < 1:
        raise ValueError(f"n_images and n_classes must be >= 1, got {n_images}, {n_classes}")
    root = Path(root)
    params: dict[str, object] = {
        "n_images": n_images,
        "n_classes": n_classes,
        "seed": seed,
        "format": 1,
    }
    if size != (WIDTH, HEIGHT):  # (folders written before sizes were choosable stay valid)
        params["size"] = list(size)
    marker = root / _MARKER
    if marker.is_file() and json.loads(marker.read_text()) == params:
        return root
    for label in range(n_classes):
        (root / f"class_{label:03d}").mkdir(parents=True, exist_ok=True)
    if workers is None:
        workers = min(8, os.cpu_count() or 1)
    workers = max(1, min(workers, n_images // 64 or 1))
    if workers == 1:
        _write_range(str(root), seed, n_classes, 0, n_images, size)
    else:
        bounds = np.linspace(0, n_images, workers * 4 + 1, dtype=int)
        with ProcessPoolExecutor(workers) as pool:
            jobs = [
                pool.submit(_write_range, str(root), seed, n_classes, int(a), int(b), size)
                for a, b in zip(bounds[:-1], bounds[1:], strict=True)
                if b > a
            ]
            for job in jobs:
                job.result()
    marker.write_text(json.dumps(params))
    return root
