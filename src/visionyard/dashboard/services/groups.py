"""Experiment groups: named sets of runs inside a project."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from visionyard.dashboard.repositories import groups as repo
from visionyard.dashboard.services.projects import get_project
from visionyard.db.models import ExperimentGroup
from visionyard.errors import ConflictError, NotFoundError


def _duplicate(name: str) -> ConflictError:
    return ConflictError(f"this project already has a group named {name!r}; choose another name")


def get_group(session: Session, group_id: int) -> ExperimentGroup:
    group = repo.get(session, group_id)
    if group is None:
        raise NotFoundError(
            f"experiment group {group_id} does not exist; list the project's groups"
        )
    return group


def create_group(
    session: Session, project_id: int, *, name: str, description: str
) -> ExperimentGroup:
    get_project(session, project_id)
    if repo.get_by_name(session, project_id, name) is not None:
        raise _duplicate(name)
    try:
        return repo.add(session, project_id=project_id, name=name, description=description)
    except IntegrityError:
        # a concurrent create of the same name, or the project deleted meanwhile
        raise _duplicate(name) from None


def list_groups(
    session: Session,
    project_id: int,
    *,
    q: str | None,
    sort: str,
    descending: bool,
    limit: int,
    offset: int,
) -> tuple[Sequence[ExperimentGroup], int]:
    get_project(session, project_id)
    return repo.list_page(
        session,
        project_id=project_id,
        q=q,
        sort=sort,
        descending=descending,
        limit=limit,
        offset=offset,
    )


def update_group(
    session: Session, group_id: int, *, name: str | None, description: str | None
) -> ExperimentGroup:
    group = get_group(session, group_id)
    if name is not None and name != group.name:
        if repo.get_by_name(session, group.project_id, name) is not None:
            raise _duplicate(name)
        group.name = name
    if description is not None:
        group.description = description
    try:
        session.flush()
    except IntegrityError:
        raise _duplicate(name or group.name) from None
    return group


def delete_group(session: Session, group_id: int) -> None:
    """Delete the group; its runs stay, with no group (the foreign key sets NULL)."""
    get_group(session, group_id)
    repo.remove(session, group_id)
