"""Tests for visionyard.training.workers: the worker count of a config left to the machine."""

from __future__ import annotations

import os

import pytest
import torch

from visionyard.training.workers import (
    MAX_AUTO_WORKERS,
    choose_num_workers,
    gpus_on_host,
    usable_cores,
)

CPU = torch.device("cpu")
CUDA = torch.device("cuda", 0)


def test_a_count_in_the_config_is_used_as_it_is() -> None:
    for requested in (0, 3, 32):
        for device in (CPU, CUDA):
            assert choose_num_workers(requested, device, cores=2, gpus=8).count == requested


def test_training_on_the_cpu_gets_no_workers_however_many_cores() -> None:
    for cores in (1, 2, 64):
        choice = choose_num_workers(None, CPU, cores=cores, gpus=0)
        assert choice.count == 0
        assert "CPU" in choice.reason


@pytest.mark.parametrize(
    ("cores", "gpus", "expected"),
    [
        (16, 1, 8),  # capped: 15 would mostly sit waiting
        (16, 4, 3),  # one agent per GPU: 4 cores each, one for the trainer itself
        (8, 1, 7),
        (2, 1, 1),
        (1, 1, 0),  # no core to spare: load in the trainer
        (4, 8, 0),  # more GPUs than cores
        (64, 0, 8),  # NVML said no GPUs (a CUDA device it cannot see): treat as one
    ],
)
def test_a_gpu_gets_its_share_of_the_cores_less_one(cores: int, gpus: int, expected: int) -> None:
    choice = choose_num_workers(None, CUDA, cores=cores, gpus=gpus)
    assert choice.count == expected
    assert choice.count <= MAX_AUTO_WORKERS
    assert f"{cores} usable cores" in choice.reason


def test_this_machine_is_counted() -> None:
    cores = usable_cores()
    assert 1 <= cores <= (os.cpu_count() or cores)
    assert gpus_on_host() >= (torch.cuda.device_count() if torch.cuda.is_available() else 0)
    # Left to the machine, a CUDA device's count is what the rule gives for this machine.
    machine = choose_num_workers(None, CUDA)
    assert machine.count == choose_num_workers(None, CUDA, cores=cores, gpus=gpus_on_host()).count
