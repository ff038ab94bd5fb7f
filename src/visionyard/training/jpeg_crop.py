"""Decode only the part of a JPEG a random crop keeps.

A random-resized crop of a photo keeps on average about half of it, and decoding is two thirds
of the data pipeline's time (docs/benchmarks.md, "Data pipeline"). ``decode_crop`` decodes a
rectangle with libjpeg-turbo's partial decompression (the ``_jpegcrop`` extension, built from
``_jpegcrop.c`` against the system's libjpeg when its headers are installed), in the image's
display orientation: the EXIF orientation is read here and the rectangle mapped onto the stored
pixels, then the decoded part is turned the way a full decode turns the whole image.

Everything here is an optimisation with the same result as a full decode followed by a crop:
when the extension is missing, the file is not a plain 8-bit greyscale or colour JPEG, or
libjpeg reports any problem, the caller decodes the whole file as before. The one exception is
opt-in: ``reduce`` decodes at 1/2, 1/4 or 1/8 of the size (libjpeg's DCT scaling, what PIL's
``Image.draft`` does), close to but not the pixels of a full-size decode scaled down.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from types import ModuleType

import torch
from torch import Tensor

_jpegcrop: ModuleType | None
try:
    from visionyard.training import _jpegcrop
except ImportError:  # built without libjpeg's headers: whole-file decoding only
    _jpegcrop = None

__all__ = [
    "NOT_BUILT",
    "REDUCTIONS",
    "JpegHeader",
    "available",
    "decode_crop",
    "read_header",
    "reduction_for",
]

#: The fractions of its size libjpeg can decode a JPEG at (1/n), largest first.
REDUCTIONS = (8, 4, 2)

#: Why JPEGs are decoded whole on this install, and what to do about it.
NOT_BUILT = (
    "the partial JPEG decoder is not built (install libjpeg's headers, e.g. "
    "apt-get install libjpeg-dev, then reinstall Visionyard)"
)

# Start-of-frame markers (frame type and entropy coding); C4 (DHT), C8 (JPG), CC (DAC) are not.
_START_OF_FRAME = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_START_OF_SCAN = 0xDA
_EXIF_ORIENTATION_TAG = 0x0112


def available() -> bool:
    """Whether the partial decoder was built (needs libjpeg's headers at install time)."""
    return _jpegcrop is not None


@dataclass(frozen=True)
class JpegHeader:
    """What a crop needs to know before decoding: the displayed size and how to get there."""

    stored_height: int
    stored_width: int
    orientation: int  # EXIF orientation, 1-8 (1: as stored)

    @property
    def height(self) -> int:
        """Height as displayed (after the EXIF orientation)."""
        return self.stored_width if self.orientation >= 5 else self.stored_height

    @property
    def width(self) -> int:
        """Width as displayed (after the EXIF orientation)."""
        return self.stored_height if self.orientation >= 5 else self.stored_width


def read_header(data: bytes) -> JpegHeader | None:
    """Size and EXIF orientation of an 8-bit, 1- or 3-component JPEG; None for anything else.

    Reads the markers before the first scan only. None is not an error: it means "decode this
    file in full" (CMYK, 12-bit, not a JPEG, truncated header, ...). Parsed here rather than by
    PIL, which reads the same from an ``Image.open`` + ``getexif`` at ~31 us a file against
    ~2 us, on a path that costs ~1.3 ms an image in all.
    """
    if not data.startswith(b"\xff\xd8"):
        return None
    orientation = 1
    pos, end = 2, len(data)
    while pos + 4 <= end:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            pos += 2
            continue
        (length,) = struct.unpack_from(">H", data, pos + 2)
        segment = data[pos + 4 : pos + 2 + length]
        if marker == 0xE1 and segment.startswith(b"Exif\x00\x00") and orientation == 1:
            orientation = _exif_orientation(segment[6:])
        elif marker in _START_OF_FRAME:
            if len(segment) < 6:
                return None
            precision, height, width, components = struct.unpack_from(">BHHB", segment)
            if precision != 8 or components not in (1, 3) or height == 0 or width == 0:
                return None
            return JpegHeader(height, width, orientation)
        elif marker == _START_OF_SCAN:
            return None  # a scan before any frame header: not a JPEG we understand
        pos += 2 + length
    return None


def _exif_orientation(tiff: bytes) -> int:
    """The orientation tag of IFD0 of an EXIF block (TIFF layout); 1 when absent or invalid."""
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return 1
    order = "<" if tiff[:2] == b"II" else ">"
    (ifd,) = struct.unpack_from(order + "I", tiff, 4)
    if ifd + 2 > len(tiff):
        return 1
    (count,) = struct.unpack_from(order + "H", tiff, ifd)
    for entry in range(ifd + 2, min(ifd + 2 + 12 * count, len(tiff) - 11), 12):
        tag, kind = struct.unpack_from(order + "HH", tiff, entry)
        if tag == _EXIF_ORIENTATION_TAG:
            if kind != 3:  # SHORT
                return 1
            (value,) = struct.unpack_from(order + "H", tiff, entry + 8)
            return value if 1 <= value <= 8 else 1
    return 1


def _stored_point(header: JpegHeader, y: int, x: int) -> tuple[int, int]:
    """The stored pixel shown at display pixel (y, x)."""
    last_y, last_x = header.stored_height - 1, header.stored_width - 1
    match header.orientation:
        case 2:
            return y, last_x - x
        case 3:
            return last_y - y, last_x - x
        case 4:
            return last_y - y, x
        case 5:
            return x, y
        case 6:
            return last_y - x, y
        case 7:
            return last_y - x, last_x - y
        case 8:
            return x, last_x - y
        case _:
            return y, x


def _orient(image: Tensor, orientation: int) -> Tensor:
    """Turn stored CHW pixels to display orientation (as torchvision's decoder does)."""
    match orientation:
        case 2:
            return image.flip(-1)
        case 3:
            return image.flip(-2, -1)
        case 4:
            return image.flip(-2)
        case 5:
            return image.transpose(-2, -1)
        case 6:
            return image.transpose(-2, -1).flip(-1)
        case 7:
            return image.transpose(-2, -1).flip(-2, -1)
        case 8:
            return image.transpose(-2, -1).flip(-2)
        case _:
            return image


def reduction_for(height: int, width: int, out_height: int, out_width: int) -> int:
    """The largest ``n`` in 8, 4, 2 such that a ``height`` x ``width`` crop decoded at 1/n still
    covers ``out_height`` x ``out_width`` pixels (so the resize after it only shrinks); 1 when
    none does."""
    for n in REDUCTIONS:
        if height // n >= out_height and width // n >= out_width:
            return n
    return 1


def decode_crop(
    data: bytes,
    header: JpegHeader,
    top: int,
    left: int,
    height: int,
    width: int,
    *,
    reduce: int = 1,
) -> Tensor:
    """uint8 ``(3, height, width)`` RGB pixels of the displayed rectangle, decoding only it.

    The result is a CHW view of an HWC buffer (like ``decode_rgb(contiguous=False)``). With
    ``reduce`` n (2, 4 or 8) the image is decoded at 1/n of its size and the result holds the
    reduced pixels covering the rectangle: about ``height / n`` x ``width / n``, its edges
    rounded outwards to whole reduced pixels (less than n full-size pixels each).

    Raises:
        RuntimeError: the extension is not built.
        ValueError: libjpeg reported an error or a warning, or the rectangle is outside the
            image; the caller decodes the whole file instead.
    """
    if _jpegcrop is None:
        raise RuntimeError(NOT_BUILT)
    y0, x0 = _stored_point(header, top, left)
    y1, x1 = _stored_point(header, top + height - 1, left + width - 1)
    stored_top, stored_left = min(y0, y1), min(x0, x1)
    stored_bottom, stored_right = max(y0, y1) + 1, max(x0, x1) + 1
    if reduce != 1:
        # libjpeg's reduced image is ceil(size / n) pixels; reduced pixel i covers full-size
        # pixels [i * n, (i + 1) * n).
        stored_top, stored_left = stored_top // reduce, stored_left // reduce
        stored_bottom = min(-(-stored_bottom // reduce), -(-header.stored_height // reduce))
        stored_right = min(-(-stored_right // reduce), -(-header.stored_width // reduce))
    stored_height, stored_width = stored_bottom - stored_top, stored_right - stored_left
    pixels = torch.empty((stored_height, stored_width, 3), dtype=torch.uint8)
    _jpegcrop.decode_crop(
        data, stored_top, stored_left, stored_height, stored_width, pixels.numpy(), reduce
    )
    return _orient(pixels.permute(2, 0, 1), header.orientation)
