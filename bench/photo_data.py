"""Photo-like JPEGs for the benchmarks: what the data pipeline decodes in real use.

Flat or tiny images (the digits set) make decode and resize nearly free and so hide the pipeline's
real cost. These images have natural-image statistics instead: per channel a 1/f ("pink") noise
field, the channels mixed so they correlate as RGB photos do, and a few hard-edged shapes on top,
saved as 500x375 JPEGs at quality 90, so they compress (and decode) like camera photos resized
for the web. Seeded: the same arguments give the same files.

    from photo_data import write_photo_dataset   # bench/ is on sys.path for bench scripts
    root = write_photo_dataset(Path("/tmp/photos"), train_images=2000)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

WIDTH, HEIGHT = 500, 375
QUALITY = 90
_MARKER = ".photo-dataset.json"


def _pink_fields(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Three independent 1/f noise fields, (3, H, W), each scaled to zero mean, unit std."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    freq = np.sqrt(fx * fx + fy * fy)
    freq[0, 0] = 1.0
    # Amplitude ~ 1/f gives the power spectrum ~ 1/f^2 measured on natural images.
    amplitude = 1.0 / freq
    amplitude[0, 0] = 0.0
    shape = (3, height, width // 2 + 1)
    spectrum = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) * amplitude
    fields = np.fft.irfft2(spectrum, s=(height, width))
    fields -= fields.mean(axis=(1, 2), keepdims=True)
    fields /= fields.std(axis=(1, 2), keepdims=True)
    return fields


def photo(rng: np.random.Generator, tint: np.ndarray) -> Image.Image:
    """One 500x375 RGB photo-like image; ``tint`` (3 values in [0, 1]) biases its colours."""
    fields = _pink_fields(rng, HEIGHT, WIDTH)
    # A shared luminance field plus weaker per-channel ones: RGB channels of photos correlate
    # at ~0.8-0.95.
    mix = 0.85 * fields[0] + 0.3 * fields[1:].mean(axis=0)
    rgb = np.stack([mix + 0.35 * fields[1 + (c % 2)] * (1 if c else -1) for c in range(3)])
    base = 0.35 + 0.3 * tint + 0.1 * rng.standard_normal(3)
    rgb = base[:, None, None] + 0.17 * rgb
    array = (np.clip(rgb, 0.0, 1.0) * 255).astype(np.uint8).transpose(1, 2, 0)
    image = Image.fromarray(array, "RGB")
    # Objects with hard edges, partly see-through: what gives photos their edges and corners.
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for _ in range(int(rng.integers(3, 9))):
        x0, y0 = rng.integers(0, WIDTH), rng.integers(0, HEIGHT)
        w, h = rng.integers(20, 220), rng.integers(20, 180)
        colour = tuple(int(v) for v in rng.integers(0, 256, 3)) + (int(rng.integers(90, 220)),)
        box = (int(x0), int(y0), int(x0 + w), int(y0 + h))
        kind = int(rng.integers(0, 3))
        if kind == 0:
            draw.ellipse(box, fill=colour)
        elif kind == 1:
            draw.rectangle(box, fill=colour)
        else:
            draw.line(box, fill=colour, width=int(rng.integers(2, 12)))
    return Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")


def write_photo_dataset(
    root: Path, *, train_images: int = 2000, val_images: int = 200, classes: int = 10, seed: int = 0
) -> Path:
    """ImageFolder layout ``root/{train,val}/class_NN/img_NNNNN.jpg``; reused when complete."""
    params = {
        "train": train_images,
        "val": val_images,
        "classes": classes,
        "seed": seed,
        "size": [WIDTH, HEIGHT],
        "quality": QUALITY,
        "version": 1,
    }
    marker = root / _MARKER
    if marker.is_file() and json.loads(marker.read_text()) == params:
        return root
    rng = np.random.default_rng(seed)
    tints = rng.random((classes, 3))
    for split, count in (("train", train_images), ("val", val_images)):
        for i in range(count):
            label = i % classes
            folder = root / split / f"class_{label:02d}"
            folder.mkdir(parents=True, exist_ok=True)
            photo(rng, tints[label]).save(folder / f"img_{i:05d}.jpg", quality=QUALITY)
    marker.write_text(json.dumps(params))
    return root
