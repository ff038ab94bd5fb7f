"""A run's metric series: which metrics it logged, and each one's current points, downsampled.

Decisions (documented for the API's users):

- Metric series keep, per metric, only the points of the attempt that is current for each step:
  a point of attempt A at step S is dropped when a later attempt logged that metric at a step
  <= S (it resumed from an earlier checkpoint, so A's values from there on were redone). For a
  step both attempts logged this is "the latest attempt wins"; it also drops the stale tail
  of the older attempt beyond the step the newer one resumed from.
- Series longer than ``max_points`` are downsampled by min/max buckets: the points are cut into
  (max_points - 1) // 2 consecutive buckets and each bucket keeps its minimum and its maximum
  (in step order), so spikes survive at any zoom; a bucket of only gaps (null values) keeps one
  gap; the series' last point is kept too, so a chart ends on the run's last value. A
  long series of one attempt (at least 64 points per point shown) is cut at its storage chunks'
  boundaries instead (buckets of whole chunks, about 512 to 1,024 points each), so that its
  chart reads each chunk's stored extremes rather than every point (`coarse_series`).
- ``step_min`` / ``step_max`` (inclusive, either or both) keep the current points inside that
  step window before downsampling, so a chart zoomed into a window gets it at full resolution;
  ``total`` then counts the window's points (none when step_min > step_max). Which points are
  current is decided on the whole series first (a later attempt's point below the window still
  supersedes older ones in it).
- Each point comes with when it was logged (``times``, unix seconds) and the trainer's epoch
  of it (``epochs``, null when it did not say), for charts drawn against time or epochs.
- A requested name is served (possibly as an empty series) when the run has logged it, or when
  it is one the platform reports for every run and may simply not have arrived yet: the
  trainer's "train/step_loss" and "train/lr", "<train|val|test>/<registered metric>" (see
  `visionyard.training.metric_registry`) and the agent's "system/<sample>". Any other name is a
  404 naming it and the run's own metric names (`GET /runs/{id}/metrics` lists them all), so a
  misspelling is not mistaken for a metric not logged yet while a queued run's charts still load.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy.orm import Session

from visionyard.dashboard.repositories import runs as repo
from visionyard.dashboard.services.runs import run_or_404
from visionyard.errors import NotFoundError
from visionyard.runqueue import metric_chunks
from visionyard.runqueue.events import STEP_LOSS_METRIC, STEP_LR_METRIC
from visionyard.runqueue.metric_chunks import EMPTY, ChunkInfo, Points
from visionyard.training.metric_registry import is_known_metric_name

#: the trainer's per-step scalars ("train_step" events), logged for every run
STEP_METRICS = frozenset({STEP_LOSS_METRIC, STEP_LR_METRIC})
#: the splits whose scalars are registry metrics ("<split>/<metric>")
EVALUATED_SPLITS = ("train", "val", "test")
#: the agent's host samples: their names depend on the machine, so any "system/<x>" may come
SYSTEM_PREFIX = "system/"
#: how many of the run's names an unknown-name message lists
NAMES_IN_MESSAGE = 20
#: a series with at least this many points per point shown (and a chunk per bucket) is
#: downsampled from its chunks' extremes, without reading its points (`coarse_series`)
COARSE_POINTS_PER_SHOWN = 64


@dataclass(frozen=True)
class Series:
    name: str
    steps: list[int]
    values: list[float | None]
    times: list[float]
    epochs: list[int | None]
    total: int
    downsampled: bool


def metric_names(session: Session, run_id: int) -> list[str]:
    run_or_404(session, run_id)
    return repo.metric_names(session, run_id)


def expected_metric_name(name: str) -> bool:
    """True if every run may report `name` later, though this one has not logged it yet."""
    if name in STEP_METRICS:
        return True
    if name.startswith(SYSTEM_PREFIX):
        return len(name) > len(SYSTEM_PREFIX)
    split, _, scalar = name.partition("/")
    return split in EVALUATED_SPLITS and is_known_metric_name(scalar)


def _unknown_names_message(run_id: int, unknown: Sequence[str], known: Sequence[str]) -> str:
    listed = ", ".join(known[:NAMES_IN_MESSAGE]) if known else "none yet"
    if len(known) > NAMES_IN_MESSAGE:
        listed += f" (and {len(known) - NAMES_IN_MESSAGE} more)"
    return (
        f"run {run_id} has no metric {', '.join(repr(n) for n in unknown)}; "
        f"its metrics: {listed}; GET /api/v1/runs/{run_id}/metrics lists them all"
    )


def bucket_count(max_points: int) -> int:
    """Buckets of a downsampled series: two points each (its minimum and maximum), and one
    point of `max_points` left for the series' last point (see `downsample_indices`)."""
    return max(1, (max_points - 1) // 2)


def downsample_indices(values: np.ndarray, max_points: int) -> np.ndarray:
    """The positions of the points to show: at most `max_points`, the minimum and maximum of
    each of `bucket_count(max_points)` consecutive buckets, in order (equal values resolve to
    the first position for the minimum, the last for the maximum), then the last point if no
    bucket kept it: a chart ends where its series does, and its last value is the run's.
    `values` are floats with NaN for a gap; a bucket of only gaps keeps its first."""
    n = len(values)
    if n <= max_points:
        return np.arange(n)
    buckets = bucket_count(max_points)
    bounds = (np.arange(buckets + 1) * n // buckets).tolist()
    out: list[int] = []
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        found = metric_chunks.extreme_positions(values[start:stop])
        if found is None:
            out.append(start)  # all gaps: keep one, so the chart shows the gap
        else:
            out.extend(sorted({start + found[0], start + found[1]}))
    if out[-1] != n - 1 and len(out) < max_points:
        out.append(n - 1)
    return np.asarray(out, dtype=np.int64)


def current_mask(points: Points, firsts: dict[int, int]) -> np.ndarray:
    """Which of one metric's points are current: a point of attempt A survives below the first
    step of every later attempt (`firsts`: each attempt's first step of the metric, over the
    whole series even when `points` is a window of it)."""
    cutoff: dict[int, float] = {}
    lowest = float("inf")
    for attempt in sorted(firsts, reverse=True):
        cutoff[attempt] = lowest
        lowest = min(lowest, firsts[attempt])
    limits = np.array([cutoff.get(a, lowest) for a in points.attempts.tolist()], dtype=float)
    return points.steps < limits


def _series(name: str, shown: Points, total: int) -> Series:
    return Series(
        name=name,
        steps=shown.steps.tolist(),
        values=shown.value_list(),
        times=shown.times.tolist(),
        epochs=shown.epoch_list(),
        total=total,
        downsampled=len(shown) < total,
    )


def coarse_series(
    session: Session,
    name: str,
    chunks: Sequence[ChunkInfo],
    max_points: int,
    step_min: int | None,
    step_max: int | None,
) -> Series | None:
    """The series of a long metric of one attempt from its chunks' extremes, without reading
    their points (but for the chunks the window cuts, and the last one, for the last point);
    None when it is too short for that: fewer than COARSE_POINTS_PER_SHOWN points per point
    shown, or fewer chunks (with points in the window) than buckets.

    Its buckets are runs of whole chunks (`bucket_count(max_points)` of them, chunk i of C in
    bucket i * buckets // C) instead of runs of equal point counts: each still keeps its
    minimum (the first point holding it) and its maximum (the last), and a bucket of only gaps
    its first point; the last point follows if no bucket kept it, as `downsample_indices`."""
    buckets = bucket_count(max_points)
    enough = COARSE_POINTS_PER_SHOWN * max_points
    if len(chunks) < buckets or sum(c.count for c in chunks) < enough:  # cheap: before the cut
        return None
    low = step_min if step_min is not None else -(2**63)
    high = step_max if step_max is not None else 2**63 - 1
    inside = [c for c in chunks if c.last_step >= low and c.first_step <= high]
    cut = {c.id for c in inside if c.first_step < low or c.last_step > high}
    if inside:
        cut.add(inside[-1].id)  # holds the window's last point
    points = metric_chunks.read_chunk_points(session, sorted(cut))
    parts: list[tuple[np.ndarray, int]] = []  # per chunk inside the window: extremes, count
    last_point: np.ndarray | None = None
    for chunk in inside:
        if chunk.id in points:
            records = points[chunk.id]
            records = records[(records["step"] >= low) & (records["step"] <= high)]
            if len(records):
                parts.append((metric_chunks.extremes(records), len(records)))
                last_point = records[-1:] if chunk is inside[-1] else None
        else:
            parts.append((chunk.extremes, chunk.count))
    total = sum(n for _, n in parts)
    if len(parts) < buckets or total < enough:  # the same rule on the window's own points
        return None
    if last_point is None:  # the window ends between two points of its last chunk: rare
        return None  # the caller reads the points
    shown: list[np.ndarray] = []
    for b in range(buckets):
        group = parts[b * len(parts) // buckets : (b + 1) * len(parts) // buckets]
        # The first chunk holding the minimum (its first such point), the last holding the
        # maximum (its last): the points the exact downsampling keeps. A chunk of only gaps
        # has gaps for both.
        lows = metric_chunks.extreme_positions(np.array([ends["value"][0] for ends, _ in group]))
        highs = metric_chunks.extreme_positions(np.array([ends["value"][1] for ends, _ in group]))
        if lows is None or highs is None:  # only gaps: keep one, so the chart shows the gap
            shown.append(group[0][0][:1])
            continue
        pair = np.concatenate([group[lows[0]][0][:1], group[highs[1]][0][1:]])
        pair = pair[np.argsort(pair["step"], kind="stable")]
        shown.append(pair[:1] if pair["step"][0] == pair["step"][1] else pair)
    if last_point["step"][0] > shown[-1]["step"][-1]:
        shown.append(last_point)
    drawn = metric_chunks.as_points([(chunks[0].attempt, np.concatenate(shown))])
    return _series(name, drawn, total)


def metric_series(
    session: Session,
    run_id: int,
    names: Sequence[str],
    max_points: int,
    *,
    step_min: int | None = None,
    step_max: int | None = None,
) -> list[Series]:
    """The named series (see the module docstring for which names are served), within the
    step window when given; raises NotFoundError (404) naming the names that are neither the
    run's nor expected of it. A window that ends before it starts holds no points."""
    run_or_404(session, run_id)
    wanted = list(dict.fromkeys(names))  # the caller's order, without duplicates
    candidates = [n for n in wanted if not expected_metric_name(n)]
    if candidates:
        known = repo.metric_names(session, run_id)
        stored = set(known)
        unknown = [n for n in candidates if n not in stored]
        if unknown:
            raise NotFoundError(_unknown_names_message(run_id, unknown, known))
    # Where each attempt began decides which points are current, also below a window.
    firsts = repo.metric_first_steps(session, run_id, set(wanted))
    starts = {n: {a: first for (m, a), first in firsts.items() if m == n} for n in wanted}
    window = {"step_min": step_min, "step_max": step_max}
    # A long metric of one attempt is drawn from its chunks' extremes (see `coarse_series`).
    infos = metric_chunks.read_chunk_infos(
        session, run_id, [n for n in wanted if len(starts[n]) == 1], **window
    )
    coarse = {
        name: drawn
        for name, chunks in infos.items()
        if (drawn := coarse_series(session, name, chunks, max_points, step_min, step_max))
    }
    exact = [n for n in wanted if n not in coarse]
    found = {
        name: points
        for (_, name), points in metric_chunks.read_points(
            session, [run_id], exact, **window
        ).items()
    }
    series = []
    for name in wanted:
        if name in coarse:
            series.append(coarse[name])
            continue
        points = found.get(name, EMPTY)
        if len(starts[name]) > 1:  # a resumed run: drop the points later attempts redid
            points = points.take(current_mask(points, starts[name]))
        shown = points.take(downsample_indices(points.values, max_points))
        series.append(_series(name, shown, len(points)))
    return series
