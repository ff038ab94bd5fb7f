"""Experiment groups: `/projects/{project_id}/groups` and `/groups/{group_id}`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status

from visionyard.dashboard.access import GroupEditor, GroupViewer, ProjectEditor, ProjectViewer
from visionyard.dashboard.deps import SessionDep
from visionyard.dashboard.schemas.common import IdPath, NameFilter, PageParams
from visionyard.dashboard.schemas.groups import GroupCreate, GroupOut, GroupPage, GroupUpdate
from visionyard.dashboard.services import groups as service

router = APIRouter(tags=["groups"])


@router.get("/projects/{project_id}/groups", operation_id="listGroups", response_model=GroupPage)
def list_groups(
    project_id: IdPath,
    _access: ProjectViewer,
    session: SessionDep,
    page: PageParams,
    q: NameFilter = None,
    sort: Annotated[Literal["name", "created_at"], Query()] = "created_at",
) -> GroupPage:
    items, total = service.list_groups(
        session,
        project_id,
        q=q,
        sort=sort,
        descending=page.descending,
        limit=page.limit,
        offset=page.offset,
    )
    return GroupPage.of([GroupOut.model_validate(g) for g in items], total, page)


@router.post(
    "/projects/{project_id}/groups",
    operation_id="createGroup",
    response_model=GroupOut,
    status_code=status.HTTP_201_CREATED,
)
def create_group(
    project_id: IdPath, body: GroupCreate, _access: ProjectEditor, session: SessionDep
) -> GroupOut:
    group = service.create_group(session, project_id, name=body.name, description=body.description)
    return GroupOut.model_validate(group)


@router.get("/groups/{group_id}", operation_id="getGroup", response_model=GroupOut)
def get_group(group_id: IdPath, _access: GroupViewer, session: SessionDep) -> GroupOut:
    return GroupOut.model_validate(service.get_group(session, group_id))


@router.patch("/groups/{group_id}", operation_id="updateGroup", response_model=GroupOut)
def update_group(
    group_id: IdPath, body: GroupUpdate, _access: GroupEditor, session: SessionDep
) -> GroupOut:
    group = service.update_group(session, group_id, name=body.name, description=body.description)
    return GroupOut.model_validate(group)


@router.delete(
    "/groups/{group_id}",
    operation_id="deleteGroup",
    status_code=status.HTTP_204_NO_CONTENT,
    response_model=None,
)
def delete_group(group_id: IdPath, _access: GroupEditor, session: SessionDep) -> None:
    service.delete_group(session, group_id)
