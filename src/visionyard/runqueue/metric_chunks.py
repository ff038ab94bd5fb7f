"""A run's metric points, stored in chunks: one `run_events` row holds consecutive points of one
metric of one attempt.

One row per point cost about 316 bytes a point, and a chart of a 1M-point metric read for over a
second (docs/benchmarks.md, "Metric storage"). A chunk packs its points into one binary column,
`points`: little-endian records of `POINT` (step int64, value float64 with NaN for a gap, time
float64 in unix seconds, epoch int32 with `NO_EPOCH` for none), in step order: 28 bytes a point
before PostgreSQL's own compression. The row itself: kind "metric", the metric's `name`, the
`attempt`, `step` = its first step, `last_step`, no `value`, an empty `payload`, `created_at` =
when its first point was logged, and dedupe key "<attempt>:chunk:<name>:<first step>".

Writing (`chunk_rows`, then `merge_small_tails`): a batch's points become one chunk per (attempt,
metric). Delivery stays idempotent (R15): the steps of one metric of one attempt only increase
(the trainer logs in order; a resumed run is a new attempt), so points at or below the last step
the attempt already stored for the metric are redeliveries and are dropped (`fresh_points`).
The agent relays about a batch a second, so chunks start small: a metric's newest small chunks
are merged (`merge_small_tails`) into one row that takes the id of the newest of them. A live
subscriber has seen that id and is sent nothing again; a client catching up from an older id
receives the merged chunk whole and keeps the steps it lacks.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from visionyard.db.models import RunEvent

#: one stored point (packed: 28 bytes)
POINT = np.dtype([("step", "<i8"), ("value", "<f8"), ("time", "<f8"), ("epoch", "<i4")])
#: the epoch of a point logged without one
NO_EPOCH = np.iinfo(np.int32).min
#: the most points a chunk is given (a merge stops below it; a bigger batch is split)
CHUNK_POINTS = 1024
#: how many small chunks at a metric's end are merged even when they hold few points
MERGE_AT = 16


def records(steps: Sequence[int], values: Sequence[float | None], times: Sequence[float],
            epochs: Sequence[int | None]) -> np.ndarray:  # fmt: skip
    """Points (in step order) as `POINT` records, a chunk's `points` once in bytes."""
    out = np.empty(len(steps), POINT)
    out["step"] = steps
    out["value"] = [np.nan if v is None else v for v in values]
    out["time"] = times
    out["epoch"] = [NO_EPOCH if e is None else e for e in epochs]
    return out


def unpack(data: bytes) -> np.ndarray:
    """A chunk's points as a read-only structured array of `POINT` records."""
    return np.frombuffer(data, POINT)


@dataclass(frozen=True)
class Points:
    """Points of one metric as parallel arrays in step order (within a step, by attempt)."""

    steps: np.ndarray  # int64
    attempts: np.ndarray  # int64
    values: np.ndarray  # float64, NaN for a gap
    times: np.ndarray  # float64
    epochs: np.ndarray  # int32, NO_EPOCH for none

    def __len__(self) -> int:
        return len(self.steps)

    def take(self, index: Any) -> Points:
        return Points(
            self.steps[index],
            self.attempts[index],
            self.values[index],
            self.times[index],
            self.epochs[index],
        )

    def value_list(self) -> list[float | None]:
        return [None if v != v else v for v in self.values.tolist()]

    def epoch_list(self) -> list[int | None]:
        return [None if e == NO_EPOCH else e for e in self.epochs.tolist()]


EMPTY = Points(
    np.empty(0, np.int64),
    np.empty(0, np.int64),
    np.empty(0, np.float64),
    np.empty(0, np.float64),
    np.empty(0, np.int32),
)


def as_points(chunks: Sequence[tuple[int, np.ndarray]]) -> Points:
    """Chunks of one metric, (attempt, records) in first-step order, as `Points`."""
    if not chunks:
        return EMPTY
    joined = np.concatenate([r for _, r in chunks])
    attempts = np.concatenate([np.full(len(r), a, np.int64) for a, r in chunks])
    single_attempt = all(a == chunks[0][0] for a, _ in chunks)
    if not single_attempt:  # attempts overlap in steps: order by (step, attempt)
        order = np.lexsort((attempts, joined["step"]))
        joined, attempts = joined[order], attempts[order]
    return Points(
        joined["step"].astype(np.int64),
        attempts,
        joined["value"].astype(np.float64),
        joined["time"].astype(np.float64),
        joined["epoch"].astype(np.int32),
    )


def _window(points: Points, step_min: int | None, step_max: int | None) -> Points:
    if step_min is None and step_max is None:
        return points
    keep = np.ones(len(points), bool)
    if step_min is not None:
        keep &= points.steps >= step_min
    if step_max is not None:
        keep &= points.steps <= step_max
    return points.take(keep)


def read_points(
    session: Session,
    run_ids: Collection[int],
    names: Collection[str],
    *,
    step_min: int | None = None,
    step_max: int | None = None,
) -> dict[tuple[int, str], Points]:
    """{(run id, name): its points within [step_min, step_max]} of the named metrics of these
    runs, every attempt's (which are current is the caller's rule); a metric a run has not
    logged is absent. Reads only the chunks that overlap the window."""
    if not run_ids or not names:
        return {}
    query = select(RunEvent.run_id, RunEvent.name, RunEvent.attempt, RunEvent.points).where(
        RunEvent.run_id.in_(list(run_ids)),
        RunEvent.kind == "metric",
        RunEvent.name.in_(list(names)),
    )
    if step_min is not None:
        query = query.where(RunEvent.last_step >= step_min)
    if step_max is not None:
        query = query.where(RunEvent.step <= step_max)
    query = query.order_by(RunEvent.run_id, RunEvent.name, RunEvent.step)
    chunks: dict[tuple[int, str], list[tuple[int, np.ndarray]]] = defaultdict(list)
    for run_id, name, attempt, data in session.execute(query):
        if data and name is not None:
            chunks[(run_id, name)].append((attempt, unpack(data)))
    return {key: _window(as_points(found), step_min, step_max) for key, found in chunks.items()}


@dataclass(frozen=True)
class ChunkInfo:
    """What a chart's overview needs of a chunk, without its points."""

    id: int
    attempt: int
    first_step: int
    last_step: int
    count: int
    extremes: np.ndarray  # `extremes` of its points


def read_chunk_infos(
    session: Session,
    run_id: int,
    names: Collection[str],
    *,
    step_min: int | None = None,
    step_max: int | None = None,
) -> dict[str, list[ChunkInfo]]:
    """{name: its chunks that overlap [step_min, step_max], by first step} of the named metrics
    of one run, without reading their points."""
    if not names:
        return {}
    query = select(
        RunEvent.id,
        RunEvent.name,
        RunEvent.attempt,
        RunEvent.step,
        RunEvent.last_step,
        func.length(RunEvent.points),
        RunEvent.extremes,
    ).where(RunEvent.run_id == run_id, RunEvent.kind == "metric", RunEvent.name.in_(list(names)))
    if step_min is not None:
        query = query.where(RunEvent.last_step >= step_min)
    if step_max is not None:
        query = query.where(RunEvent.step <= step_max)
    found: dict[str, list[ChunkInfo]] = defaultdict(list)
    for row_id, name, attempt, first, last, size, ends in session.execute(
        query.order_by(RunEvent.name, RunEvent.step)
    ):
        if name is None or first is None or last is None or not ends:
            continue
        found[name].append(
            ChunkInfo(row_id, attempt, first, last, (size or 0) // POINT.itemsize, unpack(ends))
        )
    return dict(found)


def read_chunk_points(session: Session, ids: Collection[int]) -> dict[int, np.ndarray]:
    """{chunk id: its points} of these chunks."""
    if not ids:
        return {}
    rows = session.execute(select(RunEvent.id, RunEvent.points).where(RunEvent.id.in_(list(ids))))
    return {row_id: unpack(data or b"") for row_id, data in rows}


def fresh_points(
    rows: Iterable[Mapping[str, Any]], last_steps: Mapping[tuple[str, int], int]
) -> list[Mapping[str, Any]]:
    """The metric point rows (`event_rows` output) not stored yet: above the last step their
    attempt stored for their metric (`last_steps`, by (name, attempt)), one per step."""
    fresh = []
    seen: dict[tuple[str, int], int] = dict(last_steps)
    for row in sorted(rows, key=lambda r: (r["name"], r["attempt"], r["step"])):
        key = (row["name"], row["attempt"])
        if key in seen and row["step"] <= seen[key]:
            continue
        seen[key] = row["step"]
        fresh.append(row)
    return fresh


def payload_epoch(payload: Mapping[str, Any] | None) -> int | None:
    """The epoch a metric event's payload names, if it is an integer."""
    epoch = (payload or {}).get("epoch")
    return epoch if isinstance(epoch, int) and not isinstance(epoch, bool) else None


def extreme_positions(values: np.ndarray) -> tuple[int, int] | None:
    """Where the first minimum and the last maximum of `values` are (NaN is a gap, never an
    extreme): the points a min/max downsampling keeps; None when every value is a gap."""
    gaps = np.isnan(values)
    if gaps.all():
        return None
    low = int(np.argmin(np.where(gaps, np.inf, values)))
    high = len(values) - 1 - int(np.argmax(np.where(gaps, -np.inf, values)[::-1]))
    return low, high


def extremes(points: np.ndarray) -> np.ndarray:
    """A chunk's minimum and maximum points (two records, see `extreme_positions`); the first
    point twice when every value is a gap."""
    found = extreme_positions(points["value"])
    return points[list(found) if found else [0, 0]]


def chunk_row(
    run_id: int, attempt: int, name: str, points: np.ndarray, *, id: int | None = None
) -> dict[str, Any]:
    """The `run_events` row of one chunk (`POINT` records in step order, at least one)."""
    first = int(points["step"][0])
    row = {
        "run_id": run_id,
        "attempt": attempt,
        "kind": "metric",
        "name": name,
        "step": first,
        "last_step": int(points["step"][-1]),
        "value": None,
        "payload": {},
        "points": points.tobytes(),
        "extremes": extremes(points).tobytes(),
        "dedupe_key": f"{attempt}:chunk:{name}:{first}",
        "created_at": float(points["time"][0]),
    }
    if id is not None:
        row["id"] = id
    return row


def chunk_rows(run_id: int, point_rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Metric point rows (`event_rows` output, already `fresh_points`) as one chunk row per
    (attempt, metric)."""
    grouped: dict[tuple[int, str], list[Mapping[str, Any]]] = defaultdict(list)
    for row in point_rows:
        grouped[(row["attempt"], row["name"])].append(row)
    chunks = []
    for (attempt, name), rows in grouped.items():
        rows.sort(key=lambda r: r["step"])
        for start in range(0, len(rows), CHUNK_POINTS):  # a big batch (an import) is split
            part = rows[start : start + CHUNK_POINTS]
            packed = records(
                [r["step"] for r in part],
                [r["value"] for r in part],
                [r["created_at"] for r in part],
                [payload_epoch(r["payload"]) for r in part],
            )
            chunks.append(chunk_row(run_id, attempt, name, packed))
    return chunks


def merge_small_tails(session: Session, run_id: int, keys: Iterable[tuple[int, str]]) -> None:
    """Merge each (attempt, metric)'s newest small chunks (see the module docstring).

    Small: under half of `CHUNK_POINTS`. The newest small chunks, as many as fit in
    `CHUNK_POINTS` together, are merged once they are `MERGE_AT`, or hold half of it: chunks
    end up with 512 to 1,024 points, each point rewritten a few times at most, and a metric's
    newest chunks are never more than `MERGE_AT` small ones."""
    half = CHUNK_POINTS // 2
    for attempt, name in keys:
        newest = session.execute(
            select(RunEvent.id, func.length(RunEvent.points))
            .where(
                RunEvent.run_id == run_id,
                RunEvent.kind == "metric",
                RunEvent.name == name,
                RunEvent.attempt == attempt,
            )
            .order_by(RunEvent.step.desc())
            .limit(MERGE_AT)
        ).all()
        small: list[int] = []
        total = 0
        for row_id, size in newest:
            count = (size or 0) // POINT.itemsize
            if count >= half or total + count > CHUNK_POINTS:
                break
            small.append(row_id)
            total += count
        if len(small) < 2 or (len(small) < MERGE_AT and total < half):
            continue
        parts = session.execute(
            select(RunEvent.points).where(RunEvent.id.in_(small)).order_by(RunEvent.step)
        ).scalars()
        joined = np.concatenate([unpack(p) for p in parts if p])
        session.execute(delete(RunEvent).where(RunEvent.id.in_(small)))
        session.execute(insert(RunEvent), [chunk_row(run_id, attempt, name, joined, id=max(small))])
