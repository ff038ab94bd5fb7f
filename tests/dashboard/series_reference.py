"""The run metric series computed the plain way, as the reference `run_metrics.metric_series`
must match exactly (tests/dashboard/test_runs.py): from the points themselves, in Python lists,
the current points by `current_points` over the whole series, then the window, then `downsample`
(on the points themselves, where the product's `downsample_indices` works on an array of the
values alone)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import TypeVar, cast

from visionyard.dashboard.services.run_metrics import COARSE_POINTS_PER_SHOWN, Series
from visionyard.runqueue.metric_summary import current_points

#: a current point's (value, time logged, epoch)
Point = tuple[float | None, float, int | None]
V = TypeVar("V")


def downsample(points: Sequence[tuple[int, V]], max_points: int) -> list[tuple[int, V]]:
    """At most `max_points` points: min and max of each of (max_points - 1) // 2 buckets (at
    least one), then the last point when no bucket kept it and there is room.

    A point's value is its first element when it is a tuple (value, extra...), else itself."""
    if len(points) <= max_points:
        return list(points)
    buckets = max(1, (max_points - 1) // 2)
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
    if out[-1] != points[-1] and len(out) < max_points:
        out.append(points[-1])
    return out


def _value_of(point: object) -> float | None:
    value = point[0] if isinstance(point, tuple) else point
    return cast(float | None, value)


def _chunk_buckets(
    groups: list[list[tuple[int, Point]]], max_points: int
) -> list[tuple[int, Point]] | None:
    """`metric_series`' rule for long series of one attempt: buckets of whole storage chunks
    (chunk i of C in bucket i * B // C), each keeping its first minimum and last maximum, then
    the last point; None when the series is too short for it."""
    groups = [g for g in groups if g]
    buckets = max(1, (max_points - 1) // 2)
    total = sum(len(g) for g in groups)
    if len(groups) < buckets or total < COARSE_POINTS_PER_SHOWN * max_points:
        return None
    shown: list[tuple[int, Point]] = []
    for b in range(buckets):
        points = [p for g in groups[b * len(groups) // buckets : (b + 1) * len(groups) // buckets]
                  for p in g]  # fmt: skip
        finite = [(p[1][0], i) for i, p in enumerate(points) if p[1][0] is not None]
        if not finite:
            shown.append(points[0])
            continue
        low = min(finite)[1]
        high = max(finite, key=lambda f: (f[0], f[1]))[1]
        shown.extend(points[i] for i in sorted({low, high}))
    if shown[-1] != groups[-1][-1]:
        shown.append(groups[-1][-1])
    return shown


def reference_series(
    points: Iterable[tuple[str, int, int, float | None, float, int | None]],
    names: Sequence[str],
    max_points: int,
    *,
    step_min: int | None = None,
    step_max: int | None = None,
    chunks: dict[str, list[tuple[int, int]]] | None = None,
) -> list[Series]:
    """The series `metric_series` serves for these points: (name, attempt, step, value, time,
    epoch) tuples of one run, any order; `chunks`: each metric's storage chunks as (first step,
    last step), for the rule long series of one attempt follow."""
    rows: dict[str, list[tuple[int, int, Point]]] = defaultdict(list)
    for name, attempt, step, value, time, epoch in points:
        rows[name].append((step, attempt, (value, time, epoch)))
    low = step_min if step_min is not None else -1
    high = step_max if step_max is not None else 2**62
    series = []
    for name in dict.fromkeys(names):  # the caller's order, without duplicates
        current = [p for p in current_points(rows.get(name, [])) if low <= p[0] <= high]
        shown = None
        if chunks and len({a for _, a, _ in rows.get(name, [])}) == 1:
            groups = [[p for p in current if first <= p[0] <= last]
                      for first, last in chunks.get(name, [])]  # fmt: skip
            shown = _chunk_buckets(groups, max_points)
        if shown is None:
            shown = downsample(current, max_points)
        series.append(
            Series(
                name=name,
                steps=[s for s, _ in shown],
                values=[p[0] for _, p in shown],
                times=[p[1] for _, p in shown],
                epochs=[p[2] for _, p in shown],
                total=len(current),
                downsampled=len(shown) < len(current),
            )
        )
    return series
