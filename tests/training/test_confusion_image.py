"""The confusion-matrix heat-map: its size, row-normalised colours and odd class names."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from visionyard.training.confusion_image import render_confusion_matrix


def test_confusion_image_size_for_3_and_200_classes() -> None:
    small = render_confusion_matrix([[5, 1, 0], [2, 9, 3], [0, 0, 4]], ["a", "b", "c"])
    assert small.mode == "RGB"
    assert 120 <= small.width <= 600 and 120 <= small.height <= 600

    n = 200
    rng = np.random.default_rng(0)
    conf = rng.integers(0, 5, (n, n))
    conf[np.arange(n), np.arange(n)] += 100
    names = [f"a_rather_long_class_name_number_{i}" for i in range(n)]
    big = render_confusion_matrix(conf.tolist(), names)
    assert 1000 <= big.width <= 1600 and 1000 <= big.height <= 1600


def test_confusion_image_colours_are_row_normalised() -> None:
    # Row 0 has 1000x the samples of row 1, but both are perfectly classified: after row
    # normalisation their diagonal cells must be equally dark.
    conf = [[1000, 0], [0, 1]]
    img = render_confusion_matrix(conf, ["many", "few"])

    def darkest(image: Image.Image) -> np.ndarray:
        # Pixels of the darkest heat-map colour (shade 1.0); text and labels are other colours.
        arr = np.asarray(image).astype(int)
        return np.abs(arr - np.array([8, 48, 107])).max(axis=2) <= 2

    dark = darkest(img)
    ys, xs = np.nonzero(dark)
    h, w = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
    assert h == w  # the two diagonal cells span a square
    cell = h // 2
    assert dark[ys.min() + 2, xs.min() + 2] and dark[ys.max() - 2, xs.max() - 2]
    assert not dark[ys.min() + 2, xs.max() - 2] and not dark[ys.max() - 2, xs.min() + 2]
    assert dark.sum() > cell * cell  # both diagonal cells, not just one
    raw = darkest(render_confusion_matrix(conf, ["many", "few"], normalize=False))
    assert raw.sum() < 0.6 * dark.sum()  # unnormalised: the one-sample row fades out


def test_confusion_image_handles_odd_names_and_rejects_mismatch() -> None:
    img = render_confusion_matrix([[1, 0], [0, 1]], ["日本語のクラス", "x" * 300])
    assert img.width < 600
    with pytest.raises(ValueError, match="does not match 3 class names"):
        render_confusion_matrix([[1, 0], [0, 1]], ["a", "b", "c"])
