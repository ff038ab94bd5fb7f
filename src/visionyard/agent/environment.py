"""The trainer's environment: an allowlist, never "the agent's environment minus some secrets".

The agent's own environment holds the database URL, the dashboard's secret key and API tokens.
A denylist would leak the next secret someone adds; an allowlist passes only what a PyTorch /
Hugging Face process needs to find its libraries, caches and devices (S14).
"""

from __future__ import annotations

from collections.abc import Mapping

#: variables passed through unchanged when the agent has them
PASSTHROUGH = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
        "TEMP",
        "TMP",
        "VIRTUAL_ENV",
        "PYTHONPATH",
        "LD_LIBRARY_PATH",
        "CUDA_HOME",
        "CUDA_PATH",
        "CUDA_DEVICE_MAX_CONNECTIONS",
        "CUBLAS_WORKSPACE_CONFIG",
        "PYTORCH_CUDA_ALLOC_CONF",
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "HF_HOME",
        "HF_HUB_CACHE",
        "HF_HUB_OFFLINE",
        "HF_HUB_DISABLE_TELEMETRY",
        "HF_DATASETS_OFFLINE",
        "TRANSFORMERS_OFFLINE",
        "TORCH_HOME",
        "XDG_CACHE_HOME",
    }
)
#: prefixes passed through (locale and NCCL tuning; none of them carry credentials)
PASSTHROUGH_PREFIXES = ("LC_", "NCCL_")


def trainer_env(
    agent_env: Mapping[str, str],
    *,
    cuda_visible_devices: str,
    hf_token: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Build the environment of a trainer process from the agent's.

    `cuda_visible_devices` is always set ("" hides every GPU from a CPU run) so the trainer's
    CUDA context only ever sees the agent's devices; PCI bus order makes those indices the ones
    NVML reports. `hf_token` is added only when the run's model needs one.
    """
    env = {
        key: value
        for key, value in agent_env.items()
        if key in PASSTHROUGH or key.startswith(PASSTHROUGH_PREFIXES)
    }
    env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
    env["CUDA_VISIBLE_DEVICES"] = cuda_visible_devices
    env["PYTHONUNBUFFERED"] = "1"  # output reaches the agent line by line, not in 8 KiB chunks
    env["HF_HUB_DISABLE_TELEMETRY"] = "1"
    if hf_token:
        env["HF_TOKEN"] = hf_token
    env.update(extra or {})
    return env
