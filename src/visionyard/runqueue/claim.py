"""Claiming the next run: one atomic UPDATE, never select-then-update.

PostgreSQL::

    UPDATE runs SET state='running', agent_id=:agent, lease_expires_at=:lease, claimed_at=:now
    WHERE id = (SELECT id FROM runs
                WHERE state='queued'
                  AND (target_agent IS NULL OR target_agent = <agent's name>)
                  AND gpu_count <= :capacity
                ORDER BY priority DESC, id ASC
                FOR UPDATE SKIP LOCKED LIMIT 1)
      AND state='queued' AND <agent not drained>
    RETURNING ...

SKIP LOCKED makes concurrent claimers take different rows without waiting for each other (R3).
SQLite has no row locks: the same conditional UPDATE runs inside the BEGIN IMMEDIATE transaction
every write transaction gets (visionyard.db.engine), which serialises claimers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import false, func, or_, select, update
from sqlalchemy.orm import Session

from visionyard.db.models import Agent, Run, RunState
from visionyard.runqueue._db import DB, as_datetime, in_transaction, now_or
from visionyard.runqueue.feed import RUNS_TOPIC, emit, run_change

DEFAULT_LEASE_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class ClaimedRun:
    """What an agent needs to start (or resume) the run it just claimed."""

    id: int
    project_id: int
    name: str
    attempt: int
    restarts: int
    max_restarts: int
    gpu_count: int
    config_snapshot: dict[str, Any]
    config_hash: str
    run_dir: str | None
    lease_expires_at: float


def claim_in_session(
    session: Session,
    *,
    agent_id: int,
    capacity: int,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    now: float | None = None,
) -> ClaimedRun | None:
    """`claim_next` inside a transaction the caller owns (and commits)."""
    ts = now_or(now)
    runs = Run.__table__
    agent = Agent.__table__
    agent_name = select(agent.c.name).where(agent.c.id == agent_id).scalar_subquery()
    agent_drained = select(agent.c.drained).where(agent.c.id == agent_id).scalar_subquery()
    pick = (
        select(runs.c.id)
        .where(
            runs.c.state == RunState.queued,
            or_(runs.c.target_agent.is_(None), runs.c.target_agent == agent_name),
            runs.c.gpu_count <= capacity,
        )
        .order_by(runs.c.priority.desc(), runs.c.id.asc())
        .limit(1)
        # Rendered on PostgreSQL only; SQLite ignores it (the IMMEDIATE lock serialises).
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    stmt = (
        update(runs)
        .where(
            runs.c.id == pick,
            runs.c.state == RunState.queued,
            # An unknown agent yields NULL here, so it claims nothing either.
            agent_drained == false(),
        )
        .values(
            state=RunState.running,
            agent_id=agent_id,
            lease_expires_at=ts + lease_seconds,
            claimed_at=as_datetime(ts),
            started_at=func.coalesce(runs.c.started_at, as_datetime(ts)),
            cancel_requested=False,
        )
        .returning(
            runs.c.id,
            runs.c.project_id,
            runs.c.name,
            runs.c.attempt,
            runs.c.restarts,
            runs.c.max_restarts,
            runs.c.gpu_count,
            runs.c.config_snapshot,
            runs.c.config_hash,
            runs.c.run_dir,
            runs.c.lease_expires_at,
        )
    )
    row = session.execute(stmt).mappings().one_or_none()
    if row is None:
        return None
    claimed = ClaimedRun(**row)
    name = session.execute(
        update(agent)
        .where(agent.c.id == agent_id)
        .values(current_run_id=claimed.id)
        .returning(agent.c.name)
    ).scalar_one()
    emit(
        session,
        RUNS_TOPIC,
        [
            run_change(
                claimed.id,
                RunState.running,
                claimed.attempt,
                name,
                project_id=claimed.project_id,
            )
        ],
        ts,
    )
    return claimed


def claim_next(
    db: DB,
    *,
    agent_id: int,
    capacity: int,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    now: float | None = None,
) -> ClaimedRun | None:
    """Atomically claim the best queued run this agent may take, or None.

    Eligible: queued, targeted at no agent or at this agent's name, needing at most `capacity`
    GPUs. Best: highest priority, then oldest id. A drained (or unknown) agent claims nothing.
    The run becomes running with this agent and a lease of `lease_seconds`; the agent's
    `current_run_id` and a "runs" feed event are written in the same transaction. One run per
    agent at a time is the agent's loop's rule (it claims only when idle), not checked here.
    """
    return in_transaction(
        db,
        lambda session: claim_in_session(
            session, agent_id=agent_id, capacity=capacity, lease_seconds=lease_seconds, now=now
        ),
    )
