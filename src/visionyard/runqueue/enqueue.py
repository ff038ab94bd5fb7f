"""Putting a run on the queue."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from visionyard.db.models import Run, RunState, RunTag
from visionyard.runqueue._db import DB, as_datetime, in_transaction, now_or
from visionyard.runqueue.feed import RUNS_TOPIC, emit, run_change
from visionyard.runqueue.notify import work_notice


def enqueue(
    db: DB,
    *,
    project_id: int,
    name: str,
    config_snapshot: dict[str, Any],
    config_hash: str,
    priority: int = 0,
    target_agent: str | None = None,
    gpu_count: int = 0,
    max_restarts: int = 3,
    group_id: int | None = None,
    config_version_id: int | None = None,
    run_dir: str | None = None,
    created_by: int | None = None,
    tags: Iterable[str] = (),
    now: float | None = None,
) -> int:
    """Create a queued run (attempt 1) and return its id.

    The feed event and, on PostgreSQL, the NOTIFY that wakes idle claimers are part of the same
    transaction: both happen exactly when the run becomes visible to claimers.
    """
    if gpu_count < 0:
        raise ValueError(f"gpu_count must be >= 0, got {gpu_count}")
    if max_restarts < 0:
        raise ValueError(f"max_restarts must be >= 0, got {max_restarts}")
    ts = now_or(now)
    tag_list = sorted(set(tags))

    def work(session: Session) -> int:
        run_id = session.execute(
            insert(Run)
            .values(
                project_id=project_id,
                group_id=group_id,
                config_version_id=config_version_id,
                name=name,
                config_snapshot=config_snapshot,
                config_hash=config_hash,
                state=RunState.queued,
                priority=priority,
                target_agent=target_agent,
                gpu_count=gpu_count,
                attempt=1,
                restarts=0,
                max_restarts=max_restarts,
                run_dir=run_dir,
                created_by=created_by,
                progress={},
                created_at=as_datetime(ts),
            )
            .returning(Run.id)
        ).scalar_one()
        if tag_list:
            session.execute(insert(RunTag), [{"run_id": run_id, "tag": t} for t in tag_list])
        emit(
            session,
            RUNS_TOPIC,
            [run_change(run_id, RunState.queued, 1, None, project_id=project_id)],
            ts,
            also_notify=[work_notice(run_id)],
        )
        return int(run_id)

    return in_transaction(db, work)
