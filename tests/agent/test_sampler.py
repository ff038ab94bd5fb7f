"""SystemSampler on real processes: a busy trainer stand-in with a busy child of its own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import psutil
import pytest
import torch

from visionyard.agent.gpus import nvml
from visionyard.agent.sampler import SystemSampler

requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

# Spins, and starts a child that spins too, like a trainer with a data-loader worker.
BUSY_TREE = """
import subprocess, sys
child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
print(child.pid, flush=True)
while True:
    pass
"""


@pytest.fixture
def busy_tree() -> Iterator[tuple[subprocess.Popen, int]]:
    """(root process, its child's pid); the whole group is killed afterwards."""
    root = subprocess.Popen(
        [sys.executable, "-c", BUSY_TREE],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # own process group, so one killpg ends root and child
    )
    try:
        assert root.stdout is not None
        child_pid = int(root.stdout.readline())
        yield root, child_pid
    finally:
        if root.poll() is None:
            os.killpg(root.pid, signal.SIGKILL)
        root.wait(timeout=30)
        assert root.stdout is not None
        root.stdout.close()


def test_samples_the_whole_process_tree(busy_tree: tuple[subprocess.Popen, int]) -> None:
    root, child_pid = busy_tree
    with SystemSampler([]) as sampler:
        sampler.sample(root.pid)  # first sample starts the CPU clocks
        time.sleep(0.5)
        metrics = sampler.sample(root.pid)
    root_only_rss_mb = psutil.Process(root.pid).memory_info().rss / (1024 * 1024)
    assert metrics["cpu_percent"] > 0
    assert metrics["rss_mb"] > root_only_rss_mb  # the child's memory counts too
    assert 0 < metrics["host_ram_percent"] <= 100
    assert psutil.pid_exists(child_pid)


def test_dead_trainer_leaves_host_metrics_only(busy_tree: tuple[subprocess.Popen, int]) -> None:
    root, _ = busy_tree
    with SystemSampler([]) as sampler:
        assert "cpu_percent" in sampler.sample(root.pid)
        os.killpg(root.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while psutil.Process(root.pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        unreaped = sampler.sample(root.pid)  # the agent may sample before it reaps
        root.wait(timeout=30)
        reaped = sampler.sample(root.pid)
    for metrics in (unreaped, reaped):
        assert "host_ram_percent" in metrics
        assert "cpu_percent" not in metrics
        assert "rss_mb" not in metrics


def test_no_trainer_and_no_gpus_gives_host_ram_only() -> None:
    with SystemSampler([]) as sampler:
        assert set(sampler.sample(None)) == {"host_ram_percent"}


def test_gpu_metrics_need_nvml() -> None:
    with SystemSampler([0]) as sampler:
        metrics = sampler.sample(None)
    with nvml() as pynvml:
        if pynvml is None:
            assert set(metrics) == {"host_ram_percent"}


@pytest.mark.gpu
@requires_cuda
def test_reports_gpu_metrics() -> None:
    torch.ones(1024, device="cuda:0").sum().item()  # some memory in use on GPU 0
    with SystemSampler([0]) as sampler:
        metrics = sampler.sample(os.getpid())
    assert 0 <= metrics["gpu0_util_percent"] <= 100
    assert metrics["gpu0_mem_used_mb"] > 0
    assert 0 < metrics["gpu0_mem_percent"] <= 100
    assert metrics["rss_mb"] > 0
