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
from typing import TypeVar

from sqlalchemy.orm import Session

from visionyard.dashboard.repositories import runs as repo
from visionyard.dashboard.services.runs import run_or_404
from visionyard.errors import NotFoundError
from visionyard.runqueue.events import STEP_LOSS_METRIC, STEP_LR_METRIC
from visionyard.runqueue.metric_summary import current_points
from visionyard.training.metric_registry import is_known_metric_name

#: the trainer's per-step scalars ("train_step" events), logged for every run
STEP_METRICS = frozenset({STEP_LOSS_METRIC, STEP_LR_METRIC})
#: the splits whose scalars are registry metrics ("<split>/<metric>")
EVALUATED_SPLITS = ("train", "val", "test")
#: the agent's host samples: their names depend on the machine, so any "system/<x>" may come
SYSTEM_PREFIX = "system/"
#: how many of the run's names an unknown-name message lists
NAMES_IN_MESSAGE = 20

V = TypeVar("V")


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


def downsample_indices(values: Sequence[float | None], max_points: int) -> Sequence[int]:
    """The positions of the points to show: at most `max_points`, the minimum and maximum of
    each of max_points // 2 consecutive buckets, in order (equal values resolve by position,
    NaNs as Python's comparisons order them); a bucket of only gaps keeps its first."""
    n = len(values)
    if n <= max_points:
        return range(n)
    buckets = max(1, max_points // 2)
    out: list[int] = []
    for b in range(buckets):
        start, stop = b * n // buckets, (b + 1) * n // buckets
        finite = [(v, i) for i, v in enumerate(values[start:stop], start) if v is not None]
        if not finite:
            out.append(start)  # all gaps: keep one, so the chart shows the gap
            continue
        low, high = min(finite)[1], max(finite)[1]
        out.extend(sorted({low, high}))
    return out


def current_in_window(
    name: str, rows: Sequence[tuple[int, int, V]], firsts: dict[tuple[str, int], int]
) -> list[tuple[int, V]]:
    """`current_points` for the rows of a step window: a point of attempt A survives below the
    first step of every later attempt, wherever that attempt began (`firsts`)."""
    attempts = sorted({a for (n, a) in firsts if n == name}, reverse=True)
    cutoff: dict[int, float] = {}
    lowest: float = float("inf")
    for attempt in attempts:
        cutoff[attempt] = lowest
        lowest = min(lowest, firsts[(name, attempt)])
    kept = [(step, value) for step, attempt, value in rows if step < cutoff.get(attempt, lowest)]
    kept.sort(key=lambda p: p[0])
    return kept


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
    candidates = [n for n in dict.fromkeys(names) if not expected_metric_name(n)]
    if candidates:
        known = repo.metric_names(session, run_id)
        stored = set(known)
        unknown = [n for n in candidates if n not in stored]
        if unknown:
            raise NotFoundError(_unknown_names_message(run_id, unknown, known))
    # Which points a chart shows depends only on steps, attempts and values: those are read for
    # every point, when each was logged and its epoch only for the points shown (reading them
    # for all of a 100k-point series was most of its time).
    firsts = repo.metric_first_steps(session, run_id, set(names)) if step_min is not None else None
    series = []
    for name in dict.fromkeys(names):  # the caller's order, without duplicates
        steps, attempts, values = repo.metric_values(
            session, run_id, name, step_min=step_min, step_max=step_max
        )
        if firsts is None:
            single_attempt = not attempts or min(attempts) == max(attempts)
        else:  # the window's points may all be one attempt that a later one, below it, redid
            single_attempt = sum(1 for n, _ in firsts if n == name) <= 1
        # One attempt (the common case): all its points are current, already in step order.
        if not single_attempt:
            rows = zip(steps, attempts, zip(values, attempts, strict=True), strict=True)
            found = list(rows)
            current = (
                current_points(found) if firsts is None else current_in_window(name, found, firsts)
            )
            steps = [step for step, _ in current]
            values = [value for _, (value, _) in current]
            attempts = [attempt for _, (_, attempt) in current]
        shown = downsample_indices(values, max_points)
        details = repo.metric_point_details(
            session, run_id, name, [(attempts[i], steps[i]) for i in shown]
        )
        picked = [details[(attempts[i], steps[i])] for i in shown]
        series.append(
            Series(
                name=name,
                steps=[steps[i] for i in shown],
                values=[values[i] for i in shown],
                times=[time for time, _ in picked],
                epochs=[epoch for _, epoch in picked],
                total=len(steps),
                downsampled=len(shown) < len(steps),
            )
        )
    return series
