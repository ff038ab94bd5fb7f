"""Which uploads model testing decodes, and how, without trusting them.

An upload is decoded only by Pillow, only in an accepted format, and only after its header's
dimensions are within the pixel limit (a small file can declare a huge image: a decompression
bomb). Nothing is ever unpickled, so a pickle renamed ``.png`` is an unknown format like any
other. Each refusal names the file and what is wrong with it.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from visionyard.errors import InvalidRequestError, PayloadTooLargeError
from visionyard.text import printable

#: Pillow format names accepted; what browsers and cameras produce, nothing with a plug-in zoo
ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF")
ACCEPTED_TEXT = "PNG, JPEG, WebP, BMP or GIF"


@dataclass(frozen=True)
class UploadedImage:
    filename: str
    image: Image.Image  # RGB, decoded, EXIF orientation applied

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size


def _refuse(filename: str, problem: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"{printable(filename)}: {problem}", fields=[{"field": "files", "message": problem}]
    )


def check_size(filename: str, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise PayloadTooLargeError(
            f"{printable(filename)} is {size} bytes, more than the {max_bytes} bytes an image "
            "may have here (VISIONYARD_PREDICT_MAX_FILE_BYTES); resize or recompress it"
        )


def decode_image(filename: str, data: bytes, *, max_pixels: int) -> UploadedImage:
    """`data` as an RGB image, or InvalidRequestError naming what is wrong with it."""
    if not data:
        raise _refuse(filename, "the file is empty")
    try:
        with warnings.catch_warnings():
            # Pillow warns (DecompressionBombWarning) before our own limit below refuses.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(ACCEPTED_FORMATS))
    except UnidentifiedImageError:
        raise _refuse(filename, f"not an image in an accepted format ({ACCEPTED_TEXT})") from None
    except Image.DecompressionBombError:
        raise _refuse(filename, _too_many_pixels(None, max_pixels)) from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise _refuse(filename, f"the image header cannot be read ({_reason(exc)})") from None
    width, height = image.size
    if width < 1 or height < 1:
        raise _refuse(filename, f"the image declares an empty size ({width}x{height})")
    if width * height > max_pixels:
        raise _refuse(filename, _too_many_pixels((width, height), max_pixels))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.load()
            rgb = ImageOps.exif_transpose(image).convert("RGB")
    except Image.DecompressionBombError:
        raise _refuse(filename, _too_many_pixels((width, height), max_pixels)) from None
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as exc:
        raise _refuse(
            filename, f"the {image.format} image is damaged or truncated ({_reason(exc)})"
        ) from None
    return UploadedImage(filename=filename, image=rgb)


def _too_many_pixels(size: tuple[int, int] | None, max_pixels: int) -> str:
    declared = f" ({size[0]}x{size[1]})" if size else ""
    return (
        f"the image is larger{declared} than the {max_pixels} pixels accepted "
        "(VISIONYARD_PREDICT_MAX_PIXELS); downscale it"
    )


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return printable(text[:160])
