"""Projects: `/projects` and `/projects/{project_id}`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, status
from pydantic import AfterValidator, BaseModel, ConfigDict

from visionyard.dashboard.deps import CurrentUser, SessionDep, StateDep
from visionyard.dashboard.schemas import (
    ApiModel,
    IdPath,
    Name,
    Page,
    Pagination,
    SafeStr,
    Text,
    pagination,
)
from visionyard.dashboard.services import projects as service

router = APIRouter(tags=["projects"])


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone-aware columns (written in UTC); without an
    # offset a browser would read them as local time.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


#: a timestamp that always serialises with its UTC offset, on SQLite as on PostgreSQL
UtcDateTime = Annotated[datetime, AfterValidator(_utc)]

#: the `q` filter of list routes: a case-insensitive substring of the name
NameFilter = Annotated[
    SafeStr | None,
    Query(max_length=128, description="Case-insensitive substring of the name"),
]


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    description: Text = ""


class ProjectUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    description: Text | None = None


class ProjectOut(ApiModel):
    id: int
    name: str
    description: str
    created_at: UtcDateTime
    updated_at: UtcDateTime


@router.get("/projects", operation_id="listProjects", response_model=Page[ProjectOut])
def list_projects(
    _user: CurrentUser,
    session: SessionDep,
    page: Annotated[Pagination, Depends(pagination)],
    q: NameFilter = None,
    sort: Annotated[Literal["name", "created_at", "updated_at"], Query()] = "created_at",
) -> Page[ProjectOut]:
    items, total = service.list_projects(
        session,
        q=q,
        sort=sort,
        descending=page.order == "desc",
        limit=page.limit,
        offset=page.offset,
    )
    return Page[ProjectOut](
        items=[ProjectOut.model_validate(p) for p in items],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post(
    "/projects",
    operation_id="createProject",
    response_model=ProjectOut,
    status_code=status.HTTP_201_CREATED,
)
def create_project(body: ProjectCreate, _user: CurrentUser, session: SessionDep) -> ProjectOut:
    project = service.create_project(session, name=body.name, description=body.description)
    return ProjectOut.model_validate(project)


@router.get("/projects/{project_id}", operation_id="getProject", response_model=ProjectOut)
def get_project(project_id: IdPath, _user: CurrentUser, session: SessionDep) -> ProjectOut:
    return ProjectOut.model_validate(service.get_project(session, project_id))


@router.patch("/projects/{project_id}", operation_id="updateProject", response_model=ProjectOut)
def update_project(
    project_id: IdPath, body: ProjectUpdate, _user: CurrentUser, session: SessionDep
) -> ProjectOut:
    project = service.update_project(
        session, project_id, name=body.name, description=body.description
    )
    return ProjectOut.model_validate(project)


@router.delete(
    "/projects/{project_id}",
    operation_id="deleteProject",
    status_code=status.HTTP_204_NO_CONTENT,
    response_model=None,
)
def delete_project(
    project_id: IdPath,
    _user: CurrentUser,
    session: SessionDep,
    state: StateDep,
    keep_files: Annotated[
        bool,
        Query(description="Delete the database rows only and leave every run folder on disk"),
    ] = False,
) -> None:
    service.delete_project(session, state.settings, project_id, keep_files=keep_files)
