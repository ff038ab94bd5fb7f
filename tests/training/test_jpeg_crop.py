"""Tests for visionyard.training.jpeg_crop: a decoded rectangle is exactly that part of the full
decode, for every chroma layout, progressive files, greyscale and all EXIF orientations."""

from __future__ import annotations

import io
import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from tests.training.imagefiles import noise

from visionyard.training import jpeg_crop
from visionyard.training.decoding import decode_rgb

# `make test` sets it: there the decoder must have been built, so these tests cannot skip.
REQUIRED = os.environ.get("VISIONYARD_REQUIRE_JPEG_CROP") == "1"
NOT_BUILT = (
    "the partial JPEG decoder is not built: install libjpeg's headers (Debian: apt-get install "
    "libjpeg-dev), then rebuild with `rm .venv/.installed-stamp && make setup`"
)
needs_decoder = pytest.mark.skipif(not jpeg_crop.available() and not REQUIRED, reason=NOT_BUILT)


def photo_like(height: int, width: int, seed: int = 0) -> Image.Image:
    """Smooth colour gradients with noise on top: chroma that varies, and sharp detail."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack(
        [x / max(width - 1, 1), y / max(height - 1, 1), (x + y) / max(width + height - 2, 1)],
        axis=-1,
    )
    grain = noise(height, width, 3, seed).astype(np.float32) / 255.0
    return Image.fromarray(((0.7 * base + 0.3 * grain) * 255).astype(np.uint8))


def encode(image: Image.Image, path: Path, **options: object) -> bytes:
    image.save(path, "JPEG", **options)
    return path.read_bytes()


def random_boxes(height: int, width: int, count: int, seed: int) -> list[tuple[int, ...]]:
    rng = random.Random(seed)
    boxes: list[tuple[int, ...]] = [
        (0, 0, height, width),  # the whole image
        (0, 0, 1, 1),
        (height - 1, width - 1, 1, 1),
        (0, width - 1, height, 1),  # the last column
        (height - 1, 0, 1, width),  # the last row
    ]
    for _ in range(count):
        h, w = rng.randint(1, height), rng.randint(1, width)
        boxes.append((rng.randint(0, height - h), rng.randint(0, width - w), h, w))
    return boxes


def assert_rectangles_match(data: bytes, path: Path, count: int = 40, seed: int = 0) -> None:
    full = decode_rgb(path)
    header = jpeg_crop.read_header(data)
    assert header is not None
    assert (header.height, header.width) == tuple(full.shape[1:])
    for top, left, h, w in random_boxes(header.height, header.width, count, seed):
        part = jpeg_crop.decode_crop(data, header, top, left, h, w)
        assert part.shape == (3, h, w)
        assert torch.equal(part, full[:, top : top + h, left : left + w]), (top, left, h, w)


def test_the_partial_decoder_is_built() -> None:
    if not jpeg_crop.available():
        if REQUIRED:
            pytest.fail(NOT_BUILT)
        pytest.skip(NOT_BUILT)


@needs_decoder
@pytest.mark.parametrize("subsampling", [0, 1, 2], ids=["4:4:4", "4:2:2", "4:2:0"])
@pytest.mark.parametrize("progressive", [False, True], ids=["baseline", "progressive"])
@pytest.mark.parametrize("size", [(375, 500), (61, 45), (17, 300)], ids=str)
def test_rectangles_are_exactly_the_full_decodes_pixels(
    tmp_path: Path, subsampling: int, progressive: bool, size: tuple[int, int]
) -> None:
    path = tmp_path / "photo.jpg"
    data = encode(
        photo_like(*size),
        path,
        quality=90,
        subsampling=subsampling,
        progressive=progressive,
    )
    assert_rectangles_match(data, path, seed=size[0] + subsampling)


@needs_decoder
def test_greyscale_jpeg_becomes_the_same_rgb(tmp_path: Path) -> None:
    path = tmp_path / "grey.jpg"
    data = encode(photo_like(50, 70).convert("L"), path, quality=85)
    assert_rectangles_match(data, path)


@needs_decoder
@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_gives_the_displayed_pixels(
    tmp_path: Path, orientation: int
) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "turned.jpg"
    data = encode(photo_like(40, 64, seed=orientation), path, quality=90, exif=exif)
    header = jpeg_crop.read_header(data)
    assert header is not None and header.orientation == orientation
    displayed = (64, 40) if orientation >= 5 else (40, 64)
    assert (header.height, header.width) == displayed
    assert_rectangles_match(data, path, seed=orientation)


def test_files_it_does_not_crop_have_no_header(tmp_path: Path) -> None:
    png = io.BytesIO()
    photo_like(8, 8).save(png, "PNG")
    cmyk = encode(photo_like(16, 16).convert("CMYK"), tmp_path / "cmyk.jpg", quality=90)
    good = encode(photo_like(16, 16), tmp_path / "good.jpg", quality=90)
    assert jpeg_crop.read_header(good) is not None
    assert jpeg_crop.read_header(png.getvalue()) is None
    assert jpeg_crop.read_header(cmyk) is None  # 4 components: the full decode converts them
    assert jpeg_crop.read_header(b"") is None
    assert jpeg_crop.read_header(good[:20]) is None  # ends before the frame header
    assert jpeg_crop.read_header(b"\xff\xd8" + b"\x00" * 40) is None


@needs_decoder
def test_damaged_data_and_boxes_outside_the_image_raise_value_error(tmp_path: Path) -> None:
    data = encode(photo_like(64, 64), tmp_path / "photo.jpg", quality=90)
    header = jpeg_crop.read_header(data)
    assert header is not None
    # The file stops halfway: libjpeg warns about the premature end, which must not pass.
    with pytest.raises(ValueError, match="(?i)premature end"):
        jpeg_crop.decode_crop(data[: len(data) // 2], header, 48, 0, 16, 16)
    with pytest.raises(ValueError, match="not inside the image"):
        jpeg_crop.decode_crop(data, header, 60, 0, 8, 8)
    # A stray marker inside the entropy-coded data: libjpeg warns ("Corrupt JPEG data") and
    # would carry on with grey blocks; here that is an error, so the caller decodes in full.
    middle = len(data) // 2
    with pytest.raises(ValueError, match="Corrupt JPEG data"):
        jpeg_crop.decode_crop(data[:middle] + b"\xff\xd3" + data[middle:], header, 0, 0, 64, 64)


@needs_decoder
def test_mutated_files_fail_cleanly_or_decode(tmp_path: Path) -> None:
    # The extension parses untrusted bytes in C: damaged headers, tables and entropy data must
    # end in a ValueError (the caller then decodes in full) or in pixels, never in a crash.
    rng = random.Random(7)
    originals = [
        encode(photo_like(48, 40, seed=s), tmp_path / f"{s}.jpg", quality=90, subsampling=s % 3)
        for s in range(3)
    ]
    outcomes = {"decoded": 0, "refused": 0, "no header": 0}
    for trial in range(300):
        data = bytearray(originals[trial % 3])
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        header = jpeg_crop.read_header(bytes(data))
        if header is None:
            outcomes["no header"] += 1
            continue
        # (a damaged header can claim a huge image: keep the rectangle small)
        h, w = rng.randint(1, min(header.height, 64)), rng.randint(1, min(header.width, 64))
        top, left = rng.randint(0, header.height - h), rng.randint(0, header.width - w)
        reduce = (1, 2, 4, 8)[trial % 4]  # every scale of the reduced decode too
        try:
            part = jpeg_crop.decode_crop(bytes(data), header, top, left, h, w, reduce=reduce)
        except ValueError:
            outcomes["refused"] += 1
        else:
            if reduce == 1:
                assert part.shape == (3, h, w)
            outcomes["decoded"] += 1
    assert outcomes["decoded"] > 0 and outcomes["refused"] > 0, outcomes


# --------------------------------------------------------------------------- reduced-size decode


def reduced_by_pil(data: bytes, n: int) -> torch.Tensor:
    """The whole image decoded at 1/n by PIL's draft mode (libjpeg's DCT scaling), as stored."""
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
        # draft picks the largest reduction that keeps at least the asked size
        image.draft("RGB", (width // n, height // n))
        assert image.size == (-(-width // n), -(-height // n))
        return torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1)


@needs_decoder
@pytest.mark.parametrize("n", [2, 4, 8])
@pytest.mark.parametrize("subsampling", [0, 2], ids=["4:4:4", "4:2:0"])
def test_reduced_rectangles_are_that_part_of_the_reduced_image(
    tmp_path: Path, n: int, subsampling: int
) -> None:
    # The reduced whole image is what PIL's draft mode decodes; a rectangle decoded reduced
    # is the part of it that covers the rectangle, edges rounded outwards to whole pixels.
    data = encode(
        photo_like(203, 301, seed=n), tmp_path / "p.jpg", quality=90, subsampling=subsampling
    )
    header = jpeg_crop.read_header(data)
    assert header is not None
    whole = reduced_by_pil(data, n)
    assert torch.equal(jpeg_crop.decode_crop(data, header, 0, 0, 203, 301, reduce=n), whole)
    for top, left, h, w in random_boxes(203, 301, 30, seed=n):
        part = jpeg_crop.decode_crop(data, header, top, left, h, w, reduce=n)
        first_row, first_col = top // n, left // n
        end_row, end_col = -(-(top + h) // n), -(-(left + w) // n)
        assert torch.equal(part, whole[:, first_row:end_row, first_col:end_col]), (top, left, h, w)


@needs_decoder
@pytest.mark.parametrize("orientation", range(1, 9))
def test_reduced_decoding_turns_the_image_like_the_full_one(
    tmp_path: Path, orientation: int
) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(photo_like(80, 128, seed=orientation), tmp_path / "t.jpg", quality=90, exif=exif)
    header = jpeg_crop.read_header(data)
    assert header is not None
    displayed = jpeg_crop.decode_crop(data, header, 0, 0, header.height, header.width, reduce=4)
    stored = reduced_by_pil(data, 4)
    assert torch.equal(displayed, jpeg_crop._orient(stored, orientation))
    # A rectangle of the displayed image: about a quarter of its size each way, rounded out.
    part = jpeg_crop.decode_crop(data, header, 9, 13, 41, 30, reduce=4)
    assert 41 / 4 <= part.shape[1] <= 41 / 4 + 2 and 30 / 4 <= part.shape[2] <= 30 / 4 + 2


def test_reduction_keeps_the_crop_at_least_the_output_size() -> None:
    assert jpeg_crop.reduction_for(3000, 4000, 224, 224) == 8
    assert jpeg_crop.reduction_for(1791, 4000, 224, 224) == 4  # 1791 // 8 = 223 < 224
    assert jpeg_crop.reduction_for(448, 448, 224, 224) == 2
    assert jpeg_crop.reduction_for(447, 900, 224, 224) == 1
    assert jpeg_crop.reduction_for(300, 300, 224, 224) == 1
    assert jpeg_crop.reduction_for(900, 2000, 224, 448) == 4


@needs_decoder
def test_a_scale_libjpeg_cannot_decode_at_is_a_value_error(tmp_path: Path) -> None:
    data = encode(photo_like(32, 32), tmp_path / "p.jpg", quality=90)
    header = jpeg_crop.read_header(data)
    assert header is not None
    with pytest.raises(ValueError, match="scale_denom must be 1, 2, 4 or 8, got 3"):
        jpeg_crop.decode_crop(data, header, 0, 0, 32, 32, reduce=3)
