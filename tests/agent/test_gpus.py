"""GPU discovery: NVML with a torch.cuda fallback. CPU machines see no GPUs and no NVML; the
`gpu` tests check the real thing on a CUDA machine."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import torch

from visionyard.agent.gpus import GpuInfo, _discover_torch, discover_gpus, gpu_compute_pids
from visionyard.nvml import nvml

requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def test_discover_gpus_numbers_every_gpu_of_this_machine() -> None:
    gpus = discover_gpus()
    assert [gpu.index for gpu in gpus] == list(range(len(gpus)))
    with nvml() as pynvml:
        nvml_available = pynvml is not None
    if torch.cuda.is_available():
        # NVML lists physical GPUs, CUDA only the visible ones.
        assert len(gpus) >= torch.cuda.device_count()
    elif not nvml_available:
        assert gpus == []


def test_gpu_info_as_json_round_trips() -> None:
    info = GpuInfo(
        index=1, name="NVIDIA H100", memory_total_mb=81559, uuid="GPU-1", compute_capability="9.0"
    )
    stored = json.loads(json.dumps(info.as_json()))
    assert stored == {
        "index": 1,
        "name": "NVIDIA H100",
        "memory_total_mb": 81559,
        "uuid": "GPU-1",
        "compute_capability": "9.0",
    }
    assert GpuInfo(**stored) == info


def test_gpu_compute_pids_answers_none_or_a_set() -> None:
    pids = gpu_compute_pids(0)
    with nvml() as pynvml:
        if pynvml is None:
            assert pids is None
    assert pids is None or all(isinstance(pid, int) for pid in pids)


def test_gpu_compute_pids_of_a_missing_gpu_cannot_check() -> None:
    assert gpu_compute_pids(10_000) is None


# --------------------------------------------------------------------------- CUDA


@pytest.mark.gpu
@requires_cuda
def test_real_gpu_identity() -> None:
    gpus = discover_gpus()
    assert gpus, "CUDA sees a GPU but discovery found none"
    for gpu in gpus:
        assert gpu.name
        assert gpu.memory_total_mb > 1000
        assert gpu.uuid.startswith("GPU-")
        assert re.fullmatch(r"\d+\.\d+", gpu.compute_capability)


@pytest.mark.gpu
@requires_cuda
@pytest.mark.skipif("CUDA_VISIBLE_DEVICES" in os.environ, reason="indices differ when masked")
def test_torch_fallback_agrees_with_nvml() -> None:
    by_nvml, by_torch = discover_gpus(), _discover_torch()
    assert len(by_torch) == len(by_nvml)
    for a, b in zip(by_nvml, by_torch, strict=True):
        assert (a.index, a.name, a.uuid, a.compute_capability) == (
            b.index,
            b.name,
            b.uuid,
            b.compute_capability,
        )
        # CUDA reports the memory it can use, NVML the board's total; close, not equal.
        assert abs(a.memory_total_mb - b.memory_total_mb) < 0.1 * a.memory_total_mb


@pytest.mark.gpu
@requires_cuda
@pytest.mark.skipif("CUDA_VISIBLE_DEVICES" in os.environ, reason="indices differ when masked")
def test_own_process_appears_in_gpu_compute_pids() -> None:
    torch.ones(1024, device="cuda:0").sum().item()  # creates this process's context on GPU 0
    pids = gpu_compute_pids(0)
    assert pids is not None
    assert os.getpid() in pids


def test_the_torch_fallback_asks_torch_in_a_child_process() -> None:
    """The agent never runs a model: listing GPUs without NVML must not load torch (nor create
    a CUDA context) in the agent's own process."""
    code = (
        "import json, sys\n"
        "from visionyard.agent.gpus import _discover_torch\n"
        "gpus = _discover_torch()\n"
        "print(json.dumps([len(gpus), 'torch' in sys.modules]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False
    )
    assert proc.returncode == 0, proc.stderr
    count, torch_loaded = json.loads(proc.stdout.splitlines()[-1])
    assert not torch_loaded
    assert count == (torch.cuda.device_count() if torch.cuda.is_available() else 0)
