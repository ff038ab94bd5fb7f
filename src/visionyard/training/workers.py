"""How many DataLoader worker processes a run gets when its config leaves it to the machine.

Workers decode and augment images in parallel with the training step, so they pay when the step
runs elsewhere (a GPU) and the CPU cores would otherwise idle. On the CPU device the step's own
threads already use every core: workers only take cores from it, while each costs a process
start and a copy of the dataset's state (measured in docs/benchmarks.md, "Settings decided at
run time": on 2 cores no workers trains as fast as 2 once they persist, and 1.27x faster in
one-epoch runs, where their start dominates). With a GPU, the machine's cores are shared by one
training process per GPU (an agent per GPU, or DDP ranks), so each gets its share of the cores,
one of them left to its own main process, and at most ``MAX_AUTO_WORKERS``: past that a loader
rarely speeds up and each worker holds its own copy of the dataset's state.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from visionyard.nvml import nvml, nvml_errors

MAX_AUTO_WORKERS = 8


@dataclass(frozen=True)
class WorkerChoice:
    count: int
    reason: str  # for the run's log: why this many


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, which taskset and cgroups narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def gpus_on_host() -> int:
    """GPUs in the whole machine, not only the ones CUDA_VISIBLE_DEVICES lets this process see:
    an agent pinned to one GPU shares the CPU with the agents of the others."""
    with nvml() as pynvml:
        if pynvml is not None:
            try:
                return int(pynvml.nvmlDeviceGetCount())
            except nvml_errors(pynvml):
                pass  # a driver that answers init but not queries: ask CUDA instead
    return torch.cuda.device_count() if torch.cuda.is_available() else 1


def choose_num_workers(
    requested: int | None,
    device: torch.device,
    *,
    cores: int | None = None,
    gpus: int | None = None,
) -> WorkerChoice:
    """``requested`` as given, or (None) a count sized to ``device`` and the machine.

    ``cores`` and ``gpus`` default to this process's usable cores and the machine's GPUs.
    """
    if requested is not None:
        return WorkerChoice(requested, "set in the config")
    if device.type == "cpu":
        return WorkerChoice(
            0, "auto: training on the CPU, whose cores the training step needs itself"
        )
    cores = usable_cores() if cores is None else cores
    sharing = max(1, gpus_on_host() if gpus is None else gpus)
    per_device = cores // sharing
    count = max(0, min(MAX_AUTO_WORKERS, per_device - 1))
    return WorkerChoice(
        count,
        f"auto: {cores} usable cores shared by {sharing} GPU(s) is {per_device} per "
        f"{device.type} device, one kept for the training process, at most {MAX_AUTO_WORKERS}",
    )
