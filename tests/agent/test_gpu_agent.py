"""A GPU agent on a real GPU: NVML discovery, refusing to claim while a foreign process uses its
GPU, training on CUDA behind CUDA_VISIBLE_DEVICES, and GPU system metrics. Skipped without CUDA."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import torch

from tests.agent.platform import Platform
from visionyard.agent.gpus import discover_gpus, gpu_compute_pids
from visionyard.db.models import RunState

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

HOG = (
    "import torch, time; x = torch.ones(1 << 20, device='cuda'); "
    "print('ready', flush=True); time.sleep(600)"
)


def test_gpu_agent_waits_for_a_foreign_process_then_trains_on_its_gpu(
    sqlite_platform: Platform,
) -> None:
    p = sqlite_platform
    gpu = discover_gpus()[0]
    hog = subprocess.Popen([sys.executable, "-c", HOG], stdout=subprocess.PIPE, text=True)
    try:
        assert hog.stdout is not None and hog.stdout.readline().strip() == "ready"
        pids = gpu_compute_pids(gpu.index)
        if pids is not None and os.getpid() in pids:
            pytest.skip(
                "this pytest process holds a CUDA context (it would count as foreign); "
                "run this test in its own pytest invocation"
            )
        if pids is None or hog.pid not in pids:
            pytest.skip(f"NVML cannot see this container's GPU processes (saw {pids})")
        run_id = p.enqueue(p.config(epochs=3), gpu_count=1)
        agent = p.start_agent("gpu", "--gpu-index", str(gpu.index), "--device", "auto")
        p.wait_for("the agent to refuse", lambda: "not claiming" in p.agent_log("gpu"), 60)
        time.sleep(2)
        assert p.run(run_id).state == RunState.queued
    finally:
        hog.kill()
        hog.wait()
        if hog.stdout is not None:
            hog.stdout.close()
    run = p.wait_state(run_id, "succeeded", "failed", timeout=300)
    assert run.state == RunState.succeeded, run.error
    env = (p.runs / f"{run_id}-run" / "env.json").read_text()
    assert "cuda" in env.lower()
    names = {name for _, name, _ in p.metric_points(run_id)}
    assert f"system/gpu{gpu.index}_util_percent" in names
    assert f"system/gpu{gpu.index}_mem_used_mb" in names
    assert agent.poll() is None
