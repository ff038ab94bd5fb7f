"""Leases: the agent renews its run's lease; the reaper re-queues or fails runs whose lease
expired (the agent died, hung, or lost the network)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, String, Update, cast, func, literal, select, update
from sqlalchemy.orm import Session

from visionyard.db.models import Agent, Run, RunState
from visionyard.runqueue._db import DB, as_datetime, in_transaction, now_or
from visionyard.runqueue.attempt_errors import archive_error
from visionyard.runqueue.errors import StaleAttempt
from visionyard.runqueue.feed import RUNS_TOPIC, emit, run_change
from visionyard.runqueue.fencing import lock_current_attempt
from visionyard.runqueue.notify import notify_work


def renew_lease(
    db: DB,
    run_id: int,
    attempt: int,
    agent_id: int,
    lease_seconds: float,
    *,
    now: float | None = None,
) -> bool:
    """Extend the lease to now + `lease_seconds`; returns whether a cancel was requested (the
    agent then stops its trainer and reports `finish_run(..., "canceled")`).

    Raises StaleAttempt (the agent lost the run: stop the trainer) unless the run is running with
    this attempt on this agent.
    """
    ts = now_or(now)
    runs = Run.__table__

    def work(session: Session) -> bool:
        cancel = session.execute(
            update(runs)
            .where(
                runs.c.id == run_id,
                runs.c.state == RunState.running,
                runs.c.attempt == attempt,
                runs.c.agent_id == agent_id,
            )
            .values(lease_expires_at=ts + lease_seconds)
            .returning(runs.c.cancel_requested)
        ).scalar_one_or_none()
        if cancel is None:
            # Refused: lock and check only to build the message (this always raises).
            lock_current_attempt(session, run_id, attempt, agent_id)
            raise StaleAttempt(f"run {run_id} attempt {attempt}: lease renewal refused")
        return bool(cancel)

    return in_transaction(db, work)


@dataclass(frozen=True, slots=True)
class ReapResult:
    """Run ids the reaper moved, by what happened to them."""

    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    canceled: list[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.requeued) + len(self.failed) + len(self.canceled)


def _expired_ids(ts: float, *extra: ColumnElement[bool]) -> Select[Any]:
    runs = Run.__table__
    # SKIP LOCKED (PostgreSQL): concurrent reapers split the expired rows between them instead
    # of queueing on each other's locks (or deadlocking by locking them in different orders); a
    # row being renewed right now is left for the next pass. SQLite ignores it.
    return (
        select(runs.c.id)
        .where(runs.c.state == RunState.running, runs.c.lease_expires_at < ts, *extra)
        .with_for_update(skip_locked=True)
    )


def _reason() -> ColumnElement[str]:
    runs, agents = Run.__table__, Agent.__table__
    name = select(agents.c.name).where(agents.c.id == runs.c.agent_id).scalar_subquery()
    return (
        literal("lease expired on agent ")
        + func.coalesce(name, literal("#") + cast(runs.c.agent_id, String))
        + literal(" (attempt ")
        + cast(runs.c.attempt, String)
        + literal(")")
    )


def _transition(ts: float, *extra: ColumnElement[bool]) -> Update:
    runs = Run.__table__
    return update(runs).where(
        runs.c.id.in_(_expired_ids(ts, *extra)),
        # Re-stated on the outer row: the decisive check is made on the row being updated.
        runs.c.state == RunState.running,
        runs.c.lease_expires_at < ts,
        *extra,
    )


def reap_expired(db: DB, *, now: float | None = None) -> ReapResult:
    """Move every running run whose lease expired before `now`, one UPDATE per outcome:

    - cancel requested → canceled (the user wanted it stopped; no retry);
    - restarts < max_restarts → queued, attempt+1, restarts+1, agent and lease cleared, error
      "lease expired on agent X (attempt N)";
    - otherwise → failed with that reason.

    Runs whose lease has not expired are untouched. Safe to run concurrently from several
    dashboards: each run is moved by exactly one of them.
    """
    ts = now_or(now)
    runs, agents = Run.__table__, Agent.__table__

    def work(session: Session) -> ReapResult:
        canceled = session.execute(
            _transition(ts, runs.c.cancel_requested.is_(True))
            .values(
                state=RunState.canceled,
                error=_reason() + literal("; canceled as requested"),
                lease_expires_at=None,
                finished_at=as_datetime(ts),
            )
            .returning(runs.c.id, runs.c.attempt, runs.c.error)
        ).all()
        failed = session.execute(
            _transition(ts, runs.c.restarts >= runs.c.max_restarts)
            .values(
                state=RunState.failed,
                error=_reason()
                + literal("; restart budget used up (")
                + cast(runs.c.restarts, String)
                + literal(" restarts)"),
                lease_expires_at=None,
                finished_at=as_datetime(ts),
            )
            .returning(runs.c.id, runs.c.attempt, runs.c.error)
        ).all()
        requeued = session.execute(
            _transition(ts, runs.c.restarts < runs.c.max_restarts)
            .values(
                state=RunState.queued,
                error=_reason(),
                attempt=runs.c.attempt + 1,
                restarts=runs.c.restarts + 1,
                agent_id=None,
                lease_expires_at=None,
                claimed_at=None,
            )
            .returning(runs.c.id, runs.c.attempt, runs.c.error)
        ).all()
        moved = [r.id for r in (*canceled, *failed, *requeued)]
        if not moved:
            return ReapResult()
        for r in requeued:  # the retry starts without the lost attempt's error
            archive_error(session, r.id, r.attempt - 1, r.error)
        session.execute(
            update(agents).where(agents.c.current_run_id.in_(moved)).values(current_run_id=None)
        )
        payloads = [
            run_change(r.id, state, r.attempt, None, reason=r.error)
            for state, rows in (
                (RunState.canceled, canceled),
                (RunState.failed, failed),
                (RunState.queued, requeued),
            )
            for r in rows
        ]
        emit(session, RUNS_TOPIC, payloads, ts)
        if requeued:
            notify_work(session, requeued[0].id)
        return ReapResult(
            requeued=sorted(r.id for r in requeued),
            failed=sorted(r.id for r in failed),
            canceled=sorted(r.id for r in canceled),
        )

    return in_transaction(db, work)
