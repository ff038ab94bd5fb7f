"""Tests for visionyard.training.image_check, through scan_dataset: unreadable images named,
skipped or trusted as image_check and skip_corrupt_images say."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tests.training.imagefiles import STANDARD, make_dataset, png_bytes

from visionyard.errors import DatasetError
from visionyard.training.imagefolder import scan_dataset


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return make_dataset(tmp_path / "ds", STANDARD)


def test_corrupt_and_truncated_png_are_named(dataset: Path) -> None:
    rng = np.random.default_rng(0)
    (dataset / "train" / "dog" / "random.png").write_bytes(rng.bytes(200))
    good = png_bytes()
    (dataset / "val" / "ant" / "truncated.png").write_bytes(good[: len(good) // 2])
    with pytest.raises(DatasetError) as info:
        scan_dataset(dataset)
    message = str(info.value)
    assert message.startswith("2 unreadable image file(s)")
    assert "train/dog/random.png: UnidentifiedImageError" in message
    assert "val/ant/truncated.png: OSError: Truncated File Read" in message
    assert "fix or delete them, or set skip_corrupt_images=true" in message.lower()


def test_zero_byte_file_is_bad_even_with_checks_off(dataset: Path) -> None:
    (dataset / "train" / "cat" / "empty.png").write_bytes(b"")
    with pytest.raises(DatasetError, match=r"train/cat/empty\.png: empty file \(0 bytes\)"):
        scan_dataset(dataset, image_check="off")


def test_image_check_off_trusts_files(dataset: Path) -> None:
    (dataset / "train" / "cat" / "junk.png").write_bytes(b"definitely not a png")
    index = scan_dataset(dataset, image_check="off")
    assert index.counts()["train"]["cat"] == 3


def test_full_check_catches_truncated_jpeg_that_header_check_misses(dataset: Path) -> None:
    buf = io.BytesIO()
    noise = np.random.default_rng(3).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(buf, format="JPEG")
    data = buf.getvalue()
    (dataset / "train" / "ant" / "cut.jpg").write_bytes(data[: len(data) // 2])

    assert scan_dataset(dataset, image_check="header").counts()["train"]["ant"] == 5
    with pytest.raises(DatasetError, match=r"train/ant/cut\.jpg: OSError: image file is truncated"):
        scan_dataset(dataset, image_check="full")


def test_many_bad_files_are_summarised(dataset: Path) -> None:
    for i in range(13):
        (dataset / "train" / "ant" / f"bad_{i:02d}.png").write_bytes(b"junk")
    with pytest.raises(DatasetError) as info:
        scan_dataset(dataset)
    message = str(info.value)
    assert message.startswith("13 unreadable image file(s)")
    assert "bad_09.png" in message
    assert "bad_10.png" not in message
    assert "... and 3 more" in message


def test_skip_corrupt_drops_and_records(dataset: Path) -> None:
    (dataset / "train" / "dog" / "random.png").write_bytes(b"junk")
    good = png_bytes()
    (dataset / "val" / "ant" / "truncated.png").write_bytes(good[:-20])
    index = scan_dataset(dataset, skip_corrupt=True)
    assert [path for path, _ in index.skipped] == ["train/dog/random.png", "val/ant/truncated.png"]
    assert all(reason for _, reason in index.skipped)
    assert index.counts() == scan_dataset(dataset, skip_corrupt=True).counts()
    assert index.counts()["train"]["dog"] == 3
    assert index.counts()["val"]["ant"] == 2
    kept = {s.path for samples in index.splits.values() for s in samples}
    assert "train/dog/random.png" not in kept
    assert index.fingerprint()["skipped"] == [list(item) for item in index.skipped]


def test_skip_corrupt_that_empties_a_class_is_an_error(dataset: Path) -> None:
    for f in (dataset / "val" / "cat").iterdir():
        f.write_bytes(b"junk")
    with pytest.raises(DatasetError, match=r"emptied class folder\(s\) \['val/cat'\]"):
        scan_dataset(dataset, skip_corrupt=True)


def test_invalid_image_check_value(dataset: Path) -> None:
    with pytest.raises(DatasetError, match="image_check='quick'"):
        scan_dataset(dataset, image_check="quick")  # type: ignore[arg-type]
