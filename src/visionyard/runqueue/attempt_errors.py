"""Errors belong to the attempt they ended.

`runs.error` is the current attempt's error. When a crashed or lost attempt is retried, its
error moves to `runs.earlier_errors` ([{"attempt": n, "error": message}, ...], oldest first):
the next attempt starts with no error of its own, and what ended the earlier ones stays
readable.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from visionyard.db.models import Run


def archive_error(session: Session, run_id: int, attempt: int, error: str) -> None:
    """Record `error` as what ended `attempt` and clear the run's current error. The caller
    holds the run row locked (or has just updated it in this transaction)."""
    earlier = session.scalar(select(Run.earlier_errors).where(Run.id == run_id)) or []
    entry = {"attempt": attempt, "error": error}
    session.execute(
        update(Run).where(Run.id == run_id).values(error=None, earlier_errors=[*earlier, entry])
    )
