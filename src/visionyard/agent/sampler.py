"""System metrics an agent samples while its trainer runs: the trainer's process tree, host RAM,
and its GPUs (through NVML)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from types import ModuleType
from typing import Any

import psutil

from visionyard.nvml import nvml

_MIB = 1024 * 1024


class SystemSampler:
    """Samples the trainer's process tree and the agent's GPUs.

    Keep one sampler for the life of an agent: psutil measures a process's CPU use between two
    calls on the same Process object, so the objects are kept from one sample to the next, and
    NVML stays initialised until `close()`.
    """

    def __init__(self, gpu_indices: Sequence[int]) -> None:
        self._gpu_indices = list(gpu_indices)
        self._procs: dict[int, psutil.Process] = {}
        self._exit_stack = ExitStack()
        self._nvml: ModuleType | None = (
            self._exit_stack.enter_context(nvml()) if self._gpu_indices else None
        )
        self._gpu_handles: dict[int, Any] = {}

    def close(self) -> None:
        self._exit_stack.close()
        self._nvml = None
        self._gpu_handles.clear()

    def __enter__(self) -> SystemSampler:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def sample(self, root_pid: int | None) -> dict[str, float]:
        """Metrics now. "cpu_percent" (100 = one core, summed over the tree, measured since the
        previous sample, so a process's first sample counts 0) and "rss_mb" (summed, so pages
        shared by forked workers count more than once) appear only while `root_pid` is alive;
        "host_ram_percent" and the "gpu{i}_…" keys (physical index i) whenever they can be read.
        """
        metrics: dict[str, float] = {"host_ram_percent": float(psutil.virtual_memory().percent)}
        if root_pid is not None:
            metrics.update(self._sample_tree(root_pid))
        else:
            self._procs.clear()
        metrics.update(self._sample_gpus())
        return metrics

    def _tree(self, root_pid: int) -> list[psutil.Process]:
        """The live processes of the tree, reusing the objects from the previous sample."""
        try:
            root = psutil.Process(root_pid)
            if root.status() == psutil.STATUS_ZOMBIE:  # exited, not yet reaped by the agent
                return []
            found = [root, *root.children(recursive=True)]
        except psutil.Error:
            return []
        tree = []
        for proc in found:
            known = self._procs.get(proc.pid)
            # Process equality includes the start time, so a reused pid gets a fresh object.
            tree.append(known if known is not None and known == proc else proc)
        return tree

    def _sample_tree(self, root_pid: int) -> dict[str, float]:
        cpu = rss = 0.0
        alive: dict[int, psutil.Process] = {}
        for proc in self._tree(root_pid):
            try:
                with proc.oneshot():
                    cpu += proc.cpu_percent(interval=None)
                    rss += proc.memory_info().rss
            except psutil.Error:  # vanished mid-sample, became a zombie, or is not ours to read
                continue
            alive[proc.pid] = proc
        self._procs = alive
        if not alive:
            return {}
        return {"cpu_percent": cpu, "rss_mb": rss / _MIB}

    def _gpu_handle(self, pynvml: ModuleType, index: int) -> Any:
        if index not in self._gpu_handles:
            self._gpu_handles[index] = pynvml.nvmlDeviceGetHandleByIndex(index)
        return self._gpu_handles[index]

    def _sample_gpus(self) -> dict[str, float]:
        pynvml = self._nvml
        if pynvml is None:
            return {}
        metrics: dict[str, float] = {}
        for index in self._gpu_indices:
            try:
                handle = self._gpu_handle(pynvml, index)
                util = pynvml.nvmlDeviceGetUtilizationRates(handle)
                memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            except (pynvml.NVMLError, pynvml.NVMLLibraryMismatchError):
                continue  # a GPU that stopped answering: leave it out rather than stop sampling
            metrics[f"gpu{index}_util_percent"] = float(util.gpu)
            metrics[f"gpu{index}_mem_used_mb"] = memory.used / _MIB
            metrics[f"gpu{index}_mem_percent"] = 100.0 * memory.used / memory.total
        return metrics
