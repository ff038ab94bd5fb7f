"""Agent settings from the environment (VISIONYARD_AGENT_*, GPU_INDEX) and the command line.

Shared settings (database URL, data/runs/datasets/models roots, lease length) come from
`visionyard.settings.Settings`, so an agent and its dashboard read the same variables.
"""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class AgentOptions(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="VISIONYARD_AGENT_",
        extra="ignore",
        validate_by_name=True,
        validate_by_alias=True,
    )

    name: str | None = Field(None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$")
    token: SecretStr | None = Field(None, description="An API token (kind agent, or an admin's).")
    gpu_index: str | None = Field(
        None,
        validation_alias=AliasChoices("GPU_INDEX", "VISIONYARD_AGENT_GPU_INDEX"),
        description="Physical GPU index (or comma-separated indices for multi-GPU runs).",
    )
    stop_grace_seconds: float = Field(30.0, gt=0, description="SIGTERM -> SIGKILL grace.")
    max_log_bytes: int = Field(
        8 * 1024 * 1024,
        ge=1024,
        description="Stored trainer output per run, over all its attempts.",
    )
    sample_interval: float = Field(5.0, gt=0, description="System metrics sampling period.")
    idle_wait: float = Field(5.0, gt=0, description="Longest idle wait between claim attempts.")


def parse_gpu_indices(text: str) -> tuple[int, ...]:
    """ "0" or "0,1" -> (0,) / (0, 1); ValueError with a message for anything else."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts or not all(p.isdigit() for p in parts):
        raise ValueError(f"GPU index must be a number or comma-separated numbers, got {text!r}")
    indices = tuple(int(p) for p in parts)
    if len(set(indices)) != len(indices):
        raise ValueError(f"GPU indices repeat: {text!r}")
    return indices
