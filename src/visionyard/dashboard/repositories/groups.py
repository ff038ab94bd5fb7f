"""SQL for experiment groups (per project)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from visionyard.dashboard.repositories import project_named_page
from visionyard.db.models import ExperimentGroup

SORT_COLUMNS = {"name": ExperimentGroup.name, "created_at": ExperimentGroup.created_at}


def get(session: Session, group_id: int) -> ExperimentGroup | None:
    return session.get(ExperimentGroup, group_id)


def get_by_name(session: Session, project_id: int, name: str) -> ExperimentGroup | None:
    query = select(ExperimentGroup).where(
        ExperimentGroup.project_id == project_id, ExperimentGroup.name == name
    )
    return session.scalar(query)


def add(session: Session, *, project_id: int, name: str, description: str) -> ExperimentGroup:
    group = ExperimentGroup(project_id=project_id, name=name, description=description)
    session.add(group)
    session.flush()
    return group


def list_page(
    session: Session,
    *,
    project_id: int,
    q: str | None,
    sort: str,
    descending: bool,
    limit: int,
    offset: int,
) -> tuple[Sequence[ExperimentGroup], int]:
    return project_named_page(
        session,
        ExperimentGroup,
        project_id=project_id,
        q=q,
        sort_column=SORT_COLUMNS[sort],
        descending=descending,
        limit=limit,
        offset=offset,
    )


def remove(session: Session, group_id: int) -> None:
    # The runs.group_id foreign key is ON DELETE SET NULL: runs stay, ungrouped.
    session.execute(delete(ExperimentGroup).where(ExperimentGroup.id == group_id))
