"""Agent bodies: liveness and current run."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from visionyard.dashboard.schemas.common import Page, UtcDateTime
from visionyard.db.models import RunState


class AgentRun(BaseModel):
    id: int
    name: str
    state: RunState
    attempt: int


class AgentOut(BaseModel):
    id: int
    name: str
    hostname: str
    device: str
    gpus: list[Any]
    drained: bool
    version: str
    alive: bool = Field(
        description="Last heartbeat at most two heartbeat intervals ago "
        "(VISIONYARD_HEARTBEAT_INTERVAL, by default a third of VISIONYARD_LEASE_SECONDS)."
    )
    last_heartbeat_at: UtcDateTime | None
    seconds_since_heartbeat: float
    current_run: AgentRun | None
    created_at: UtcDateTime


class AgentPage(Page[AgentOut]):
    """A page of agents."""
