"""Fencing: an agent's write for a run is accepted only for the run's current attempt.

Every fenced write locks the run row first (PostgreSQL `SELECT … FOR NO KEY UPDATE`; on SQLite
the BEGIN IMMEDIATE write lock already excludes every other writer), checks that the run is
running with that attempt (and agent), and writes in the same transaction. The reaper and the
claim cannot slip in between the check and the write, so a stale agent persists nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from visionyard.db.models import Agent, Run, RunState
from visionyard.runqueue.errors import RunNotFound, StaleAttempt


@dataclass(frozen=True, slots=True)
class LockedRun:
    """The fields of a locked run row that the fenced writers need."""

    id: int
    state: RunState
    attempt: int
    restarts: int
    max_restarts: int
    agent_id: int | None
    agent_name: str | None
    cancel_requested: bool
    progress: dict[str, Any]


def lock_run(session: Session, run_id: int) -> LockedRun:
    """Lock the run row for the rest of the transaction and return it (RunNotFound if absent).

    FOR NO KEY UPDATE rather than FOR UPDATE: it still excludes other writers of the row, but
    lets event inserts' foreign-key checks (FOR KEY SHARE) through.
    """
    row = session.execute(
        select(
            Run.id,
            Run.state,
            Run.attempt,
            Run.restarts,
            Run.max_restarts,
            Run.agent_id,
            Agent.name.label("agent_name"),
            Run.cancel_requested,
            Run.progress,
        )
        .outerjoin(Agent, Agent.id == Run.agent_id)
        .where(Run.id == run_id)
        .with_for_update(of=Run, key_share=True)
    ).one_or_none()
    if row is None:
        raise RunNotFound(f"run {run_id} does not exist; check the run id")
    return LockedRun(
        id=row.id,
        state=RunState(row.state),
        attempt=row.attempt,
        restarts=row.restarts,
        max_restarts=row.max_restarts,
        agent_id=row.agent_id,
        agent_name=row.agent_name,
        cancel_requested=bool(row.cancel_requested),
        progress=dict(row.progress or {}),
    )


def lock_current_attempt(
    session: Session, run_id: int, attempt: int, agent_id: int | None = None
) -> LockedRun:
    """Lock the run and check that (attempt[, agent_id]) is its live execution, else raise
    StaleAttempt naming what is current instead."""
    run = lock_run(session, run_id)
    what = f"run {run_id} attempt {attempt}" + (
        f" on agent {agent_id}" if agent_id is not None else ""
    )
    if run.state != RunState.running:
        raise StaleAttempt(
            f"{what} was refused: the run is {run.state} (attempt {run.attempt}). Stop the "
            "trainer for this attempt; nothing it writes is kept."
        )
    if run.attempt != attempt or (agent_id is not None and run.agent_id != agent_id):
        raise StaleAttempt(
            f"{what} was refused: the current execution is attempt {run.attempt} on agent "
            f"{run.agent_name or run.agent_id}. This attempt lost the run; stop its trainer."
        )
    return run
