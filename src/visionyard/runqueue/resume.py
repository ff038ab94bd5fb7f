"""Resuming a run that ended without success: the same run, in its same folder, goes back to
the queue as its next attempt. The agent starts every trainer with ``resume: auto``, so that
attempt continues from the newest valid checkpoint in the run folder (whether one exists is the
caller's check: the queue never reads run folders).

The rules, for the API's users:

- Only runs that ended without success may be resumed: failed or canceled (every finished state
  but succeeded). Queued and running runs are not finished; a succeeded run has nothing left
  to do (the dashboard's re-queue trains it again as a fresh run).
- The resumed run is queued as attempt + 1, like a crash or a drain re-queue, so everything the
  earlier attempts stored stays apart and the series keep the newest attempt's points.
- Its restart budget starts over (`restarts` = 0): `max_restarts` bounds the automatic restarts
  after crashes and lost leases, and a person asking for another go is no such restart. So a run
  that failed because its budget was used up can be resumed, and gets the whole budget again.
- What described the end it resumes from is cleared (`error`, `finished_at`, the cancel request,
  agent, lease and claim time); that end (state and error) is kept in the "runs" feed event of
  the resume, as its `reason`, so the history stays on the change feed, and the error in
  `earlier_errors` with the attempt it ended.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from visionyard.db.models import Run, RunState
from visionyard.errors import RunStateError
from visionyard.runqueue._db import DB, in_transaction, now_or
from visionyard.runqueue.attempt_errors import archive_error
from visionyard.runqueue.feed import RUNS_TOPIC, emit, run_change
from visionyard.runqueue.fencing import lock_run
from visionyard.runqueue.notify import notify_work

#: the finished states a run may be resumed from
RESUMABLE_STATES = frozenset({RunState.failed, RunState.canceled})
_MAX_REASON_CHARS = 1000


def not_resumable_reason(run_id: int, state: RunState) -> str | None:
    """Why a run in `state` cannot be resumed (a message that says what to do), or None."""
    if state in RESUMABLE_STATES:
        return None
    if state == RunState.succeeded:
        return (
            f"run {run_id} succeeded; there is nothing to resume. Re-queue it "
            f"(POST /runs/{run_id}/requeue) to train it again from scratch as a new run"
        )
    return (
        f"run {run_id} is {state.value}; only a run that ended without success (failed or "
        "canceled) can be resumed. Wait for it to finish, or cancel it first"
    )


def resume_run(db: DB, run_id: int, *, now: float | None = None) -> int:
    """Put a failed or canceled run back on the queue as its next attempt (see the module's
    rules); returns that attempt. RunNotFound for an unknown id, RunStateError (nothing
    changed) when the run is not in a resumable state."""
    ts = now_or(now)

    def work(session: Session) -> int:
        run = lock_run(session, run_id)
        reason = not_resumable_reason(run_id, run.state)
        if reason is not None:
            raise RunStateError(reason)
        error = session.execute(select(Run.error).where(Run.id == run_id)).scalar_one()
        attempt = run.attempt + 1
        session.execute(
            update(Run)
            .where(Run.id == run_id)
            .values(
                state=RunState.queued,
                attempt=attempt,
                restarts=0,
                agent_id=None,
                lease_expires_at=None,
                claimed_at=None,
                finished_at=None,
                cancel_requested=False,
                error=None,
            )
        )
        if error:  # the ended attempt's error stays readable, with that attempt
            archive_error(session, run_id, run.attempt, error)
        ended = f"resumed on request; attempt {run.attempt} had ended {run.state.value}"
        if error:
            ended += f": {error}"
        emit(
            session,
            RUNS_TOPIC,
            [run_change(run_id, RunState.queued, attempt, None, reason=ended[:_MAX_REASON_CHARS])],
            ts,
        )
        notify_work(session, run_id)
        return attempt

    return in_transaction(db, work)
