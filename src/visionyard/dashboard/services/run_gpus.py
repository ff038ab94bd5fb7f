"""How many GPUs a run asks for when it is queued without `gpu_count`: what the platform can serve.

The rule (the API's `gpu_count` description states it too):

- the config's `device` is `cpu`: 0 GPUs;
- the config's `device` is `cuda` or `cuda:N`: 1 GPU (the config itself asks for one);
- the config's `device` is `auto` (the default): 1 GPU if any registered agent serves a GPU,
  otherwise 0, so that a CPU-only platform runs it on its CPU agents.

An explicit `gpu_count` is kept as given; when no online agent can serve it, the run's
`waiting_for` says so. The default used to be 1 whatever the platform, and a CPU agent takes only
runs that need no GPU, so a run queued with defaults on a CPU-only platform never started.

A run with 0 GPUs is not kept off a GPU: a GPU agent that claims it gives the trainer its GPU.
Registered agents count whether or not they are online right now: a GPU machine whose agents are
restarting must not turn the runs queued meanwhile into CPU runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from visionyard.dashboard.repositories import agents as agents_repo


def gpu_count_for(device: str, any_gpu_agent: bool) -> int:
    """The default GPU count for a config's `device` on a platform with or without GPU agents."""
    if device == "cpu":
        return 0
    if device.startswith("cuda"):
        return 1
    return 1 if any_gpu_agent else 0


def default_gpu_count(session: Session, snapshot: Mapping[str, Any]) -> int:
    """The GPU count for a run of `snapshot` queued without one."""
    device = str(snapshot.get("device") or "auto")
    any_gpu_agent = any(row.gpus for row in agents_repo.claim_facts(session))
    return gpu_count_for(device, any_gpu_agent)
