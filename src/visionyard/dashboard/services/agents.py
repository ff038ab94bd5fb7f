"""Agents: liveness from heartbeats, the run each is working on, drain and un-drain.

An agent is alive while its last heartbeat is at most two heartbeat intervals old
(`settings.heartbeat_seconds`, a third of the lease by default): one late heartbeat is jitter, a
missing second one means the process is gone. Liveness used to wait three whole leases (90 s by
default), so a killed agent looked alive, and queued runs looked claimable, long after it died.
An agent keeps its heartbeats on time (its idle waits end at the next one); the reaper still
re-queues a dead agent's run only once the run's own lease expires.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from visionyard import runqueue
from visionyard.dashboard.repositories import agents as repo
from visionyard.dashboard.services.runs import in_request
from visionyard.db.models import Agent
from visionyard.errors import NotFoundError
from visionyard.settings import Settings

#: heartbeat intervals after the last heartbeat during which an agent still counts as alive
LIVENESS_HEARTBEATS = 2


@dataclass(frozen=True)
class AgentView:
    agent: Agent
    alive: bool
    seconds_since_heartbeat: float
    current_run: Any | None  # row (id, name, state, attempt)


def alive_window(settings: Settings) -> float:
    return LIVENESS_HEARTBEATS * settings.heartbeat_seconds


def heartbeat_age(agent_last_heartbeat_at: float, now: float) -> float:
    return max(0.0, now - agent_last_heartbeat_at)


def _views(
    session: Session, settings: Settings, agents: Sequence[Agent], now: float
) -> list[AgentView]:
    runs = repo.runs_by_id(
        session, {a.current_run_id for a in agents if a.current_run_id is not None}
    )
    window = alive_window(settings)
    return [
        AgentView(
            agent=a,
            alive=heartbeat_age(a.last_heartbeat_at, now) <= window,
            seconds_since_heartbeat=heartbeat_age(a.last_heartbeat_at, now),
            current_run=runs.get(a.current_run_id or 0),
        )
        for a in agents
    ]


def _agent_or_404(session: Session, agent_id: int) -> Agent:
    agent = repo.get(session, agent_id)
    if agent is None:
        raise NotFoundError(f"agent {agent_id} does not exist; list agents to find its id")
    return agent


def list_agents(
    session: Session,
    settings: Settings,
    *,
    alive: bool | None,
    drained: bool | None,
    q: str | None,
    sort: str,
    descending: bool,
    limit: int,
    offset: int,
    now: float | None = None,
) -> tuple[list[AgentView], int]:
    ts = time.time() if now is None else now
    agents, total = repo.list_page(
        session,
        alive_since=ts - alive_window(settings),
        alive=alive,
        drained=drained,
        q=q,
        sort=sort,
        descending=descending,
        limit=limit,
        offset=offset,
    )
    return _views(session, settings, agents, ts), total


def get_agent(session: Session, settings: Settings, agent_id: int) -> AgentView:
    return _views(session, settings, [_agent_or_404(session, agent_id)], time.time())[0]


def set_drained(session: Session, settings: Settings, agent_id: int, drained: bool) -> AgentView:
    """Drain: the agent claims nothing new and hands its current run back (re-queued without
    charging a restart) when it sees the flag on its next heartbeat. Un-drain reverses it."""
    _agent_or_404(session, agent_id)
    runqueue.set_agent_drained(in_request(session), agent_id, drained)
    return get_agent(session, settings, agent_id)
