"""GPU discovery for agents: NVML first, torch.cuda when NVML is unavailable.

NVML (the library behind nvidia-smi) reads the driver without creating a CUDA context, so an
agent that only looks at its GPU does not take memory on it or show up as a compute process.
NVML numbers GPUs physically and ignores CUDA_VISIBLE_DEVICES; the torch fallback numbers them
as CUDA sees them, i.e. the visible devices only, renumbered from 0. The fallback asks torch in
a child process: the agent never runs a model, and importing torch and initialising CUDA in it
would cost seconds at start and hold a CUDA context (GPU memory) for the agent's whole life.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, dataclass
from types import ModuleType
from typing import Any

from visionyard.errors import VisionyardError
from visionyard.nvml import nvml, nvml_errors

_MIB = 1024 * 1024
#: what the child process of `_discover_torch` runs: the visible CUDA devices as JSON
_TORCH_PROBE = """
import json, torch
gpus = []
if torch.cuda.is_available():
    for index in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(index)
        gpus.append({
            "index": index,
            "name": props.name,
            "memory_total_bytes": int(props.total_memory),
            "uuid": str(getattr(props, "uuid", "") or ""),
            "compute_capability": f"{props.major}.{props.minor}",
        })
print(json.dumps(gpus))
"""
_TORCH_PROBE_TIMEOUT_S = 300


@dataclass(frozen=True)
class GpuInfo:
    """One GPU as an agent reports it (stored in the Agent.gpus JSON column)."""

    index: int
    name: str
    memory_total_mb: int
    uuid: str  # "GPU-…" as nvidia-smi prints it; "" if unknown
    compute_capability: str  # "major.minor", e.g. "9.0"

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _text(value: str | bytes) -> str:
    # Older pynvml releases return bytes for names and UUIDs.
    return value.decode() if isinstance(value, bytes) else value


def _discover_nvml(pynvml: ModuleType) -> list[GpuInfo]:
    gpus = []
    for index in range(pynvml.nvmlDeviceGetCount()):
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        major, minor = pynvml.nvmlDeviceGetCudaComputeCapability(handle)
        gpus.append(
            GpuInfo(
                index=index,
                name=_text(pynvml.nvmlDeviceGetName(handle)),
                memory_total_mb=int(pynvml.nvmlDeviceGetMemoryInfo(handle).total // _MIB),
                uuid=_text(pynvml.nvmlDeviceGetUUID(handle)),
                compute_capability=f"{major}.{minor}",
            )
        )
    return gpus


def _probe_failed(detail: str) -> VisionyardError:
    return VisionyardError(
        "cannot list this machine's GPUs: NVML is unavailable and asking torch failed; install "
        "the NVIDIA driver's NVML, or check that this Python environment imports torch "
        f"(`python -c 'import torch'`), or start the agent with --device cpu:\n{detail}"
    )


def _discover_torch() -> list[GpuInfo]:
    """Visible CUDA devices as torch numbers them, asked in a child process (see the module
    docstring); it initialises the CUDA runtime, which NVML avoids: hence only the fallback."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", _TORCH_PROBE],
            capture_output=True,
            text=True,
            timeout=_TORCH_PROBE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise _probe_failed(str(exc)) from None
    if done.returncode != 0:
        raise _probe_failed(done.stderr[-2000:].strip())
    gpus = []
    for found in json.loads(done.stdout.splitlines()[-1]):
        uuid = found["uuid"]
        if uuid and not uuid.startswith(("GPU-", "MIG-")):
            uuid = f"GPU-{uuid}"  # torch prints the bare UUID; NVML and nvidia-smi prefix it
        gpus.append(
            GpuInfo(
                index=found["index"],
                name=found["name"],
                memory_total_mb=found["memory_total_bytes"] // _MIB,
                uuid=uuid,
                compute_capability=found["compute_capability"],
            )
        )
    return gpus


def discover_gpus() -> list[GpuInfo]:
    """Every GPU on this machine; [] when there is none (never raises for that).

    NVML indices are physical (CUDA_VISIBLE_DEVICES is ignored); without NVML the torch fallback
    lists only the visible devices, numbered as CUDA numbers them.
    """
    with nvml() as pynvml:
        if pynvml is not None:
            try:
                return _discover_nvml(pynvml)
            except nvml_errors(pynvml):
                pass  # a driver that answers init but not queries: let CUDA speak instead
    return _discover_torch()


def _compute_processes(pynvml: ModuleType, handle: Any) -> list[Any]:
    processes: list[Any]
    try:
        processes = pynvml.nvmlDeviceGetComputeRunningProcesses(handle)
    except nvml_errors(pynvml):
        # Drivers older than this pynvml lack the _v3 call that the unversioned name uses.
        processes = pynvml.nvmlDeviceGetComputeRunningProcesses_v2(handle)
    return processes


def gpu_compute_pids(index: int) -> set[int] | None:
    """PIDs of the compute processes on physical GPU `index`; None when NVML cannot tell.

    None means "cannot check", never "no processes". In a container without the host's PID
    namespace the driver may report host PIDs, which do not match the PIDs seen inside.
    """
    with nvml() as pynvml:
        if pynvml is None:
            return None
        try:
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            return {int(proc.pid) for proc in _compute_processes(pynvml, handle)}
        except nvml_errors(pynvml):
            return None
