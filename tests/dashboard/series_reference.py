"""The run metric series as they were read before `run_metrics.metric_series` learnt to read
when each point was logged and its epoch only for the points shown: every column of every
point, then downsampled by `downsample` (on the points themselves, where the product's
`downsample_indices` works on the values alone). Kept here, out of the product, as the
reference that `metric_series` must match exactly (tests/dashboard/test_runs.py and
bench/series_bench.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from typing import TypeVar, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from visionyard.dashboard.repositories import runs as repo
from visionyard.dashboard.services.run_metrics import (
    Series,
    current_in_window,
    current_points,
)
from visionyard.db.models import RunEvent

#: a current point's (value, time logged, epoch)
Point = tuple[float | None, float, int | None]
V = TypeVar("V")


def downsample(points: Sequence[tuple[int, V]], max_points: int) -> list[tuple[int, V]]:
    """At most `max_points` points: min and max of each of max_points // 2 buckets.

    A point's value is its first element when it is a tuple (value, extra...), else itself."""
    if len(points) <= max_points:
        return list(points)
    buckets = max(1, max_points // 2)
    n = len(points)
    out: list[tuple[int, V]] = []
    for b in range(buckets):
        chunk = range(b * n // buckets, (b + 1) * n // buckets)
        # (value, index) pairs: equal values resolve by position, deterministically.
        finite = [(v, i) for i in chunk if (v := _value_of(points[i][1])) is not None]
        if not finite:
            out.append(points[chunk.start])  # all gaps: keep one, so the chart shows the gap
            continue
        low, high = min(finite)[1], max(finite)[1]
        out.extend(points[i] for i in sorted({low, high}))
    return out


def _value_of(point: object) -> float | None:
    value = point[0] if isinstance(point, tuple) else point
    return cast(float | None, value)


def metric_points(
    session: Session,
    run_id: int,
    names: Collection[str],
    *,
    step_min: int | None = None,
    step_max: int | None = None,
) -> list[tuple[str, int, int, float | None, float, int | None]]:
    """(name, step, attempt, value, time, epoch) of the named metrics, ordered by name, attempt,
    step; only steps in [step_min, step_max] when given. `time` is when the point was logged
    (unix seconds), `epoch` the trainer's epoch of it, if it said."""
    query = select(
        RunEvent.name,
        RunEvent.step,
        RunEvent.attempt,
        RunEvent.value,
        RunEvent.created_at,
        # Extracted in SQL: decoding every payload in Python doubled the time of a long series.
        RunEvent.payload["epoch"].as_integer(),
    ).where(
        RunEvent.run_id == run_id,
        RunEvent.kind == "metric",
        RunEvent.name.in_(names),
        RunEvent.step.is_not(None),
    )
    if step_min is not None:
        query = query.where(RunEvent.step >= step_min)
    if step_max is not None:
        query = query.where(RunEvent.step <= step_max)
    rows = session.execute(query.order_by(RunEvent.name, RunEvent.attempt, RunEvent.step)).all()
    # Nullable columns, but `name IN (...)` and `step IS NOT NULL` leave no NULL name or step.
    return [
        (str(name), int(step), attempt, value, created_at, epoch)
        for name, step, attempt, value, created_at, epoch in rows
    ]


def metric_series_reading_every_column(
    session: Session,
    run_id: int,
    names: Sequence[str],
    max_points: int,
    *,
    step_min: int | None = None,
    step_max: int | None = None,
) -> list[Series]:
    """`metric_series` as it was: every column of every point read, then downsampled; it skips
    the name checks."""
    rows: dict[str, list[tuple[int, int, Point]]] = defaultdict(list)
    for name, step, attempt, value, time, epoch in metric_points(
        session, run_id, set(names), step_min=step_min, step_max=step_max
    ):
        rows[name].append((step, attempt, (value, time, epoch)))
    # In a window, which points are current depends on where each later attempt began, which
    # may lie before the window: asked for separately (one small grouped query).
    firsts = repo.metric_first_steps(session, run_id, set(names)) if step_min is not None else None
    series = []
    for name in dict.fromkeys(names):  # the caller's order, without duplicates
        found = rows.get(name, [])
        points = current_points(found) if firsts is None else current_in_window(name, found, firsts)
        shown = downsample(points, max_points)
        series.append(
            Series(
                name=name,
                steps=[s for s, _ in shown],
                values=[p[0] for _, p in shown],
                times=[p[1] for _, p in shown],
                epochs=[p[2] for _, p in shown],
                total=len(points),
                downsampled=len(shown) < len(points),
            )
        )
    return series
