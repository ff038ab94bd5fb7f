"""NVML (the library behind nvidia-smi), opened safely: absent on CPU machines and macOS.

NVML reads the driver without creating a CUDA context, and numbers GPUs physically: it sees every
GPU of the machine whatever CUDA_VISIBLE_DEVICES says.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import ModuleType


def nvml_errors(pynvml: ModuleType) -> tuple[type[BaseException], ...]:
    # A pynvml newer than the driver raises NVMLLibraryMismatchError, which is no NVMLError.
    return (pynvml.NVMLError, pynvml.NVMLLibraryMismatchError)


@contextmanager
def nvml() -> Iterator[ModuleType | None]:
    """Yield the initialised `pynvml` module, or None when NVML cannot be used here.

    NVML counts its initialisations, so nesting this or entering it repeatedly is safe: each
    exit undoes only its own nvmlInit.
    """
    try:
        import pynvml
    except ImportError:
        yield None
        return
    try:
        pynvml.nvmlInit()
    except nvml_errors(pynvml):  # no driver / no libnvidia-ml.so (CPU machines, macOS)
        yield None
        return
    try:
        yield pynvml
    finally:
        with suppress(*nvml_errors(pynvml)):
            pynvml.nvmlShutdown()
