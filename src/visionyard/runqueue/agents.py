"""Agent registry: registration (upsert by name), heartbeat, drain flag."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from visionyard.db.models import Agent, Run, RunState
from visionyard.runqueue._db import DB, in_transaction, now_or, upsert_insert
from visionyard.runqueue.errors import UnknownAgent
from visionyard.runqueue.feed import AGENTS_TOPIC, emit


def _unknown(agent_id: int) -> UnknownAgent:
    return UnknownAgent(
        f"agent {agent_id} is not registered (it may have been deleted); restart the agent so "
        "that it registers again"
    )


def register_agent(
    db: DB,
    *,
    name: str,
    hostname: str,
    device: str,
    gpus: Sequence[Any],
    version: str,
    now: float | None = None,
) -> int:
    """Create or update the agent called `name` and return its id.

    Re-registering (an agent restarted) refreshes its host facts and heartbeat but keeps the
    `drained` flag: an operator's "drain this agent" survives a restart.
    """
    ts = now_or(now)
    values = {
        "name": name,
        "hostname": hostname,
        "device": device,
        "gpus": list(gpus),
        "version": version,
        "last_heartbeat_at": ts,
    }

    def work(session: Session) -> int:
        insert = upsert_insert(session, Agent.__table__).values(**values)
        stmt = insert.on_conflict_do_update(
            index_elements=["name"],
            set_={k: insert.excluded[k] for k in ("hostname", "device", "gpus", "version")}
            | {"last_heartbeat_at": ts},
        ).returning(Agent.__table__.c.id, Agent.__table__.c.drained)
        agent_id, drained = session.execute(stmt).one()
        emit(
            session,
            AGENTS_TOPIC,
            [{"agent_id": agent_id, "name": name, "event": "registered", "drained": drained}],
            ts,
        )
        return int(agent_id)

    return in_transaction(db, work)


def agent_heartbeat(db: DB, agent_id: int, *, now: float | None = None) -> bool:
    """Record that the agent is alive; returns its `drained` flag (a drained agent finishes or
    hands back its run and claims nothing new)."""
    ts = now_or(now)

    def work(session: Session) -> bool:
        drained = session.execute(
            update(Agent)
            .where(Agent.id == agent_id)
            .values(last_heartbeat_at=ts)
            .returning(Agent.drained)
        ).scalar_one_or_none()
        if drained is None:
            raise _unknown(agent_id)
        return bool(drained)

    return in_transaction(db, work)


def set_agent_drained(db: DB, agent_id: int, drained: bool, *, now: float | None = None) -> None:
    """Drain (stop handing work to) or un-drain an agent. Its current run is not touched: the
    agent sees the flag on its next heartbeat and hands the run back with `requeue_for_drain`."""
    ts = now_or(now)

    def work(session: Session) -> None:
        name = session.execute(
            update(Agent).where(Agent.id == agent_id).values(drained=drained).returning(Agent.name)
        ).scalar_one_or_none()
        if name is None:
            raise _unknown(agent_id)
        event = "drained" if drained else "undrained"
        emit(
            session,
            AGENTS_TOPIC,
            [{"agent_id": agent_id, "name": name, "event": event, "drained": drained}],
            ts,
        )

    in_transaction(db, work)


def agent_name(session: Session, agent_id: int) -> str | None:
    return session.execute(select(Agent.name).where(Agent.id == agent_id)).scalar_one_or_none()


def runs_held_by(db: DB, agent_id: int) -> list[tuple[int, int]]:
    """(run id, attempt) of the runs still marked running on this agent. Called by an agent as
    it starts: any such run was left behind by an earlier life of the same agent (it crashed)."""

    def work(session: Session) -> list[tuple[int, int]]:
        rows = session.execute(
            select(Run.id, Run.attempt).where(
                Run.agent_id == agent_id, Run.state == RunState.running
            )
        ).all()
        return [(int(run_id), int(attempt)) for run_id, attempt in rows]

    return in_transaction(db, work)
