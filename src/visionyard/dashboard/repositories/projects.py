"""SQL for projects (and the run facts a project delete needs)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from visionyard.dashboard.repositories import name_contains, page
from visionyard.db.models import Project, Run, RunState

SORT_COLUMNS = {
    "name": Project.name,
    "created_at": Project.created_at,
    "updated_at": Project.updated_at,
}


def get(session: Session, project_id: int, *, for_update: bool = False) -> Project | None:
    query = select(Project).where(Project.id == project_id)
    if for_update:
        # PostgreSQL: blocks concurrent inserts of runs into this project (their FK check
        # takes a KEY SHARE lock on this row) until the delete commits. SQLite ignores it;
        # there BEGIN IMMEDIATE already serialises writers.
        query = query.with_for_update()
    return session.scalar(query)


def get_by_name(session: Session, name: str) -> Project | None:
    return session.scalar(select(Project).where(Project.name == name))


def add(session: Session, *, name: str, description: str, created_by: int | None) -> Project:
    project = Project(name=name, description=description, created_by=created_by)
    session.add(project)
    session.flush()
    return project


def list_page(
    session: Session,
    *,
    visible: Collection[int] | None,
    q: str | None,
    sort: str,
    descending: bool,
    limit: int,
    offset: int,
) -> tuple[Sequence[Project], int]:
    query = select(Project)
    if visible is not None:
        query = query.where(Project.id.in_(sorted(visible)))
    if q:
        query = query.where(name_contains(Project.name, q))
    return page(
        session,
        query,
        sort_column=SORT_COLUMNS[sort],
        id_column=Project.id,
        descending=descending,
        limit=limit,
        offset=offset,
    )


def runs_of(session: Session, project_id: int) -> Sequence[Run]:
    return session.scalars(select(Run).where(Run.project_id == project_id).order_by(Run.id)).all()


def active_runs(session: Session, project_id: int) -> Sequence[Run]:
    query = (
        select(Run)
        .where(Run.project_id == project_id, Run.state.in_([RunState.queued, RunState.running]))
        .order_by(Run.id)
    )
    return session.scalars(query).all()


def remove(session: Session, project_id: int) -> None:
    # A bulk DELETE, not session.delete(): the database's ON DELETE CASCADE / SET NULL rules
    # remove runs, events, groups, configs and models without loading them all.
    session.execute(delete(Project).where(Project.id == project_id))


def run_stats(
    session: Session, project_ids: Sequence[int]
) -> dict[int, tuple[int, RunState | None]]:
    """Per project: its run count and the state of its latest run (highest id: ids grow with
    creation). Two queries for a whole page of projects, whatever its size; a project without
    runs is absent."""
    if not project_ids:
        return {}
    grouped = session.execute(
        select(Run.project_id, func.count(Run.id), func.max(Run.id))
        .where(Run.project_id.in_(project_ids))
        .group_by(Run.project_id)
    ).all()
    latest_ids = [latest for _, _, latest in grouped]
    states = dict(session.execute(select(Run.id, Run.state).where(Run.id.in_(latest_ids))).all())
    return {pid: (n, states.get(latest)) for pid, n, latest in grouped}
