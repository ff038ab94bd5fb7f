"""Fenced, idempotent storage of a run's event stream and checkpoint records.

The agent relays the trainer's ``events.jsonl`` (see `visionyard.training.tracking`) in batches
and may deliver a batch more than once (a timeout after the commit, a restart): every row carries
a `dedupe_key` unique per run, and inserts skip conflicts, so each event is stored once (R15).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import and_, or_, select, text, update
from sqlalchemy.orm import Session

from visionyard.db.models import CheckpointRecord, Run, RunEvent, utcnow
from visionyard.runqueue import metric_chunks
from visionyard.runqueue._db import DB, in_transaction, is_postgres, now_or, upsert_insert
from visionyard.runqueue.feed import announce, run_topic
from visionyard.runqueue.fencing import LockedRun, lock_current_attempt
from visionyard.runqueue.metric_summary import stored_summaries, update_summaries

#: event types stored as one row each, under their own kind (anything else is kind "other")
ROW_KINDS = frozenset({"log", "progress", "checkpoint", "state", "artifact"})
#: every kind a stored run event can have (the WebSocket protocol documents each one)
RUN_EVENT_KINDS = ROW_KINDS | {"metric", "other"}
#: the event field a row's `name` holds, per kind: what a client filters or shows it by
_LABEL_FIELD = {"checkpoint": "name", "artifact": "kind", "log": "level", "state": "state"}
#: the metric rows a ``train_step`` event becomes: its loss and its learning rate
STEP_LOSS_METRIC = "train/step_loss"
STEP_LR_METRIC = "train/lr"


def _value(raw: Any) -> float | None:
    """A metric value as a finite float; None for null, non-finite or non-numeric values (a
    diverged loss is a gap in the chart, not an error)."""
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    value = float(raw)
    return value if math.isfinite(value) else None


def _int_or_none(raw: Any) -> int | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    return int(raw)


def _clean(obj: Any) -> Any:
    """JSON-safe copy: non-finite floats become None (PostgreSQL's JSON rejects NaN)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def _metric(
    run_id: int,
    attempt: int,
    name: str,
    step: int,
    value: Any,
    created: float,
    extra: dict[str, Any],
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "attempt": attempt,
        "kind": "metric",
        "name": name,
        "step": step,
        "value": _value(value),
        "payload": extra,
        "dedupe_key": f"{attempt}:m:{step}:{name}",
        "created_at": created,
    }


def event_rows(
    run_id: int, attempt: int, events: Iterable[Mapping[str, Any]], *, now: float
) -> list[dict[str, Any]]:
    """Map trainer/agent events to `run_events` rows (pure; no database).

    - ``metrics`` → one "metric" row per value, name "<split>/<metric>", at the event's step;
    - ``train_step`` → metric rows "train/step_loss" and "train/lr";
    - any other type → one row of that kind holding the event as payload, keyed by its ``seq``.

    Raises ValueError for an event without ``type``, a metrics event without ``step`` or a
    non-metric event without ``seq`` (the dedupe key cannot be formed): the relay is broken.
    """
    rows: dict[str, dict[str, Any]] = {}
    for event in events:
        kind = event.get("type")
        if not isinstance(kind, str):
            raise ValueError(f"event without a string 'type' field: {dict(event)!r}")
        created = _value(event.get("time")) or now
        if kind in ("metrics", "train_step"):
            step = _int_or_none(event.get("step"))
            if step is None:
                raise ValueError(f"{kind} event without an integer 'step': {dict(event)!r}")
            epoch = _int_or_none(event.get("epoch"))
            extra = {"epoch": epoch} if epoch is not None else {}
            if kind == "metrics":
                split = str(event.get("split", "train"))
                pairs = [(f"{split}/{k}", v) for k, v in dict(event.get("values") or {}).items()]
            else:
                pairs = [(STEP_LOSS_METRIC, event.get("loss")), (STEP_LR_METRIC, event.get("lr"))]
            for name, value in pairs:
                row = _metric(run_id, attempt, name, step, value, created, extra)
                rows.setdefault(row["dedupe_key"], row)
            continue
        seq = _int_or_none(event.get("seq"))
        if seq is None:
            raise ValueError(f"{kind} event without an integer 'seq': {dict(event)!r}")
        stored_kind = kind if kind in ROW_KINDS else "other"
        label = _LABEL_FIELD.get(stored_kind)
        label = event.get(label) if label else None
        key = f"{attempt}:{stored_kind}:{seq}"
        rows.setdefault(
            key,
            {
                "run_id": run_id,
                "attempt": attempt,
                "kind": stored_kind,
                "name": str(label)[:128] if label is not None else None,
                "step": _int_or_none(event.get("step")),
                "value": None,
                "payload": _clean(dict(event)),
                "dedupe_key": key,
                "created_at": created,
            },
        )
    return list(rows.values())


def _newest_progress(
    events: Iterable[Mapping[str, Any]], attempt: int, current: dict[str, Any]
) -> dict[str, Any] | None:
    """The progress event to show, if it is newer than the stored one: (attempt, seq) order, so
    a late re-delivery of an old batch never moves the progress bar backwards."""
    best: Mapping[str, Any] | None = None
    key = (_int_or_none(current.get("attempt")) or 0, _int_or_none(current.get("seq")) or -1)
    for event in events:
        if event.get("type") != "progress":
            continue
        candidate = (attempt, _int_or_none(event.get("seq")) or -1)
        if candidate > key:
            key = candidate
            best = event
    if best is None:
        return None
    progress: dict[str, Any] = _clean({k: v for k, v in best.items() if k != "type"})
    progress["attempt"] = attempt
    return progress


#: the stored columns, in the order the PostgreSQL insert's arrays list them
_COLUMNS = ("run_id", "attempt", "kind", "name", "step", "value", "payload", "dedupe_key",
            "created_at", "last_step", "points", "extremes")  # fmt: skip
# A batch as one array per column, unnested server-side: the statement's text and its
# parameters are the same whatever the batch size, so neither SQLAlchemy nor psycopg rebuilds a
# query per batch. (Rows as multi-row VALUES made a query of a parameter per column per row,
# whose compilation and parameter splitting were three quarters of the cost of storing a batch:
# bench/metric_store_bench.py.) Array order is insertion order, so ids follow the batch's order.
_PG_INSERT = text(
    """
    INSERT INTO run_events (run_id, attempt, kind, name, step, value, payload, dedupe_key,
                            created_at, last_step, points, extremes)
    SELECT r, a, k, n, s, v, CAST(p AS json), d, c, l, b, e
    FROM unnest(CAST(:run_id AS integer[]), CAST(:attempt AS integer[]),
                CAST(:kind AS varchar[]), CAST(:name AS varchar[]), CAST(:step AS bigint[]),
                CAST(:value AS float8[]), CAST(:payload AS text[]),
                CAST(:dedupe_key AS varchar[]), CAST(:created_at AS float8[]),
                CAST(:last_step AS bigint[]), CAST(:points AS bytea[]),
                CAST(:extremes AS bytea[]))
         AS t(r, a, k, n, s, v, p, d, c, l, b, e)
    ON CONFLICT (run_id, dedupe_key) DO NOTHING
    RETURNING id
    """
)


def _insert(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert `run_events` rows, skipping dedupe-key conflicts; returns how many were new."""
    if not rows:
        return 0
    if is_postgres(session):
        arrays: dict[str, list[Any]] = {c: [row.get(c) for row in rows] for c in _COLUMNS}
        arrays["payload"] = [json.dumps(p) for p in arrays["payload"]]
        return len(session.execute(_PG_INSERT, arrays).all())
    # SQLite: one statement with the rows as parameters, which SQLAlchemy batches into
    # multi-row INSERTs ("insertmanyvalues") from one cached compilation.
    table = RunEvent.__table__
    stmt = (
        upsert_insert(session, table)
        .on_conflict_do_nothing(index_elements=["run_id", "dedupe_key"])
        .returning(table.c.id)
    )
    uniform = [{c: row.get(c) for c in _COLUMNS} for row in rows]
    return len(session.execute(stmt, uniform).all())


def store_rows(
    session: Session,
    run_id: int,
    rows: list[dict[str, Any]],
    last_steps: Mapping[tuple[str, int], int],
) -> tuple[int, list[Mapping[str, Any]]]:
    """Store `event_rows` output: events one row each, metric points in chunks (skipping
    points at or below `last_steps`, the last step each (metric, attempt) already stored; see
    `metric_chunks`). Returns how many events and points were new, and the new points' rows."""
    points = [row for row in rows if row["kind"] == "metric"]
    others = [row for row in rows if row["kind"] != "metric"]
    fresh = metric_chunks.fresh_points(points, last_steps)
    stored = _insert(session, others)
    if fresh:
        chunks = metric_chunks.chunk_rows(run_id, fresh)
        # Merged first, the batch's own chunks after: a merge then only joins chunks that live
        # subscribers were already sent, under an id they have seen, so nothing reaches them
        # twice.
        metric_chunks.merge_small_tails(
            session, run_id, {(c["attempt"], c["name"]) for c in chunks}
        )
        _insert(session, chunks)
    return stored + len(fresh), fresh


def write_events(
    db: DB,
    run_id: int,
    attempt: int,
    events: Iterable[Mapping[str, Any]],
    *,
    agent_id: int | None = None,
    now: float | None = None,
) -> int:
    """Store a batch of the run's events for `attempt`; returns how many were new.

    Fenced: raises StaleAttempt (storing nothing) unless the run is running with this attempt
    (and agent, when given). Progress events also update `Run.progress`. Relay the events of an
    attempt before reporting `finish_run` for it: afterwards the run is no longer running and
    its events are refused.
    """
    batch = list(events)
    ts = now_or(now)
    rows = event_rows(run_id, attempt, batch, now=ts)

    def work(session: Session) -> int:
        run: LockedRun = lock_current_attempt(session, run_id, attempt, agent_id)
        names = {row["name"] for row in rows if row["kind"] == "metric"}
        summaries = stored_summaries(session, run_id, names) if names else {}
        last_steps = {
            (name, s.attempt): s.last.step for name, s in summaries.items() if s.attempt == attempt
        }
        stored, fresh = store_rows(session, run_id, rows, last_steps)
        if stored:
            announce(session, run_topic(run_id))
            update_summaries(session, run_id, attempt, fresh, stored=summaries)
        progress = _newest_progress(batch, attempt, run.progress)
        if progress is not None:
            session.execute(update(Run).where(Run.id == run_id).values(progress=progress))
        return stored

    return in_transaction(db, work)


def record_checkpoint(
    db: DB,
    run_id: int,
    attempt: int,
    name: str,
    path: str,
    epoch: int | None,
    step: int,
    metric: float | None,
    *,
    agent_id: int | None = None,
) -> CheckpointRecord:
    """Record a checkpoint the trainer saved: one record per checkpoint folder (run, name).

    Every save rewrites `last` (and `best` when it improves) in place, so a folder saved again
    updates its record to the newer save; a repeated call, or an older save delivered late,
    changes nothing (newer means a later attempt, or a later step of the same attempt).
    Returns the folder's record as stored afterwards. Fenced like `write_events`.
    """

    def work(session: Session) -> CheckpointRecord:
        lock_current_attempt(session, run_id, attempt, agent_id)
        table = CheckpointRecord.__table__
        insert = upsert_insert(session, table).values(
            run_id=run_id,
            attempt=attempt,
            name=name,
            path=path,
            epoch=epoch,
            step=step,
            metric=_value(metric),
            created_at=utcnow(),
        )
        newer = or_(
            insert.excluded.attempt > table.c.attempt,
            and_(insert.excluded.attempt == table.c.attempt, insert.excluded.step > table.c.step),
        )
        session.execute(
            insert.on_conflict_do_update(
                index_elements=["run_id", "name"],
                set_={
                    c: insert.excluded[c]
                    for c in ("attempt", "path", "epoch", "step", "metric", "created_at")
                },
                where=newer,
            )
        )
        record = session.execute(
            select(CheckpointRecord).where(
                CheckpointRecord.run_id == run_id, CheckpointRecord.name == name
            )
        ).scalar_one()
        # Detached and fully loaded: usable after the transaction, whatever the sessionmaker's
        # expire_on_commit says.
        session.expunge(record)
        return record

    return in_transaction(db, work)
