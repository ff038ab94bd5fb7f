"""Reproducibility: seeding, RNG state capture/restore, environment capture.

What a run needs to be re-run (or resumed) bit-for-bit where the hardware allows: the seed, every
RNG stream's state at checkpoint time, the exact config (by canonical hash, see
`visionyard.training.confighash`) and the software and hardware it ran on (env.json).
"""

from __future__ import annotations

import contextlib
import os
import platform
import random
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

from visionyard.errors import CheckpointError, ConfigError

# Env vars recorded in env.json: exact names and prefixes that change how a run behaves.
_ENV_NAMES = frozenset(
    {
        "CUDA_VISIBLE_DEVICES", "CUDA_LAUNCH_BLOCKING", "CUBLAS_WORKSPACE_CONFIG",
        "OMP_NUM_THREADS", "MKL_NUM_THREADS", "PYTHONHASHSEED", "TOKENIZERS_PARALLELISM",
        "WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
        "GPU_INDEX", "DATASETS_DIR", "TB_IDLE_TIMEOUT",
    }
)  # fmt: skip
_ENV_PREFIXES = ("VISIONYARD_", "HF_", "TRANSFORMERS_", "TORCH_", "PYTORCH_", "NCCL_", "CUDA_")
# Never recorded, whatever the prefix: env.json is shown in the dashboard and shared with runs.
_SECRET_MARKERS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL", "AUTH")
_PACKAGES = {
    "torch": "torch",
    "torchvision": "torchvision",
    "transformers": "transformers",
    "torchmetrics": "torchmetrics",
    "safetensors": "safetensors",
    "numpy": "numpy",
    "pillow": "pillow",
    "visionyard": "visionyard",
}
_GIT_TIMEOUT_S = 5.0


# --------------------------------------------------------------------------- seeding / RNG


def seed_everything(seed: int, *, deterministic: bool = False) -> None:
    """Seed python `random`, numpy's global RNG and torch (CPU and every CUDA device).

    ``deterministic=True`` also makes PyTorch raise on ops without a deterministic implementation
    and pins cuDNN to deterministic kernels (no autotuning). It sets
    ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` unless already set: since CUDA 10.2 cuBLAS may split a GEMM
    differently between calls depending on which workspace it gets, and only a fixed workspace
    config makes it reproducible. cuBLAS reads the variable when its handle is created (the first
    GEMM after CUDA initialises), so it must be in the environment before any CUDA work; PyTorch
    refuses deterministic CUDA matmuls without it. ``deterministic=False`` turns these checks off
    again (PyTorch's default) so the choice is explicit either way.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ConfigError(f"seed must be an integer in [0, 2**32 - 1], got {seed!r}")
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device (lazily if CUDA is not initialised)
    torch.cuda.manual_seed_all(seed)
    torch.use_deterministic_algorithms(deterministic, warn_only=False)
    torch.backends.cudnn.deterministic = deterministic
    if deterministic:
        torch.backends.cudnn.benchmark = False


def capture_rng_state() -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (JSON-able python+numpy state, tensor state {"torch": ByteTensor, "cuda": [...]}).

    The JSON part goes into a checkpoint's state.json, the tensor part into training_state.pt.
    CUDA states are captured only once CUDA is initialised: querying them earlier would create a
    CUDA context (hundreds of MB) for a run that may never use the GPU.
    """
    version, internal, gauss_next = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    json_state = {
        "python": {"version": version, "state": list(internal), "gauss_next": gauss_next},
        "numpy": {
            "bit_generator": str(kind),
            "keys": [int(k) for k in keys],
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
    }
    cuda_states: list[torch.Tensor] = []
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        cuda_states = list(torch.cuda.get_rng_state_all())
    return json_state, {"torch": torch.get_rng_state(), "cuda": cuda_states}


def restore_rng_state(json_state: Mapping[str, Any], tensor_state: Mapping[str, Any]) -> None:
    """Put back what `capture_rng_state` returned (e.g. read from a checkpoint)."""
    try:
        py = json_state["python"]
        random.setstate((int(py["version"]), tuple(int(x) for x in py["state"]), py["gauss_next"]))
        npy = json_state["numpy"]
        np.random.set_state(
            (
                str(npy["bit_generator"]),
                np.asarray(npy["keys"], dtype=np.uint32),
                int(npy["pos"]),
                int(npy["has_gauss"]),
                float(npy["cached_gaussian"]),
            )
        )
        torch.set_rng_state(tensor_state["torch"].to("cpu", torch.uint8))
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as exc:
        raise CheckpointError(
            f"saved RNG state is malformed ({type(exc).__name__}: {exc}); the checkpoint was not "
            "written by this version of Visionyard or is damaged"
        ) from None
    cuda_states = list(tensor_state.get("cuda") or [])
    # A checkpoint from a GPU run resumed on CPU (or on fewer GPUs) restores what it can: the
    # CUDA streams do not exist here, so there is nothing to restore them into.
    if cuda_states and torch.cuda.is_available():
        for index, state in enumerate(cuda_states[: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(state.to("cpu", torch.uint8), index)


# --------------------------------------------------------------------------- environment capture


def _git(cwd: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_S,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"},
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None  # git missing, cwd gone, or a hung filesystem: record "unknown", never crash
    return proc.stdout.strip() if proc.returncode == 0 else None


def git_info(path: Path) -> dict[str, Any] | None:
    """{root, commit, branch, dirty} of the git work tree holding `path`, or None if there is none.

    ``dirty`` means tracked files differ from the commit (untracked files do not count).
    """
    path = Path(path)
    if not path.is_dir():
        return None
    root = _git(path, "rev-parse", "--show-toplevel")
    if root is None:
        return None
    commit = _git(path, "rev-parse", "HEAD")  # None in a repo without commits
    branch = _git(path, "rev-parse", "--abbrev-ref", "HEAD")
    status = _git(path, "status", "--porcelain", "--untracked-files=no")
    return {
        "root": root,
        "commit": commit,
        "branch": None if branch in (None, "HEAD") else branch,  # "HEAD" = detached
        "dirty": None if status is None else bool(status),
    }


def _is_secret_name(name: str) -> bool:
    upper = name.upper()
    return any(marker in upper for marker in _SECRET_MARKERS)


def _relevant_env() -> dict[str, str]:
    return {
        name: value
        for name, value in sorted(os.environ.items())
        if (name in _ENV_NAMES or name.startswith(_ENV_PREFIXES)) and not _is_secret_name(name)
    }


def _redact_argv(argv: Sequence[str]) -> list[str]:
    """Hide values of secret-looking options (``--hf-token X``, ``--api-key=X``) in argv."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append("***")
            hide_next = False
        elif arg.startswith("-") and _is_secret_name(arg):
            if "=" in arg:
                out.append(arg.split("=", 1)[0] + "=***")
            else:
                out.append(arg)
                hide_next = True
        else:
            out.append(arg)
    return out


def _versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for key, dist in _PACKAGES.items():
        try:
            versions[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[key] = None
    versions["torch_runtime"] = torch.__version__
    return versions


def _cuda_info() -> dict[str, Any]:
    available = torch.cuda.is_available()
    info: dict[str, Any] = {
        "available": available,
        "cuda_version": torch.version.cuda,
        "cudnn_version": None,
        "gpus": [],
    }
    with contextlib.suppress(RuntimeError):
        info["cudnn_version"] = torch.backends.cudnn.version() if available else None
    if available:
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            info["gpus"].append(
                {
                    "index": index,
                    "name": props.name,
                    "total_memory_bytes": int(props.total_memory),
                    "capability": f"{props.major}.{props.minor}",
                }
            )
    return info


def environment_info(*, seed: int, devices: Sequence[str] = ()) -> dict[str, Any]:
    """Everything env.json records about where and how a run executed (JSON-serialisable).

    Secrets are never included: env vars are an allow-list filtered again by name (anything with
    TOKEN, SECRET, PASSWORD, KEY... is dropped) and secret-looking argv values are masked.
    """
    import visionyard

    try:
        affinity: int | None = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = None
    return {
        "timestamp_utc": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "seed": seed,
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "platform": {
            "platform": platform.platform(),
            "system": platform.system(),
            "release": platform.release(),
            "machine": platform.machine(),
        },
        "hostname": socket.gethostname(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": affinity,
        "torch_num_threads": torch.get_num_threads(),
        "versions": _versions(),
        "cuda": _cuda_info(),
        "devices": [str(d) for d in devices],
        "git": {
            "cwd": git_info(Path.cwd()),
            "visionyard": git_info(Path(visionyard.__file__).resolve().parent),
        },
        "argv": _redact_argv(sys.argv),
        "env": _relevant_env(),
    }
