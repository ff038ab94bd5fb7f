"""Why a queued run has not started: the first question a user asks when nothing happens.

A queued run starts when an agent claims it: one that is alive (heartbeat within the liveness
window), not drained, serves at least the run's `gpu_count` GPUs and, if the run names a target
agent, is that agent. `AgentPool.waiting_for` names the first condition no agent meets and what
to do about it; it is None when some agent can claim the run now or once it finishes its current
run (the queue order decides which run that is).

The answer is advice computed at read time, never stored: agents come and go, and a run queued
before its agent starts is normal.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy.orm import Session

from visionyard.dashboard.repositories import agents as repo
from visionyard.dashboard.services.agents import alive_window, heartbeat_age
from visionyard.db.models import Run, RunState
from visionyard.settings import Settings


@dataclass(frozen=True)
class AgentSeat:
    """What the claim query checks about one agent."""

    id: int
    name: str
    alive: bool
    drained: bool
    capacity: int  # GPUs it serves: a run may ask for at most this many (0 for a CPU agent)
    seconds_since_heartbeat: float


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.0f} h ago"


def _gpus(n: int) -> str:
    return f"{n} GPU" if n == 1 else f"{n} GPUs"


@dataclass(frozen=True)
class AgentPool:
    seats: tuple[AgentSeat, ...]

    @classmethod
    def load(cls, session: Session, settings: Settings, now: float | None = None) -> AgentPool:
        """Every registered agent (a lab has a handful; one query per request)."""
        ts = time.time() if now is None else now
        window = alive_window(settings)
        seats = []
        for row in repo.claim_facts(session):
            age = heartbeat_age(row.last_heartbeat_at, ts)
            seats.append(
                AgentSeat(
                    id=row.id,
                    name=row.name,
                    alive=age <= window,
                    drained=row.drained,
                    capacity=len(row.gpus or []),
                    seconds_since_heartbeat=age,
                )
            )
        return cls(tuple(seats))

    def waiting_for(self, run: Run) -> str | None:
        if run.state != RunState.queued:
            return None
        if run.target_agent is not None:
            return self._target_blocker(run.target_agent, run.gpu_count)
        online = [s for s in self.seats if s.alive]
        if not online:
            return (
                "no agent is online: start one with `visionyard agent` "
                "(or the whole platform with `visionyard up`)"
            )
        serving = [s for s in online if not s.drained]
        if not serving:
            return (
                "every online agent is drained: un-drain one "
                "(POST /api/v1/agents/{id}/undrain) or start another"
            )
        most = max(s.capacity for s in serving)
        if run.gpu_count > most:
            cpu_only = " (CPU agents only take runs with gpu_count=0)" if most == 0 else ""
            return (
                f"it needs {_gpus(run.gpu_count)} but the online agents serve at most "
                f"{_gpus(most)}{cpu_only}: cancel it and queue the config again with "
                f"gpu_count={most}, or start an agent with more GPUs"
            )
        return None

    def _target_blocker(self, name: str, gpu_count: int) -> str | None:
        seat = next((s for s in self.seats if s.name == name), None)
        if seat is None:
            return (
                f"it targets agent {name!r}, which has never registered: start it with "
                f"`visionyard agent --name {name}`, or cancel the run and queue it without one"
            )
        if not seat.alive:
            return (
                f"it targets agent {name!r}, which is offline "
                f"(last heartbeat {_ago(seat.seconds_since_heartbeat)}): start that agent again"
            )
        if seat.drained:
            return (
                f"it targets agent {name!r}, which is drained: un-drain it "
                f"(POST /api/v1/agents/{seat.id}/undrain)"
            )
        if gpu_count > seat.capacity:
            return (
                f"it needs {_gpus(gpu_count)} but its target agent {name!r} serves "
                f"{_gpus(seat.capacity)}: cancel it and queue the config again with "
                f"gpu_count={seat.capacity} or without a target agent"
            )
        return None
