"""Decode an image file into a uint8 ``(3, H, W)`` RGB tensor: torchvision's native decoders
where they apply, PIL for everything else."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable

import numpy as np
import torch
from PIL import Image, ImageOps
from torch import Tensor

# Formats torchvision's native decoders handle (libjpeg-turbo, libpng, libwebp, giflib); about
# 2x faster than PIL for JPEG and 1.2-2x for PNG. Anything else goes through PIL.
_TORCHVISION_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif"})
_READ_MODE_RGB = 3  # torchvision.io.ImageReadMode.RGB.value


@functools.cache
def _torchvision_ops() -> tuple[Callable[..., Tensor], Callable[..., Tensor]] | None:
    """torchvision's native (read_file, decode_image) ops, or None when unavailable.

    The public ``torchvision.io.decode_image`` wraps exactly these ops but, since torchvision
    0.29, emits a DeprecationWarning on every call (its image I/O moves to TorchCodec). Silencing
    it per sample would need ``warnings.catch_warnings()``, which is not thread-safe and resets
    every once-per-location warning registry on each call; calling the ops directly avoids both.
    When a future torchvision drops them, decoding falls back to PIL.
    """
    try:
        import torchvision.io.image  # noqa: F401  (loads the extension that registers the ops)

        return torch.ops.image.read_file, torch.ops.image.decode_image
    except (ImportError, AttributeError, RuntimeError):
        return None


def _from_torchvision(path: str, contiguous: bool) -> Tensor:
    ops = _torchvision_ops()
    if ops is None:
        raise RuntimeError("torchvision image decoding is not available")
    read_file, decode = ops
    image = decode(read_file(path), _READ_MODE_RGB, True)
    if image.ndim == 4:  # an animated GIF decodes to (frames, C, H, W): keep the first frame
        image = image[0]
    if image.dtype == torch.uint16:  # 16-bit PNG: keep the 8 most significant bits
        image = (image.to(torch.int32) >> 8).to(torch.uint8)
    # The native decoders return an HWC buffer viewed as CHW. A copy gives callers the standard
    # contiguous layout; a transform that resizes anyway is faster without it (see decode_rgb).
    return image.contiguous() if contiguous else image


def _from_pil(path: str, contiguous: bool) -> Tensor:
    with Image.open(path) as opened:
        image = ImageOps.exif_transpose(opened)  # same orientation as torchvision's decode
        if image.mode.startswith("I;16"):
            # PIL's 16-bit -> RGB conversion clips at 255; scale like the torchvision path.
            gray = (np.array(image, dtype=np.uint16) >> 8).astype(np.uint8)
            array = np.repeat(gray[:, :, None], 3, axis=2)
        else:
            if image.mode in ("P", "PA"):
                # Via RGBA: a palette with transparency warns when converted straight to RGB.
                image = image.convert("RGBA")
            if image.mode != "RGB":
                image = image.convert("RGB")  # L, LA, RGBA, CMYK, ...: alpha is dropped
            array = np.array(image)  # a writable copy; torch warns on read-only arrays
    image_chw = torch.from_numpy(array).permute(2, 0, 1)
    return image_chw.contiguous() if contiguous else image_chw


def decode_rgb(path: str | os.PathLike[str], *, contiguous: bool = True) -> Tensor:
    """Decode an image file into a uint8 ``(3, H, W)`` RGB tensor.

    Grayscale, palette and alpha images become 3-channel RGB (alpha is dropped), EXIF
    orientation is applied, 16-bit PNGs keep their high byte and animated images their first
    frame. PNG/JPEG/WebP/GIF use torchvision's native decoders, other formats (and any file
    torchvision rejects) use PIL.

    ``contiguous=False`` skips the final HWC -> CHW copy: the result is then a CHW view of an
    HWC (channels-last) buffer, with the same values. For a transform that crops and resizes
    right away this saves the copy (~0.15 ms for a 500x375 photo) and makes torch's uint8
    antialiased resize faster, as that kernel works on channels-last data
    (docs/benchmarks.md, "Data pipeline").

    Raises:
        OSError, ValueError, SyntaxError, RuntimeError: from the decoders; the dataset turns
            these into a DatasetError naming the file.
    """
    path = os.fspath(path)
    if os.path.splitext(path)[1].lower() in _TORCHVISION_EXTENSIONS:
        try:
            return _from_torchvision(path, contiguous)
        except RuntimeError as tv_error:
            try:
                return _from_pil(path, contiguous)
            except Exception as pil_error:
                raise pil_error from tv_error
    return _from_pil(path, contiguous)
