"""What a project's runs can be sorted, filtered and shown by: the metrics they logged (from
the stored per-metric summaries, no points read) and the scalar config fields.

A table builds its column chooser from this; every name it gives is a valid key of the run
lists' `sort=`, `filter=` and `column=` (`best:` only where which way is better is known).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from visionyard.dashboard.repositories import run_summaries as summaries_repo
from visionyard.dashboard.repositories import runs as runs_repo
from visionyard.dashboard.services.projects import project_not_found
from visionyard.dashboard.services.run_keys import (
    METRIC_NAME,
    PARAM_TYPES,
    ValueType,
    metric_direction,
)
from visionyard.dashboard.services.run_summary import SUMMARY_PARAMS
from visionyard.training.metric_registry import Direction


@dataclass(frozen=True)
class MetricKey:
    name: str
    direction: Direction | None
    runs: int


@dataclass(frozen=True)
class ParamKey:
    name: str
    type: ValueType
    summary: bool


@dataclass(frozen=True)
class RunKeys:
    metrics: list[MetricKey]
    params: list[ParamKey]


def run_keys(session: Session, project_id: int) -> RunKeys:
    if not runs_repo.project_exists(session, project_id):
        raise project_not_found(project_id)
    metrics = [
        MetricKey(name, metric_direction(name), runs)
        for name, runs in summaries_repo.metric_names_of_project(session, project_id)
        # a name the key grammar cannot take could not be asked for anyway
        if METRIC_NAME.fullmatch(name)
    ]
    params = [ParamKey(n, PARAM_TYPES[n], True) for n in SUMMARY_PARAMS if n in PARAM_TYPES]
    params += [
        ParamKey(n, kind, False)
        for n, kind in sorted(PARAM_TYPES.items())
        if n not in SUMMARY_PARAMS
    ]
    return RunKeys(metrics=metrics, params=params)
