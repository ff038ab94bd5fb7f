"""Projects: create, list, rename/describe, and delete together with their runs' folders."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from visionyard.dashboard.repositories import projects as repo
from visionyard.dashboard.services.files import delete_run_files, run_dir_target
from visionyard.db.models import Project, ProjectMember, ProjectRole, RunState, utcnow
from visionyard.errors import ConflictError, NotFoundError, RunStateError
from visionyard.settings import Settings

__all__ = [
    "create_project",
    "delete_project",
    "delete_run_files",
    "get_project",
    "list_projects",
    "update_project",
]


def _duplicate(name: str) -> ConflictError:
    return ConflictError(f"a project named {name!r} already exists; choose another name")


def project_not_found(project_id: int) -> NotFoundError:
    """The one answer for a project id that names no project, wherever it is looked up."""
    return NotFoundError(f"project {project_id} does not exist; list projects to find its id")


def get_project(session: Session, project_id: int) -> Project:
    project = repo.get(session, project_id)
    if project is None:
        raise project_not_found(project_id)
    return project


def create_project(session: Session, *, name: str, description: str, creator: int) -> Project:
    """A new project; `creator` (a user id) becomes its owner."""
    if repo.get_by_name(session, name) is not None:
        raise _duplicate(name)
    try:
        # The check above is for the message; the unique index decides a concurrent race,
        # which flush() surfaces here (the request's transaction then rolls back).
        project = repo.add(session, name=name, description=description, created_by=creator)
    except IntegrityError:
        raise _duplicate(name) from None
    session.add(ProjectMember(project_id=project.id, user_id=creator, role=ProjectRole.owner.name))
    session.flush()
    return project


def list_projects(
    session: Session,
    *,
    visible: Collection[int] | None,
    q: str | None,
    sort: str,
    descending: bool,
    limit: int,
    offset: int,
) -> tuple[Sequence[Project], int]:
    """A page of the projects in `visible` (None: all of them)."""
    return repo.list_page(
        session, visible=visible, q=q, sort=sort, descending=descending, limit=limit, offset=offset
    )


def run_stats(
    session: Session, project_ids: Sequence[int]
) -> dict[int, tuple[int, RunState | None]]:
    """Per project: its run count and the state of its latest run; a project without runs is
    absent."""
    return repo.run_stats(session, project_ids)


def update_project(
    session: Session, project_id: int, *, name: str | None, description: str | None
) -> Project:
    project = get_project(session, project_id)
    if name is not None and name != project.name:
        other = repo.get_by_name(session, name)
        if other is not None:
            raise _duplicate(name)
        project.name = name
    if description is not None:
        project.description = description
    project.updated_at = utcnow()
    try:
        session.flush()
    except IntegrityError:
        raise _duplicate(name or project.name) from None
    return project


def delete_project(
    session: Session, settings: Settings, project_id: int, *, keep_files: bool = False
) -> None:
    """Delete the project, its rows (the database cascades) and its runs' folders.

    Refused (409) while a run is queued or running, and when a run folder lies outside the
    runs root; in both cases nothing is deleted. Folders are removed after the rows are
    deleted but before the transaction commits: if a folder cannot be removed the request
    fails and the project stays, so the delete can simply be retried (removal is idempotent).
    """
    project = repo.get(session, project_id, for_update=True)
    if project is None:
        raise project_not_found(project_id)
    active = repo.active_runs(session, project_id)
    if active:
        listed = ", ".join(f"{run.id} ({run.state.value})" for run in active[:10])
        more = f" and {len(active) - 10} more" if len(active) > 10 else ""
        raise RunStateError(
            f"project {project.name!r} has {len(active)} queued or running run(s): {listed}"
            f"{more}; cancel them first, then delete the project."
        )
    runs = list(repo.runs_of(session, project_id)) if not keep_files else []
    for run in runs:
        run_dir_target(settings, run)  # validate every folder before deleting anything
    repo.remove(session, project_id)
    session.flush()
    for run in runs:
        delete_run_files(settings, run)
