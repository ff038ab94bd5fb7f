"""Registering a run that was trained outside the queue (`visionyard runs import`).

The run is created already finished: it was never queued, so no agent may claim it and no lease
exists. Its events become `run_events` rows through the same mapping the agent's relay uses
(`event_rows`: same names, steps, values and dedupe keys), one attempt per trainer start, so the
metric-series, logs and checkpoint APIs read it exactly as they read an agent's run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from visionyard.db.models import TERMINAL_STATES, CheckpointRecord, Run, RunState, RunTag
from visionyard.runqueue._db import DB, as_datetime, in_transaction, now_or, upsert_insert
from visionyard.runqueue.events import _newest_progress, _value, event_rows, store_rows
from visionyard.runqueue.feed import RUNS_TOPIC, announce, emit, run_change, run_topic
from visionyard.runqueue.metric_summary import update_summaries

#: the tag every imported run carries, so lists can tell them from queued runs
IMPORTED_TAG = "imported"


def _checkpoint_row(run_id: int, attempt: int, event: Mapping[str, Any]) -> dict[str, Any]:
    """A checkpoint event as a `checkpoint_records` row, converted as the agent's relay does."""
    epoch = event.get("epoch")
    return {
        "run_id": run_id,
        "attempt": attempt,
        "name": str(event.get("name") or "checkpoint")[:64],
        "path": str(event.get("path") or "")[:1024],
        "epoch": epoch if isinstance(epoch, int) and not isinstance(epoch, bool) else None,
        "step": int(event.get("step") or 0),
        "metric": _value(event.get("metric")),
    }


def _event_times(attempts: Sequence[Sequence[Mapping[str, Any]]]) -> list[float]:
    return [t for events in attempts for e in events if (t := _value(e.get("time"))) is not None]


def record_imported_run(
    db: DB,
    *,
    project_id: int,
    name: str,
    config_snapshot: dict[str, Any],
    config_hash: str,
    state: RunState,
    error: str | None,
    attempts: Sequence[Sequence[Mapping[str, Any]]],
    created_by: int | None,
    now: float | None = None,
) -> int:
    """Create a finished run holding `attempts` (each trainer start's events, in order) and
    return its id. Its times are those of its first and last events (now when it has none)."""
    if state not in TERMINAL_STATES:
        raise ValueError(f"an imported run must be finished, not {state.value}")
    ts = now_or(now)
    times = _event_times(attempts)
    started, ended = (min(times), max(times)) if times else (ts, ts)
    last_attempt = max(1, len(attempts))

    def work(session: Session) -> int:
        run_id = session.execute(
            insert(Run)
            .values(
                project_id=project_id,
                name=name,
                config_snapshot=config_snapshot,
                config_hash=config_hash,
                state=state,
                priority=0,
                gpu_count=0,
                attempt=last_attempt,
                restarts=0,
                max_restarts=0,
                error=error,
                created_by=created_by,
                progress={},
                created_at=as_datetime(started),
                claimed_at=as_datetime(started),
                started_at=as_datetime(started),
                finished_at=as_datetime(ended),
            )
            .returning(Run.id)
        ).scalar_one()
        session.execute(insert(RunTag), [{"run_id": run_id, "tag": IMPORTED_TAG}])
        by_attempt: list[list[dict[str, Any]]] = []
        # One record per checkpoint folder, its newest save (as `record_checkpoint` keeps it).
        checkpoints: dict[str, dict[str, Any]] = {}
        progress: dict[str, Any] = {}
        for number, events in enumerate(attempts, start=1):
            by_attempt.append(event_rows(run_id, number, events, now=ts))
            for event in events:
                if event.get("type") == "checkpoint":
                    row = _checkpoint_row(run_id, number, event)
                    known = checkpoints.get(row["name"], row)
                    if (row["attempt"], row["step"]) >= (known["attempt"], known["step"]):
                        checkpoints[row["name"]] = row
            progress = _newest_progress(events, number, progress) or progress
        rows = [row for attempt_rows in by_attempt for row in attempt_rows]
        if rows:
            _, fresh = store_rows(session, run_id, rows, {})
            for number in range(1, len(by_attempt) + 1):
                update_summaries(
                    session, run_id, number, [r for r in fresh if r["attempt"] == number]
                )
        saved = list(checkpoints.values())
        if saved:
            session.execute(
                upsert_insert(session, CheckpointRecord.__table__).on_conflict_do_nothing(
                    index_elements=["run_id", "name"]
                ),
                saved,
            )
        if progress:
            session.execute(update(Run).where(Run.id == run_id).values(progress=progress))
        emit(
            session,
            RUNS_TOPIC,
            [run_change(run_id, state, last_attempt, None, reason=IMPORTED_TAG)],
            ts,
        )
        announce(session, run_topic(run_id))
        return int(run_id)

    return in_transaction(db, work)
