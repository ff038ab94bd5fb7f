"""Tests for visionyard.training.hostmem: glibc keeps batch-sized buffers in the heap."""

from __future__ import annotations

import ctypes
import resource
import sys

import pytest
import torch

from visionyard.training.hostmem import keep_large_buffers_in_heap


def _glibc() -> bool:
    try:
        ctypes.CDLL("libc.so.6").gnu_get_libc_version  # noqa: B018
    except (OSError, AttributeError):
        return False
    return True


def _faults_to_fill(numel: int) -> int:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    buffer = torch.empty(numel, dtype=torch.float32)
    buffer.fill_(1.0)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    del buffer
    return faults


@pytest.mark.skipif(not sys.platform.startswith("linux") or not _glibc(), reason="glibc only")
def test_freed_batch_buffers_are_reused_without_page_faults() -> None:
    assert keep_large_buffers_in_heap() is True
    assert keep_large_buffers_in_heap() is True  # once per process, then cached
    # 40 MB, a batch of 64 x 3 x 224 x 224 float32: above glibc's largest default mmap threshold
    # (32 MiB), so by default every such buffer is a fresh mapping whose ~9,800 pages fault in
    # as they are written. In the heap, the second and later buffers reuse freed memory.
    numel = 10_000_000
    pages = numel * 4 // 4096
    _faults_to_fill(numel)
    repeated = [_faults_to_fill(numel) for _ in range(3)]
    assert min(repeated) < pages // 10, repeated


def test_does_nothing_off_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    keep_large_buffers_in_heap.cache_clear()
    try:
        assert keep_large_buffers_in_heap() is False
    finally:
        keep_large_buffers_in_heap.cache_clear()
