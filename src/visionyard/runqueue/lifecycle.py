"""How a run leaves "running": the agent reports an outcome, hands the run back on drain, or a
user cancels it. Agent-side transitions are fenced by (run_id, attempt, agent_id)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

from sqlalchemy import update
from sqlalchemy.orm import Session

from visionyard.db.models import TERMINAL_STATES, Agent, Run, RunState
from visionyard.runqueue._db import DB, as_datetime, in_transaction, now_or
from visionyard.runqueue.attempt_errors import archive_error
from visionyard.runqueue.control import notify_cancel
from visionyard.runqueue.feed import RUNS_TOPIC, emit, run_change
from visionyard.runqueue.fencing import LockedRun, lock_current_attempt, lock_run
from visionyard.runqueue.notify import notify_work

Outcome = Literal["succeeded", "failed", "crashed", "canceled"]
OUTCOMES: frozenset[str] = frozenset(get_args(Outcome))


def _release_agent(session: Session, agent_id: int, run_id: int) -> None:
    session.execute(
        update(Agent)
        .where(Agent.id == agent_id, Agent.current_run_id == run_id)
        .values(current_run_id=None)
    )


def _finish(
    session: Session, run: LockedRun, state: RunState, error: str | None, ts: float
) -> None:
    session.execute(
        update(Run)
        .where(Run.id == run.id)
        .values(state=state, error=error, lease_expires_at=None, finished_at=as_datetime(ts))
    )
    emit(
        session,
        RUNS_TOPIC,
        [run_change(run.id, state, run.attempt, run.agent_name, reason=error)],
        ts,
    )


def _requeue(
    session: Session, run: LockedRun, *, charge_restart: bool, note: str, ts: float
) -> None:
    """Back to queued as the next attempt; `charge_restart` counts it against max_restarts."""
    values: dict[str, Any] = {
        "state": RunState.queued,
        "attempt": run.attempt + 1,
        "agent_id": None,
        "lease_expires_at": None,
        "claimed_at": None,
    }
    if charge_restart:
        values["restarts"] = run.restarts + 1
    session.execute(update(Run).where(Run.id == run.id).values(**values))
    if charge_restart:
        archive_error(session, run.id, run.attempt, note)
    emit(
        session,
        RUNS_TOPIC,
        [run_change(run.id, RunState.queued, run.attempt + 1, None, reason=note)],
        ts,
    )
    notify_work(session, run.id)


def finish_run(
    db: DB,
    run_id: int,
    attempt: int,
    agent_id: int,
    outcome: Outcome,
    error: str | None = None,
    *,
    now: float | None = None,
) -> RunState:
    """Report how an attempt ended; returns the run's new state.

    - "succeeded" → succeeded;
    - "failed": a permanent error (bad config, bad data) → failed with `error`, no retry;
    - "crashed": retryable (killed, OOM, lost GPU) → queued as attempt+1 charging a restart while
      restarts < max_restarts, else failed with `error`; canceled instead if a cancel was asked;
    - "canceled": the agent stopped the trainer on request → canceled.

    Fenced (StaleAttempt, nothing changed, when this attempt is not the live one). Clears the
    agent's current run.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {sorted(OUTCOMES)}, got {outcome!r}")
    ts = now_or(now)

    def work(session: Session) -> RunState:
        run = lock_current_attempt(session, run_id, attempt, agent_id)
        _release_agent(session, agent_id, run_id)
        if outcome == "succeeded":
            _finish(session, run, RunState.succeeded, None, ts)
            return RunState.succeeded
        if outcome == "failed":
            _finish(session, run, RunState.failed, error or "failed (no message given)", ts)
            return RunState.failed
        if outcome == "canceled":
            _finish(session, run, RunState.canceled, error or "canceled on request", ts)
            return RunState.canceled
        note = f"attempt {attempt} crashed on agent {run.agent_name}: {error or 'no message'}"
        if run.cancel_requested:
            _finish(session, run, RunState.canceled, f"{note}; canceled as requested", ts)
            return RunState.canceled
        if run.restarts < run.max_restarts:
            _requeue(session, run, charge_restart=True, note=note, ts=ts)
            return RunState.queued
        budget = f"; restart budget used up ({run.restarts} restarts)"
        _finish(session, run, RunState.failed, note + budget, ts)
        return RunState.failed

    return in_transaction(db, work)


def requeue_for_drain(
    db: DB, run_id: int, attempt: int, agent_id: int, *, now: float | None = None
) -> RunState:
    """Hand a run back because its agent is draining (it saved a resumable checkpoint): queued
    as attempt+1 WITHOUT charging a restart (canceled instead if a cancel was asked). Fenced."""
    ts = now_or(now)

    def work(session: Session) -> RunState:
        run = lock_current_attempt(session, run_id, attempt, agent_id)
        _release_agent(session, agent_id, run_id)
        if run.cancel_requested:
            _finish(session, run, RunState.canceled, "canceled on request (agent drained)", ts)
            return RunState.canceled
        note = f"agent {run.agent_name} drained during attempt {attempt}; re-queued"
        _requeue(session, run, charge_restart=False, note=note, ts=ts)
        return RunState.queued

    return in_transaction(db, work)


@dataclass(frozen=True, slots=True)
class CancelResult:
    """What `request_cancel` did: `state` is the run's state afterwards."""

    run_id: int
    state: RunState
    changed: bool
    message: str


def request_cancel(db: DB, run_id: int, *, now: float | None = None) -> CancelResult:
    """Cancel a run: queued → canceled at once (it can never be claimed afterwards); running →
    `cancel_requested` (its agent's `CancelWatch` sees it within a second, at the latest its
    next lease renewal does; it stops the trainer and reports "canceled"); finished → nothing
    to do. RunNotFound for an unknown id."""
    ts = now_or(now)

    def work(session: Session) -> CancelResult:
        # Locking waits out a claim in flight (PostgreSQL), so a run is never canceled as
        # "queued" while an agent is starting it.
        run = lock_run(session, run_id)
        if run.state == RunState.queued:
            _finish(session, run, RunState.canceled, "canceled while queued", ts)
            return CancelResult(run_id, RunState.canceled, True, f"run {run_id} canceled")
        if run.state == RunState.running:
            if run.cancel_requested:
                msg = f"cancel of run {run_id} already requested; waiting for its agent"
                return CancelResult(run_id, run.state, False, msg)
            session.execute(update(Run).where(Run.id == run_id).values(cancel_requested=True))
            emit(
                session,
                RUNS_TOPIC,
                [run_change(run_id, run.state, run.attempt, run.agent_name, cancel_requested=True)],
                ts,
            )
            notify_cancel(session, run_id)
            msg = f"cancel of run {run_id} requested; its agent stops it within about a second"
            return CancelResult(run_id, run.state, True, msg)
        assert run.state in TERMINAL_STATES
        msg = f"run {run_id} already {run.state}; nothing to cancel"
        return CancelResult(run_id, run.state, False, msg)

    return in_transaction(db, work)
