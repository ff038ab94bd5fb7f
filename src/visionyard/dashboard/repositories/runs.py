"""SQL for runs and what they stream (metrics, logs, checkpoint records)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, delete, func, insert, select, update
from sqlalchemy.orm import Session

from visionyard.dashboard.repositories import name_contains, page
from visionyard.db.models import (
    Agent,
    CheckpointRecord,
    ConfigVersion,
    ExperimentGroup,
    Project,
    Run,
    RunEvent,
    RunState,
    RunTag,
)
from visionyard.runqueue.metric_chunks import read_points


def get(session: Session, run_id: int) -> Run | None:
    return session.scalar(
        select(Run).where(Run.id == run_id).execution_options(populate_existing=True)
    )


def project_exists(session: Session, project_id: int) -> bool:
    return session.scalar(select(Project.id).where(Project.id == project_id)) is not None


def group_project(session: Session, group_id: int) -> int | None:
    """The project a group belongs to (None: no such group)."""
    return session.scalar(select(ExperimentGroup.project_id).where(ExperimentGroup.id == group_id))


#: any SELECT: the filters apply to run lists and to grouped counts alike
SelectT = TypeVar("SelectT", bound=Select[*tuple[Any, ...]])


def _filtered(
    query: SelectT,
    *,
    project_id: int | None,
    state: RunState | None,
    group_id: int | None,
    tag: str | None,
    q: str | None,
    conditions: Sequence[ColumnElement[bool]],
    config_id: int | None = None,
) -> SelectT:
    """`query` narrowed to the runs meeting every filter of the run lists."""
    query = query.where(*conditions)
    if project_id is not None:
        query = query.where(Run.project_id == project_id)
    if state is not None:
        query = query.where(Run.state == state)
    if group_id is not None:
        query = query.where(Run.group_id == group_id)
    if config_id is not None:
        versions = select(ConfigVersion.id).where(ConfigVersion.config_id == config_id)
        query = query.where(Run.config_version_id.in_(versions))
    if tag is not None:
        query = query.where(Run.id.in_(select(RunTag.run_id).where(RunTag.tag == tag)))
    if q:
        query = query.where(name_contains(Run.name, q))
    return query


def list_page(
    session: Session,
    *,
    project_id: int | None,
    state: RunState | None,
    group_id: int | None,
    tag: str | None,
    q: str | None,
    order_by: ColumnElement[Any],
    config_id: int | None = None,
    conditions: Sequence[ColumnElement[bool]] = (),
    descending: bool,
    limit: int,
    offset: int,
) -> tuple[Sequence[Run], int]:
    """A page of runs ordered by `order_by` (runs without a value last, in either direction;
    then by id) among those meeting every condition, and how many meet them."""
    query = _filtered(
        select(Run),
        project_id=project_id,
        state=state,
        group_id=group_id,
        tag=tag,
        q=q,
        conditions=conditions,
        config_id=config_id,
    )
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    if descending:
        ordered = query.order_by(order_by.desc().nulls_last(), Run.id.desc())
    else:
        ordered = query.order_by(order_by.asc().nulls_last(), Run.id.asc())
    return session.scalars(ordered.limit(limit).offset(offset)).all(), int(total or 0)


def state_counts(
    session: Session,
    *,
    project_id: int | None,
    group_id: int | None,
    tag: str | None,
    q: str | None,
    conditions: Sequence[ColumnElement[bool]] = (),
) -> dict[RunState, int]:
    """How many runs meeting every filter are in each state (states without runs absent)."""
    query = _filtered(
        select(Run.state, func.count()).group_by(Run.state),
        project_id=project_id,
        state=None,
        group_id=group_id,
        tag=tag,
        q=q,
        conditions=conditions,
    )
    return {RunState(state): int(count) for state, count in session.execute(query)}


def key_values(
    session: Session, run_ids: Collection[int], expressions: Mapping[str, ColumnElement[Any]]
) -> dict[int, dict[str, Any]]:
    """run id -> {name: the value of its expression for that run} (one query for all)."""
    if not run_ids or not expressions:
        return {}
    names = list(expressions)
    columns = [expressions[name].label(f"k{i}") for i, name in enumerate(names)]
    rows = session.execute(select(Run.id, *columns).where(Run.id.in_(list(run_ids))))
    return {row[0]: dict(zip(names, row[1:], strict=True)) for row in rows}


def runs_in_project(session: Session, project_id: int, run_ids: Collection[int]) -> Sequence[Run]:
    """Those of `run_ids` that are runs of the project."""
    return session.scalars(
        select(Run).where(Run.project_id == project_id, Run.id.in_(list(run_ids))).order_by(Run.id)
    ).all()


def set_group(session: Session, run_ids: Collection[int], group_id: int | None) -> None:
    session.execute(update(Run).where(Run.id.in_(list(run_ids))).values(group_id=group_id))


def agent_names(session: Session, agent_ids: Collection[int]) -> dict[int, str]:
    if not agent_ids:
        return {}
    rows = session.execute(select(Agent.id, Agent.name).where(Agent.id.in_(agent_ids)))
    return {row.id: row.name for row in rows}


def config_versions(session: Session, version_ids: Collection[int]) -> dict[int, tuple[int, int]]:
    """config_version id -> (config id, version number)."""
    if not version_ids:
        return {}
    rows = session.execute(
        select(ConfigVersion.id, ConfigVersion.config_id, ConfigVersion.version).where(
            ConfigVersion.id.in_(version_ids)
        )
    )
    return {row.id: (row.config_id, row.version) for row in rows}


def count_queued_by(session: Session, user_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Run)
            .where(Run.created_by == user_id, Run.state == RunState.queued)
        )
        or 0
    )


def set_run_dir(session: Session, run_id: int, run_dir: str) -> None:
    session.execute(update(Run).where(Run.id == run_id).values(run_dir=run_dir))


def replace_tags(session: Session, run_id: int, tags: Iterable[str]) -> None:
    session.execute(delete(RunTag).where(RunTag.run_id == run_id))
    rows = [{"run_id": run_id, "tag": tag} for tag in sorted(set(tags))]
    if rows:
        session.execute(insert(RunTag), rows)


def remove(session: Session, run_id: int) -> None:
    # Bulk DELETE: the database cascades to events, tags and checkpoint records.
    session.execute(delete(Run).where(Run.id == run_id))


# ---- what a run streamed -----------------------------------------------------------------------


def metric_names(session: Session, run_id: int) -> list[str]:
    rows = session.scalars(
        select(RunEvent.name)
        .where(RunEvent.run_id == run_id, RunEvent.kind == "metric", RunEvent.name.is_not(None))
        .distinct()
        .order_by(RunEvent.name)
    )
    return [name for name in rows if name is not None]


def metric_first_steps(
    session: Session, run_id: int, names: Collection[str]
) -> dict[tuple[str, int], int]:
    """{(name, attempt): the first step that attempt logged the metric at}."""
    rows = session.execute(
        select(RunEvent.name, RunEvent.attempt, func.min(RunEvent.step))
        .where(
            RunEvent.run_id == run_id,
            RunEvent.kind == "metric",
            RunEvent.name.in_(names),
            RunEvent.step.is_not(None),
        )
        .group_by(RunEvent.name, RunEvent.attempt)
    ).all()
    return {(str(name), attempt): first for name, attempt, first in rows if first is not None}


def logs_after(
    session: Session, run_id: int, after_id: int, limit: int, before_id: int | None = None
) -> Sequence[RunEvent]:
    """Up to `limit` log lines after `after_id` (before `before_id` when given), oldest first."""
    query = select(RunEvent).where(
        RunEvent.run_id == run_id, RunEvent.kind == "log", RunEvent.id > after_id
    )
    if before_id is not None:
        query = query.where(RunEvent.id < before_id)
    return session.scalars(query.order_by(RunEvent.id).limit(limit)).all()


def logs_tail(
    session: Session, run_id: int, tail: int, before_id: int | None = None
) -> list[RunEvent]:
    """The last `tail` log lines (before `before_id` when given), oldest first."""
    query = select(RunEvent).where(RunEvent.run_id == run_id, RunEvent.kind == "log")
    if before_id is not None:
        query = query.where(RunEvent.id < before_id)
    newest_first = session.scalars(query.order_by(RunEvent.id.desc()).limit(tail)).all()
    return list(reversed(newest_first))


def checkpoints_page(
    session: Session, run_id: int, *, descending: bool, limit: int, offset: int
) -> tuple[Sequence[CheckpointRecord], int]:
    return page(
        session,
        select(CheckpointRecord).where(CheckpointRecord.run_id == run_id),
        sort_column=CheckpointRecord.step,
        id_column=CheckpointRecord.id,
        descending=descending,
        limit=limit,
        offset=offset,
    )


def get_many(session: Session, run_ids: Collection[int]) -> Sequence[Run]:
    return session.scalars(select(Run).where(Run.id.in_(list(run_ids)))).all()


def metric_points_of_runs(
    session: Session, run_ids: Collection[int], names: Collection[str]
) -> list[tuple[int, str, int, int, float | None, int | None, float]]:
    """(run id, name, step, attempt, value, epoch, time) of the named metrics of these runs."""
    out: list[tuple[int, str, int, int, float | None, int | None, float]] = []
    for (run_id, name), p in read_points(session, run_ids, names).items():
        rows = zip(p.steps.tolist(), p.attempts.tolist(), p.value_list(), p.epoch_list(),
                   p.times.tolist(), strict=True)  # fmt: skip
        out.extend((run_id, name, step, a, value, epoch, t) for step, a, value, epoch, t in rows)
    return out


def first_metric_times(session: Session, run_ids: Collection[int]) -> dict[int, float]:
    """Per run, when its first metric point (of any metric, any attempt) was logged."""
    if not run_ids:
        return {}
    rows = session.execute(
        select(RunEvent.run_id, func.min(RunEvent.created_at))
        .where(RunEvent.run_id.in_(list(run_ids)), RunEvent.kind == "metric")
        .group_by(RunEvent.run_id)
    ).all()
    return {run_id: float(first) for run_id, first in rows if first is not None}
