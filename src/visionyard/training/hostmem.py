"""Host-memory allocator tuning for training on the CPU.

A CPU training step allocates several tensors larger than glibc's mmap threshold (32 MiB at
most, 128 KiB to start): a float32 batch of 64 x 3 x 224 x 224 is 38.5 MB. glibc serves each
such allocation with fresh ``mmap`` pages and unmaps them on free, so every batch pays a page
fault (and the kernel's zeroing) per 4 KiB touched: normalising one such batch took 19 ms instead
of 6 ms on the benchmark machine (docs/benchmarks.md, "Data pipeline"). Raising the mmap and trim
thresholds keeps freed batch buffers in the heap for the next batch, which is what PyTorch's CPU
tuning guide gets by preloading jemalloc or tcmalloc, without a new dependency.

The setting is process-wide and only on glibc (Linux); elsewhere this does nothing. The cost is
that the process's resident memory stays at its high-water mark instead of shrinking between
steps.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys

# From glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# Above any batch or activation a CPU run allocates per step; well below what would let one
# free() keep gigabytes around.
_THRESHOLD = 512 * 1024 * 1024


@functools.cache
def keep_large_buffers_in_heap() -> bool:
    """Raise glibc's mmap/trim thresholds once per process; True when they were set."""
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # Trim first: with only the mmap threshold raised, free() would hand the freed top of the
    # heap straight back to the kernel and the next batch would fault its pages in again.
    trimmed = mallopt(_M_TRIM_THRESHOLD, _THRESHOLD) == 1
    mapped: bool = mallopt(_M_MMAP_THRESHOLD, _THRESHOLD) == 1
    return trimmed and mapped
