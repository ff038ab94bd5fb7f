"""The pieces of bench/gpu.py that decide numbers: the peak table, the batched crop boxes, the
photo-like JPEG generator."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def bench_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCH))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("NVIDIA H100 80GB HBM3", ("H100 SXM", 989.0)),
        ("NVIDIA H100 PCIe", ("H100 PCIe", 756.0)),
        ("NVIDIA H200", ("H200", 989.0)),
        ("NVIDIA H100 NVL", None),  # not in the table: no MFU rather than a wrong one
        ("NVIDIA A100-SXM4-80GB", None),
    ],
)
def test_peak_by_device_name(bench_path: None, name: str, expected: object) -> None:
    from gpu_report import peak_for

    assert peak_for(name) == expected


def test_random_resized_boxes_stay_inside_and_keep_the_ratio_range(bench_path: None) -> None:
    from gpu_decode import random_resized_boxes

    heights = torch.tensor([375, 500, 40, 375] * 64)
    widths = torch.tensor([500, 375, 400, 500] * 64)
    boxes = random_resized_boxes(heights, widths, torch.Generator().manual_seed(0))
    x1, y1, x2, y2 = boxes.unbind(1)
    w, h = x2 - x1, y2 - y1
    assert (x1 >= 0).all() and (y1 >= 0).all()
    assert (x2 <= widths).all() and (y2 <= heights).all()
    assert (w >= 1).all() and (h >= 1).all()
    area = (w * h) / (widths * heights)
    assert area.max() <= 1.0 and area.min() >= 0.07  # scale (0.08, 1) up to rounding
    # the 40x400 images fit no 3/4..4/3 crop of a large area: most fall back to a centre crop
    # whose aspect is clamped, so every aspect stays in range (rounding aside)
    aspect = w / h
    assert aspect.min() >= 3 / 4 - 0.05 and aspect.max() <= 4 / 3 + 0.05
    # a different seed draws different boxes; the same seed the same
    again = random_resized_boxes(heights, widths, torch.Generator().manual_seed(0))
    other = random_resized_boxes(heights, widths, torch.Generator().manual_seed(1))
    assert torch.equal(boxes, again) and not torch.equal(boxes, other)


def test_photo_folder_layout_and_determinism(bench_path: None, tmp_path: Path) -> None:
    from photos import photo, write_photo_folder

    root = write_photo_folder(tmp_path / "train", n_images=6, n_classes=3, seed=7, workers=1)
    files = sorted(root.rglob("*.jpg"))
    assert [f.parent.name for f in files] == ["class_000"] * 2 + ["class_001"] * 2 + [
        "class_002"
    ] * 2
    for f in files:
        with Image.open(f) as im:
            assert (im.format, im.mode, im.size) == ("JPEG", "RGB", (500, 375))
        assert f.stat().st_size > 30_000  # textured like a photo, not a flat colour
    before = {f: f.stat().st_mtime_ns for f in files}
    write_photo_folder(root, n_images=6, n_classes=3, seed=7)  # same arguments: nothing rewritten
    assert {f: f.stat().st_mtime_ns for f in files} == before
    a, b = (np.asarray(photo(7, 0)) for _ in range(2))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, np.asarray(photo(7, 1)))
    # colour channels correlate, as in photographs (shapes aside, most energy is luminance)
    corr = np.corrcoef(a.reshape(-1, 3).T.astype(np.float64))
    assert corr[0, 1] > 0.3 and corr[1, 2] > 0.3 and not math.isnan(float(corr.sum()))
