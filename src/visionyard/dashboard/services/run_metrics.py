"""A run's metric series: which metrics it logged, and each one's current points, downsampled.

Decisions (documented for the API's users):

- Metric series keep, per metric, only the points of the attempt that is current for each step:
  a point of attempt A at step S is dropped when a later attempt logged that metric at a step
  <= S (it resumed from an earlier checkpoint, so A's values from there on were redone). For a
  step both attempts logged this is "the latest attempt wins"; it also drops the stale tail
  of the older attempt beyond the step the newer one resumed from.
- Series longer than ``max_points`` are downsampled by min/max buckets: the points are cut into
  max_points // 2 consecutive buckets and each bucket keeps its minimum and its maximum (in step
  order), so spikes survive at any zoom; a bucket of only gaps (null values) keeps one gap.
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
from visionyard.runqueue.events import STEP_LOSS_METRIC, STEP_LR_METRIC
from visionyard.runqueue.metric_chunks import EMPTY, Points
from visionyard.training.metric_registry import is_known_metric_name

#: the trainer's per-step scalars ("train_step" events), logged for every run
STEP_METRICS = frozenset({STEP_LOSS_METRIC, STEP_LR_METRIC})
#: the splits whose scalars are registry metrics ("<split>/<metric>")
EVALUATED_SPLITS = ("train", "val", "test")
#: the agent's host samples: their names depend on the machine, so any "system/<x>" may come
SYSTEM_PREFIX = "system/"
#: how many of the run's names an unknown-name message lists
NAMES_IN_MESSAGE = 20


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


def downsample_indices(values: np.ndarray, max_points: int) -> np.ndarray:
    """The positions of the points to show: at most `max_points`, the minimum and maximum of
    each of max_points // 2 consecutive buckets, in order (equal values resolve to the first
    position for the minimum, the last for the maximum); `values` are floats with NaN for a
    gap, and a bucket of only gaps keeps its first."""
    n = len(values)
    if n <= max_points:
        return np.arange(n)
    buckets = max(1, max_points // 2)
    bounds = np.arange(buckets + 1) * n // buckets
    gaps = np.isnan(values)
    # +inf/-inf in the gaps so that argmin/argmax skip them (one pass each, no per-bucket
    # Python over the points: a 1M-point series has 2,000 points a bucket).
    low_keys = np.where(gaps, np.inf, values)
    high_keys = np.where(gaps, -np.inf, values)
    out: list[int] = []
    for start, stop in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        if gaps[start:stop].all():
            out.append(start)  # all gaps: keep one, so the chart shows the gap
            continue
        low = start + int(np.argmin(low_keys[start:stop]))
        high = stop - 1 - int(np.argmax(high_keys[start:stop][::-1]))
        out.extend(sorted({low, high}))
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
    found = repo.metric_points(session, run_id, wanted, step_min=step_min, step_max=step_max)
    # In a window, which points are current depends on where each attempt began, which may be
    # below the window.
    windowed = step_min is not None or step_max is not None
    firsts = repo.metric_first_steps(session, run_id, set(wanted)) if windowed else {}
    series = []
    for name in wanted:
        points = found.get(name, EMPTY)
        if windowed:
            starts = {a: first for (n, a), first in firsts.items() if n == name}
        else:
            starts = {
                int(a): int(points.steps[points.attempts == a].min())
                for a in np.unique(points.attempts)
            }
        if len(starts) > 1:  # a resumed run: drop the points later attempts redid
            points = points.take(current_mask(points, starts))
        shown = points.take(downsample_indices(points.values, max_points))
        series.append(
            Series(
                name=name,
                steps=shown.steps.tolist(),
                values=shown.value_list(),
                times=shown.times.tolist(),
                epochs=shown.epoch_list(),
                total=len(points),
                downsampled=len(shown) < len(points),
            )
        )
    return series
