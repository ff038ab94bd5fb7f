"""SQL for run summaries: the stored per-metric summaries of runs."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from visionyard.db.models import Run, RunMetricSummary


def metric_summaries(session: Session, wanted: Mapping[int, str]) -> dict[int, RunMetricSummary]:
    """run id -> the summary of the one metric `wanted` names for it (absent: not logged)."""
    if not wanted:
        return {}
    rows = session.scalars(
        select(RunMetricSummary).where(
            RunMetricSummary.run_id.in_(list(wanted)),
            RunMetricSummary.name.in_(set(wanted.values())),
        )
    )
    return {row.run_id: row for row in rows if wanted.get(row.run_id) == row.name}


def summaries_of(
    session: Session, run_ids: Collection[int], names: Collection[str] | None = None
) -> list[RunMetricSummary]:
    """The stored summaries of these runs (of `names` only, when given)."""
    query = select(RunMetricSummary).where(RunMetricSummary.run_id.in_(list(run_ids)))
    if names is not None:
        query = query.where(RunMetricSummary.name.in_(list(names)))
    return list(session.scalars(query.order_by(RunMetricSummary.run_id, RunMetricSummary.name)))


def metric_names_of_project(session: Session, project_id: int) -> list[tuple[str, int]]:
    """(metric name, how many runs logged it) of every metric the project's runs logged."""
    rows = session.execute(
        select(RunMetricSummary.name, func.count())
        .join(Run, Run.id == RunMetricSummary.run_id)
        .where(Run.project_id == project_id)
        .group_by(RunMetricSummary.name)
        .order_by(RunMetricSummary.name)
    )
    return [(name, int(count)) for name, count in rows]
