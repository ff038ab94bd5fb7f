"""Comparing runs: their metrics aligned on one axis, and how their configs differ.

Decisions (documented for the API's users):

- 2 to `MAX_RUNS` distinct runs, in the order asked; unknown ids are one 404 naming them all.
- Metrics: the ones asked for (at most `MAX_METRICS`), or by default every per-epoch metric
  any of the runs logged ("<train|val|test>/<registered metric>"). A name none of the runs
  logged is served as an empty column when every run may report it later (as the metric
  series do), else a 404 naming it and the metrics the runs have.
- Rows: ``by=epoch`` (default) has one row per epoch any run evaluated; a run's value at an
  epoch is its point of that epoch with the highest step. Per-step metrics (the step loss, the
  learning rate, system samples) have no epoch: compare them ``by=step``, with one row per step
  any run logged; or ``by=time``, one row per whole second of wall time since the run's first
  metric point (any metric: in practice its first training step; pauses between attempts
  count), where a run's value at a second is its point of that second with the highest step.
  Only current points count (the newest attempt wins, as in the series).
  More than `max_rows` rows are thinned to evenly spaced ones (``downsampled``; the first and
  last are kept).
- Columns: one per (run, metric), ``values`` aligned with the rows; null where that run has no
  point (it never got there, or the value was not finite).
- Config: the top-level config fields whose values differ between the runs (a field a snapshot
  lacks counts as null), each with every run's value in run order; and the fields they share.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.orm import Session

from visionyard.dashboard.repositories import run_summaries as summaries_repo
from visionyard.dashboard.repositories import runs as repo
from visionyard.dashboard.services.run_keys import REGISTRY_SPLITS, metric_direction
from visionyard.dashboard.services.run_metrics import expected_metric_name
from visionyard.dashboard.services.run_summary import RunSummary, summaries
from visionyard.db.models import Run
from visionyard.errors import InvalidRequestError, NotFoundError
from visionyard.runqueue.metric_summary import current_points
from visionyard.training.metric_registry import Direction, is_known_metric_name

MIN_RUNS = 2
MAX_RUNS = 20
MAX_METRICS = 20
Axis = Literal["epoch", "step", "time"]


@dataclass(frozen=True)
class Column:
    run_id: int
    metric: str
    values: list[float | None]


@dataclass(frozen=True)
class ComparedMetric:
    name: str
    direction: Direction | None


@dataclass(frozen=True)
class ConfigDifference:
    key: str
    values: list[Any]


@dataclass(frozen=True)
class Comparison:
    runs: list[tuple[Run, RunSummary]]
    by: Axis
    x: list[int]
    total_rows: int
    downsampled: bool
    metrics: list[ComparedMetric]
    columns: list[Column]
    differing: list[ConfigDifference]
    same: dict[str, Any]


def per_epoch_metric(name: str) -> bool:
    """True for a metric evaluated once per epoch ("val/acc@1"), which `by=epoch` can align."""
    split, _, scalar = name.partition("/")
    return split in REGISTRY_SPLITS and is_known_metric_name(scalar)


def _runs(session: Session, ids: Sequence[int], visible: Collection[int] | None) -> list[Run]:
    wanted = list(dict.fromkeys(ids))
    if not MIN_RUNS <= len(wanted) <= MAX_RUNS:
        raise InvalidRequestError(
            f"compare takes {MIN_RUNS} to {MAX_RUNS} different runs, got {len(wanted)}; pass "
            "each as ids=<run id>",
            [{"field": "query.ids", "message": f"give {MIN_RUNS} to {MAX_RUNS} distinct ids"}],
        )
    found = {
        run.id: run
        for run in repo.get_many(session, wanted)
        if visible is None or run.project_id in visible
    }
    missing = [i for i in wanted if i not in found]
    if missing:
        listed = ", ".join(str(i) for i in missing)
        raise NotFoundError(
            f"run{'s' if len(missing) > 1 else ''} {listed} do{'' if len(missing) > 1 else 'es'}"
            " not exist; list runs (GET /api/v1/runs) to find their ids"
        )
    return [found[i] for i in wanted]


def _metrics(session: Session, runs: Sequence[Run], asked: Sequence[str], by: Axis) -> list[str]:
    logged = sorted({s.name for s in summaries_repo.summaries_of(session, [r.id for r in runs])})
    if not asked:
        return [n for n in logged if per_epoch_metric(n)][:MAX_METRICS]
    names = list(dict.fromkeys(asked))
    unknown = [n for n in names if n not in logged and not expected_metric_name(n)]
    if unknown:
        raise NotFoundError(
            f"none of these runs logged {', '.join(repr(n) for n in unknown)}; their metrics: "
            f"{', '.join(logged) or 'none yet'}"
        )
    if by == "epoch":
        per_step = [n for n in names if not per_epoch_metric(n)]
        if per_step:
            raise InvalidRequestError(
                f"{', '.join(repr(n) for n in per_step)} {'is' if len(per_step) == 1 else 'are'}"
                " logged per step, not per epoch; compare with by=step, or pick per-epoch "
                "metrics such as val/acc@1",
                [{"field": "query.metrics", "message": "per-step metric with by=epoch"}],
            )
    return names


def _aligned(
    session: Session, runs: Sequence[Run], names: Sequence[str], by: Axis
) -> tuple[list[int], dict[tuple[int, str], dict[int, float | None]]]:
    """The row positions and, per (run, metric), its value at each position it has."""
    ids = [r.id for r in runs]
    raw: dict[tuple[int, str], list[tuple[int, int, tuple[int | None, float | None, float]]]]
    raw = defaultdict(list)
    for run_id, name, step, attempt, value, epoch, time in repo.metric_points_of_runs(
        session, ids, names
    ):
        raw[(run_id, name)].append((step, attempt, (epoch, value, time)))
    started = repo.first_metric_times(session, ids) if by == "time" else {}
    cells: dict[tuple[int, str], dict[int, float | None]] = {}
    for key, rows in raw.items():
        points = current_points(rows)  # by step: a later step of one epoch (second) overwrites
        if by == "step":
            cells[key] = {step: value for step, (_, value, _) in points}
        elif by == "time":
            start = started.get(key[0], 0.0)
            cells[key] = {int(max(0.0, t - start)): value for _, (_, value, t) in points}
        else:
            cells[key] = {epoch: value for _, (epoch, value, _) in points if epoch is not None}
    x = sorted({position for values in cells.values() for position in values})
    return x, cells


def _thinned(x: list[int], max_rows: int) -> list[int]:
    if len(x) <= max_rows:
        return x
    last = len(x) - 1
    picks = sorted({round(i * last / (max_rows - 1)) for i in range(max_rows)})
    return [x[i] for i in picks]


def _canonical(value: Any) -> str:
    # JSON text tells 1 from 1.0 from true, which Python's == does not.
    return json.dumps(value, sort_keys=True)


def config_diff(
    snapshots: Sequence[dict[str, Any]],
) -> tuple[list[ConfigDifference], dict[str, Any]]:
    keys = sorted({key for snapshot in snapshots for key in snapshot})
    differing: list[ConfigDifference] = []
    same: dict[str, Any] = {}
    for key in keys:
        values = [snapshot.get(key) for snapshot in snapshots]
        if len({_canonical(v) for v in values}) == 1 and all(key in s for s in snapshots):
            same[key] = values[0]
        else:
            differing.append(ConfigDifference(key, values))
    return differing, same


def compare_runs(
    session: Session,
    ids: Iterable[int],
    metrics: Sequence[str],
    by: Axis,
    max_rows: int,
    *,
    visible_projects: Collection[int] | None = None,
) -> Comparison:
    """`visible_projects`: runs of other projects count as unknown ids (None: no limit)."""
    runs = _runs(session, list(ids), visible_projects)
    names = _metrics(session, runs, metrics, by)
    x, cells = _aligned(session, runs, names, by)
    shown = _thinned(x, max_rows)
    columns = [
        Column(run.id, name, [cells.get((run.id, name), {}).get(p) for p in shown])
        for name in names
        for run in runs
    ]
    differing, same = config_diff([dict(run.config_snapshot or {}) for run in runs])
    by_id = summaries(session, runs)
    return Comparison(
        runs=[(run, by_id[run.id]) for run in runs],
        by=by,
        x=shown,
        total_rows=len(x),
        downsampled=len(shown) < len(x),
        metrics=[ComparedMetric(n, metric_direction(n)) for n in names],
        columns=columns,
        differing=differing,
        same=same,
    )
