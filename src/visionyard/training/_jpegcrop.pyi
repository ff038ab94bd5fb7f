# Types of the C extension built from _jpegcrop.c (see jpeg_crop.py).
from typing_extensions import Buffer

LIBJPEG_VERSION: int

def decode_crop(
    jpeg: Buffer,
    top: int,
    left: int,
    height: int,
    width: int,
    out: Buffer,
    scale_denom: int = 1,
    /,
) -> None: ...
