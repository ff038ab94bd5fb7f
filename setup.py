"""The one compiled part: partial JPEG decoding with the system's libjpeg(-turbo).

Everything else is declared in pyproject.toml. The extension is optional: without libjpeg's
headers (Debian: libjpeg-dev) the install still succeeds and the data pipeline decodes whole
JPEGs instead of only their random crops (slower, same results; see
src/visionyard/training/jpeg_crop.py).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "visionyard.training._jpegcrop",
            sources=["src/visionyard/training/_jpegcrop.c"],
            libraries=["jpeg"],
            extra_compile_args=["-O2"],
            optional=True,
        )
    ]
)
