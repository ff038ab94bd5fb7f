"""Projects: `/projects` and `/projects/{project_id}`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, status

from visionyard.dashboard.access import (
    CurrentUser,
    ProjectOwner,
    ProjectViewer,
    roles_in,
    visible_project_ids,
)
from visionyard.dashboard.audit import about_project
from visionyard.dashboard.deps import SessionDep, StateDep
from visionyard.dashboard.schemas.common import IdPath, NameFilter, PageParams
from visionyard.dashboard.schemas.projects import (
    ProjectCreate,
    ProjectListItem,
    ProjectOut,
    ProjectPage,
    ProjectUpdate,
)
from visionyard.dashboard.services import projects as service
from visionyard.db.models import Project, ProjectRole

router = APIRouter(tags=["projects"])


def _out(project: Project, role: ProjectRole | None) -> ProjectOut:
    shown = role.name if role is not None else None
    return ProjectOut.model_validate(project).model_copy(update={"role": shown})


@router.get("/projects", operation_id="listProjects", response_model=ProjectPage)
def list_projects(
    user: CurrentUser,
    session: SessionDep,
    page: PageParams,
    q: NameFilter = None,
    sort: Annotated[Literal["name", "created_at", "updated_at"], Query()] = "created_at",
) -> ProjectPage:
    items, total = service.list_projects(
        session,
        visible=visible_project_ids(session, user),
        q=q,
        sort=sort,
        descending=page.descending,
        limit=page.limit,
        offset=page.offset,
    )
    stats = service.run_stats(session, [p.id for p in items])
    roles = roles_in(session, user, [p.id for p in items])
    return ProjectPage.of(
        [
            ProjectListItem(
                **_out(p, roles.get(p.id)).model_dump(),
                run_count=stats.get(p.id, (0, None))[0],
                latest_run_state=stats.get(p.id, (0, None))[1],
            )
            for p in items
        ],
        total,
        page,
    )


@router.post(
    "/projects",
    operation_id="createProject",
    response_model=ProjectOut,
    status_code=status.HTTP_201_CREATED,
)
def create_project(
    body: ProjectCreate, request: Request, user: CurrentUser, session: SessionDep
) -> ProjectOut:
    """A new project, owned by its creator."""
    project = service.create_project(
        session, name=body.name, description=body.description, creator=user.user_id
    )
    about_project(request, project.id)
    return _out(project, ProjectRole.owner)


@router.get("/projects/{project_id}", operation_id="getProject", response_model=ProjectOut)
def get_project(project_id: IdPath, access: ProjectViewer, session: SessionDep) -> ProjectOut:
    return _out(service.get_project(session, project_id), access.role)


@router.patch("/projects/{project_id}", operation_id="updateProject", response_model=ProjectOut)
def update_project(
    project_id: IdPath, body: ProjectUpdate, access: ProjectOwner, session: SessionDep
) -> ProjectOut:
    project = service.update_project(
        session, project_id, name=body.name, description=body.description
    )
    return _out(project, access.role)


@router.delete(
    "/projects/{project_id}",
    operation_id="deleteProject",
    status_code=status.HTTP_204_NO_CONTENT,
    response_model=None,
)
def delete_project(
    project_id: IdPath,
    _access: ProjectOwner,
    session: SessionDep,
    state: StateDep,
    keep_files: Annotated[
        bool,
        Query(description="Delete the database rows only and leave every run folder on disk"),
    ] = False,
) -> None:
    service.delete_project(session, state.settings, project_id, keep_files=keep_files)
