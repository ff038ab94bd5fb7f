"""metric points stored in chunks: one run_events row per run of consecutive points of a metric

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 06:00:00

Until this revision every metric point was a `run_events` row of its own (about 316 bytes a
point with its indexes). From now on a row of kind "metric" holds up to 1,024 consecutive points
of one metric of one attempt, packed into `points`, and its extreme points in `extremes` (see
`visionyard.runqueue.metric_chunks`; the record layout is repeated below so that this revision
keeps its meaning when that module changes). Each chunk takes the id of the newest point it
replaces, so a live-events client's sequence numbers stay valid.

The space the old rows held is reused by PostgreSQL for new rows; `VACUUM FULL run_events` gives
it back to the operating system (it locks the table while it runs).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from itertools import groupby
from typing import Any

import numpy as np
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

#: the point record of this revision: step, value (NaN: none), time, epoch (NO_EPOCH: none)
POINT = np.dtype([("step", "<i8"), ("value", "<f8"), ("time", "<f8"), ("epoch", "<i4")])
NO_EPOCH = np.iinfo(np.int32).min
CHUNK_POINTS = 1024

_events = sa.table(
    "run_events",
    sa.column("id", sa.BigInteger),
    sa.column("run_id", sa.Integer),
    sa.column("attempt", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("name", sa.String),
    sa.column("step", sa.BigInteger),
    sa.column("value", sa.Float),
    sa.column("payload", sa.JSON),
    sa.column("dedupe_key", sa.String),
    sa.column("created_at", sa.Float),
    sa.column("last_step", sa.BigInteger),
    sa.column("points", sa.LargeBinary),
    sa.column("extremes", sa.LargeBinary),
)


def _epoch(payload: Any) -> int | None:
    if isinstance(payload, str):  # SQLite's JSON comes back as text from a plain query
        payload = json.loads(payload)
    epoch = payload.get("epoch") if isinstance(payload, Mapping) else None
    return epoch if isinstance(epoch, int) and not isinstance(epoch, bool) else None


def _extremes(records: np.ndarray) -> np.ndarray:
    """The chunk's minimum (first such point) and maximum (last such point); the first point
    twice when every value is a gap."""
    values = records["value"]
    gaps = np.isnan(values)
    if gaps.all():
        return records[[0, 0]]
    low = int(np.argmin(np.where(gaps, np.inf, values)))
    high = len(values) - 1 - int(np.argmax(np.where(gaps, -np.inf, values)[::-1]))
    return records[[low, high]]


def _runs_with_metrics() -> list[int]:
    bind = op.get_bind()
    query = "SELECT DISTINCT run_id FROM run_events WHERE kind = 'metric' ORDER BY run_id"
    return [int(r) for r in bind.execute(sa.text(query)).scalars()]


def upgrade() -> None:
    op.add_column("run_events", sa.Column("last_step", sa.BigInteger(), nullable=True))
    op.add_column("run_events", sa.Column("points", sa.LargeBinary(), nullable=True))
    op.add_column("run_events", sa.Column("extremes", sa.LargeBinary(), nullable=True))
    bind = op.get_bind()
    for run_id in _runs_with_metrics():
        rows = bind.execute(
            sa.text(
                "SELECT id, attempt, name, step, value, payload, created_at FROM run_events "
                "WHERE run_id = :run AND kind = 'metric' AND step IS NOT NULL "
                "ORDER BY name, attempt, step"
            ),
            {"run": run_id},
        ).all()
        chunks = []
        for (name, attempt), group in groupby(rows, key=lambda r: (r.name, r.attempt)):
            points = list(group)
            for start in range(0, len(points), CHUNK_POINTS):
                part = points[start : start + CHUNK_POINTS]
                records = np.empty(len(part), POINT)
                records["step"] = [p.step for p in part]
                records["value"] = [np.nan if p.value is None else p.value for p in part]
                records["time"] = [p.created_at for p in part]
                epochs = [_epoch(p.payload) for p in part]
                records["epoch"] = [NO_EPOCH if e is None else e for e in epochs]
                chunks.append(
                    {
                        "id": max(p.id for p in part),
                        "run_id": run_id,
                        "attempt": attempt,
                        "kind": "metric",
                        "name": name,
                        "step": int(part[0].step),
                        "last_step": int(part[-1].step),
                        "value": None,
                        "payload": {},
                        "points": records.tobytes(),
                        "extremes": _extremes(records).tobytes(),
                        "dedupe_key": f"{attempt}:chunk:{name}:{part[0].step}",
                        "created_at": float(part[0].created_at),
                    }
                )
        bind.execute(
            sa.text("DELETE FROM run_events WHERE run_id = :run AND kind = 'metric'"),
            {"run": run_id},
        )
        if chunks:
            bind.execute(_events.insert(), chunks)


def downgrade() -> None:
    bind = op.get_bind()
    for run_id in _runs_with_metrics():
        chunks = bind.execute(
            sa.text(
                "SELECT attempt, name, points FROM run_events "
                "WHERE run_id = :run AND kind = 'metric' ORDER BY id"
            ),
            {"run": run_id},
        ).all()
        rows = []
        for attempt, name, data in chunks:
            for step, value, time, epoch in np.frombuffer(data or b"", POINT).tolist():
                rows.append(
                    {
                        "run_id": run_id,
                        "attempt": attempt,
                        "kind": "metric",
                        "name": name,
                        "step": step,
                        "value": None if value != value else value,
                        "payload": {} if epoch == NO_EPOCH else {"epoch": epoch},
                        "dedupe_key": f"{attempt}:m:{step}:{name}",
                        "created_at": time,
                    }
                )
        bind.execute(
            sa.text("DELETE FROM run_events WHERE run_id = :run AND kind = 'metric'"),
            {"run": run_id},
        )
        if rows:
            bind.execute(_events.insert(), rows)
    with op.batch_alter_table("run_events") as batch:
        batch.drop_column("extremes")
        batch.drop_column("points")
        batch.drop_column("last_step")
