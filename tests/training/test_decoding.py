"""Tests for visionyard.training.decoding: every format and mode becomes uint8 CHW RGB."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tests.training.imagefiles import noise, save

from visionyard.training.decoding import decode_rgb
from visionyard.training.image_dataset import ImageFolderDataset


def test_grayscale_rgba_palette_and_pil_formats_become_rgb_uint8_chw(tmp_path: Path) -> None:
    gray = noise(8, 6, 1, 1)
    rgba = noise(8, 6, 4, 2)
    rgb = noise(8, 6, 3, 3)
    palette = Image.fromarray(rgb).convert("P")
    palette.info["transparency"] = 0  # palette transparency: PIL warns if converted naively
    samples = [
        save(tmp_path, "gray.png", Image.fromarray(gray)),
        save(tmp_path, "rgba.png", Image.fromarray(rgba)),
        save(tmp_path, "palette.png", palette, transparency=0),
        save(tmp_path, "rgb.bmp", Image.fromarray(rgb)),  # PIL path
        save(tmp_path, "gray.tiff", Image.fromarray(gray)),  # PIL path
        save(tmp_path, "rgba.webp", Image.fromarray(rgba), lossless=True),
        save(tmp_path, "rgb.gif", Image.fromarray(rgb)),
        save(tmp_path, "rgb.jpg", Image.fromarray(rgb), quality=95),
    ]
    dataset = ImageFolderDataset(tmp_path, samples)
    images = {s.path: dataset[i][0] for i, s in enumerate(samples)}
    for path, image in images.items():
        assert image.dtype == torch.uint8, path
        assert image.shape == (3, 8, 6), path
        assert image.is_contiguous(), path

    gray_rgb = torch.from_numpy(gray).expand(3, 8, 6)
    assert torch.equal(images["gray.png"], gray_rgb)
    assert torch.equal(images["gray.tiff"], gray_rgb)
    assert torch.equal(images["rgba.png"], torch.from_numpy(rgba[:, :, :3]).permute(2, 0, 1))
    assert torch.equal(images["rgba.webp"], torch.from_numpy(rgba[:, :, :3]).permute(2, 0, 1))
    assert torch.equal(images["rgb.bmp"], torch.from_numpy(rgb).permute(2, 0, 1))
    palette_rgb = np.array(palette.convert("RGBA"))[:, :, :3]
    expected_palette = torch.from_numpy(palette_rgb).permute(2, 0, 1)
    assert torch.equal(images["palette.png"], expected_palette)


def test_sixteen_bit_png_keeps_high_byte(tmp_path: Path) -> None:
    values = np.array([[0, 255, 256, 65535]], dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    image = decode_rgb(path)
    assert image.dtype == torch.uint8
    assert image.shape == (3, 1, 4)
    assert image[0].tolist() == [[0, 0, 1, 255]]


def test_animated_gif_gives_first_frame(tmp_path: Path) -> None:
    frames = [Image.fromarray(np.full((4, 4, 3), v, dtype=np.uint8)) for v in (40, 200)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    image = decode_rgb(path)
    assert image.shape == (3, 4, 4)
    assert int(image.float().mean()) in range(35, 46)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    pixels = noise(4, 6, 3)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    path = tmp_path / "rot.png"
    Image.fromarray(pixels).save(path, exif=exif)
    assert decode_rgb(path).shape == (3, 6, 4)


def test_png_bytes_roundtrip_matches_pil(tmp_path: Path) -> None:
    # torchvision's decoder (PNG path) and PIL agree exactly on lossless data.
    pixels = noise(5, 7, 3, 42)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    (tmp_path / "x.png").write_bytes(buf.getvalue())
    (tmp_path / "x.bmp").write_bytes(b"")
    Image.fromarray(pixels).save(tmp_path / "x.bmp")
    assert torch.equal(decode_rgb(tmp_path / "x.png"), decode_rgb(tmp_path / "x.bmp"))


def test_non_contiguous_decode_has_the_same_pixels_in_every_mode(tmp_path: Path) -> None:
    # decode_rgb(contiguous=False) skips only the final layout copy: for each decoder path
    # (torchvision for JPEG/PNG, PIL for the rest and for JPEG modes it hands over) the pixels
    # and the (3, H, W) shape are those of the default decode.
    rgb = noise(12, 10, 3, 5)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    files = {
        "rgb.jpg": (Image.fromarray(rgb), {"quality": 90}),
        "gray.jpg": (Image.fromarray(noise(12, 10, 1, 6)), {"quality": 90}),
        "cmyk.jpg": (Image.fromarray(rgb).convert("CMYK"), {"quality": 90}),
        "rotated.jpg": (Image.fromarray(rgb), {"quality": 90, "exif": exif}),
        "palette.png": (Image.fromarray(rgb).convert("P"), {}),
        "rgb.bmp": (Image.fromarray(rgb), {}),
    }
    for name, (image, kwargs) in files.items():
        path = tmp_path / name
        image.save(path, **kwargs)
        reference = decode_rgb(path)
        fast = decode_rgb(path, contiguous=False)
        assert reference.is_contiguous(), name
        assert fast.dtype == torch.uint8, name
        expected_shape = (3, 10, 12) if name == "rotated.jpg" else (3, 12, 10)
        assert fast.shape == reference.shape == expected_shape, name
        assert torch.equal(fast, reference), name
