"""A run at a glance, for run lists and comparisons: its monitored metric (best and last), how
long it has run, how many epochs it has done, and the hyper-parameters that tell runs apart.

- The monitored metric is the config's: ``val/<monitor_metric>``, best by ``monitor_mode``
  ("auto": the metric's own direction), the same choice the trainer makes for its best
  checkpoint. Values come from `run_metric_summaries` (current points only).
- ``duration_s``: wall time from the first start to the end, or to now while it is unfinished
  (time waiting between attempts included); null before it first starts.
- ``epochs_done``: the epochs whose evaluation has arrived, of ``epochs_total`` (the config's).
- ``params``: a small fixed set of config fields (`SUMMARY_PARAMS`); TrainConfig has no image
  size field (the model's image processor decides it).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from visionyard.dashboard.repositories import run_summaries as repo
from visionyard.dashboard.services.run_keys import DEFAULT_MONITOR, MONITOR_SPLIT
from visionyard.db.models import Run, RunMetricSummary
from visionyard.db.timestamps import as_utc
from visionyard.training.metric_registry import Direction, metric_for

#: the config fields a summary shows
SUMMARY_PARAMS = (
    "model_flavour",
    "epochs",
    "batch_size",
    "lr",
    "optimizer",
    "scheduler",
    "weight_decay",
)


@dataclass(frozen=True)
class MonitoredMetric:
    name: str
    mode: Direction
    best: float | None
    best_step: int | None
    last: float | None
    last_step: int | None


@dataclass(frozen=True)
class RunSummary:
    monitor: MonitoredMetric
    duration_s: float | None
    epochs_done: int
    epochs_total: int | None
    params: dict[str, Any]


def monitor_of(snapshot: Mapping[str, Any]) -> tuple[str, Direction]:
    """(stored metric name, mode) of the metric a config monitors."""
    metric = snapshot.get("monitor_metric")
    if not isinstance(metric, str):
        metric = DEFAULT_MONITOR
    mode = snapshot.get("monitor_mode")
    if mode not in ("min", "max"):
        spec = metric_for(metric)
        mode = spec.direction if spec is not None else "max"
    return MONITOR_SPLIT + metric, mode


def _seconds(run: Run, now: float) -> float | None:
    started = as_utc(run.started_at)
    if started is None:
        return None
    finished = as_utc(run.finished_at)
    end = finished.timestamp() if finished is not None else now
    return round(max(0.0, end - started.timestamp()), 3)


def summarise(run: Run, row: RunMetricSummary | None, now: float) -> RunSummary:
    snapshot = run.config_snapshot or {}
    name, mode = monitor_of(snapshot)
    best, best_step = None, None
    if row is not None:
        best, best_step = (
            (row.min_value, row.min_step) if mode == "min" else (row.max_value, row.max_step)
        )
    epochs = snapshot.get("epochs")
    return RunSummary(
        monitor=MonitoredMetric(
            name=name,
            mode=mode,
            best=best,
            best_step=best_step,
            last=row.last_value if row is not None else None,
            last_step=row.last_step if row is not None else None,
        ),
        duration_s=_seconds(run, now),
        epochs_done=(row.last_epoch or 0) if row is not None else 0,
        epochs_total=epochs if isinstance(epochs, int) else None,
        params={key: snapshot.get(key) for key in SUMMARY_PARAMS},
    )


def summaries(
    session: Session, runs: Sequence[Run], now: float | None = None
) -> dict[int, RunSummary]:
    """Each run's summary, with one query for all their monitored metrics."""
    at = time.time() if now is None else now
    monitored = {run.id: monitor_of(run.config_snapshot or {})[0] for run in runs}
    rows = repo.metric_summaries(session, monitored)
    return {run.id: summarise(run, rows.get(run.id), at) for run in runs}
