"""The SQL value of each run key (`visionyard.dashboard.services.run_keys`), as one column
expression on `runs`: the list sorts and filters in the database, on SQLite and PostgreSQL.

Metric keys read `run_metric_summaries` through a correlated scalar subquery on its primary key
(run_id, name): one index probe per run, no points read. Config fields come out of the run's
config snapshot with the JSON operators SQLAlchemy renders for each backend.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, Float, and_, case, cast, false, func, literal, or_, select
from sqlalchemy.orm import Session

from visionyard.dashboard.services.run_keys import (
    DEFAULT_MONITOR,
    MONITOR_SPLIT,
    RunFilter,
    RunKey,
)
from visionyard.db.models import Run, RunMetricSummary
from visionyard.training.metric_registry import METRICS, PARAMETER

S = RunMetricSummary
_UNIX_EPOCH_JULIAN_DAY = 2440587.5
_OPS: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "=": operator.eq,
    "!=": operator.ne,
}


def monitor_metric() -> ColumnElement[str]:
    """The registered metric the run's config monitors ("acc@1")."""
    return func.coalesce(Run.config_snapshot["monitor_metric"].as_string(), DEFAULT_MONITOR)


def _lower_is_better(metric: ColumnElement[str]) -> ColumnElement[bool]:
    """monitor_mode "auto": the registry's direction of `metric`, in SQL."""
    tests: list[ColumnElement[bool]] = []
    for spec in METRICS:
        if spec.direction != "min":
            continue
        if spec.is_family:
            tests.append(metric.like(spec.name.removesuffix(PARAMETER) + "@%"))
        else:
            tests.append(metric == spec.name)
    return or_(*tests) if tests else false()


def _summary(column: Any, name: ColumnElement[str] | str) -> ColumnElement[Any]:
    return select(column).where(S.run_id == Run.id, S.name == name).correlate(Run).scalar_subquery()


def _monitor_best() -> ColumnElement[Any]:
    metric = monitor_metric()
    mode = Run.config_snapshot["monitor_mode"].as_string()
    best = case(
        (mode == "min", S.min_value),
        (mode == "max", S.max_value),
        (_lower_is_better(metric), S.min_value),
        else_=S.max_value,
    )
    return _summary(best, literal(MONITOR_SPLIT) + metric)


def _epoch_seconds(session: Session, column: Any) -> ColumnElement[float]:
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.extract("epoch", column), Float)
    # SQLite keeps these columns as UTC text; julianday() reads it.
    return (func.julianday(column) - _UNIX_EPOCH_JULIAN_DAY) * 86400.0


def duration(session: Session, now: float) -> ColumnElement[float]:
    """Seconds from the first start to the end (or `now`); NULL before the first start."""
    end = case(
        (Run.finished_at.is_(None), literal(now, Float)),
        else_=_epoch_seconds(session, Run.finished_at),
    )
    return end - _epoch_seconds(session, Run.started_at)


def _metric(key: RunKey) -> ColumnElement[Any]:
    column = {
        "last": S.last_value,
        "min": S.min_value,
        "max": S.max_value,
        "best": S.min_value if key.direction == "min" else S.max_value,
    }[key.stat or "last"]
    return _summary(column, key.name)


def _param(key: RunKey) -> ColumnElement[Any]:
    field = Run.config_snapshot[key.name]
    value: ColumnElement[Any]
    if key.value_type == "number":
        value = field.as_float()
    elif key.value_type == "bool":
        value = field.as_boolean()
    else:
        value = field.as_string()
    return value


def expression(session: Session, key: RunKey, now: float) -> ColumnElement[Any]:
    """The run's value for `key` (NULL when it has none)."""
    if key.kind == "run":
        columns: dict[str, ColumnElement[Any]] = {
            "created_at": Run.__table__.c.created_at,
            "priority": Run.__table__.c.priority,
            "name": Run.__table__.c.name,
        }
        return columns[key.name]
    if key.kind == "param":
        return _param(key)
    if key.kind == "metric":
        return _metric(key)
    monitor = literal(MONITOR_SPLIT) + monitor_metric()
    if key.name == "duration":
        return duration(session, now)
    if key.name == "epochs_done":
        return func.coalesce(_summary(S.last_epoch, monitor), 0)
    if key.name == "last":
        return _summary(S.last_value, monitor)
    return _monitor_best()


def condition(session: Session, run_filter: RunFilter, now: float) -> ColumnElement[bool]:
    """The filter as a WHERE condition; a run without the value never matches."""
    value = expression(session, run_filter.key, now)
    return and_(value.is_not(None), _OPS[run_filter.op](value, run_filter.value))
