"""Experiment groups: `/projects/{project_id}/groups` and `/groups/{group_id}`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, ConfigDict

from visionyard.dashboard.deps import CurrentUser, SessionDep
from visionyard.dashboard.routers.projects import NameFilter, UtcDateTime
from visionyard.dashboard.schemas import ApiModel, IdPath, Name, Page, Pagination, Text, pagination
from visionyard.dashboard.services import groups as service

router = APIRouter(tags=["groups"])


class GroupCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    description: Text = ""


class GroupUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    description: Text | None = None


class GroupOut(ApiModel):
    id: int
    project_id: int
    name: str
    description: str
    created_at: UtcDateTime


@router.get(
    "/projects/{project_id}/groups", operation_id="listGroups", response_model=Page[GroupOut]
)
def list_groups(
    project_id: IdPath,
    _user: CurrentUser,
    session: SessionDep,
    page: Annotated[Pagination, Depends(pagination)],
    q: NameFilter = None,
    sort: Annotated[Literal["name", "created_at"], Query()] = "created_at",
) -> Page[GroupOut]:
    items, total = service.list_groups(
        session,
        project_id,
        q=q,
        sort=sort,
        descending=page.order == "desc",
        limit=page.limit,
        offset=page.offset,
    )
    return Page[GroupOut](
        items=[GroupOut.model_validate(g) for g in items],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post(
    "/projects/{project_id}/groups",
    operation_id="createGroup",
    response_model=GroupOut,
    status_code=status.HTTP_201_CREATED,
)
def create_group(
    project_id: IdPath, body: GroupCreate, _user: CurrentUser, session: SessionDep
) -> GroupOut:
    group = service.create_group(session, project_id, name=body.name, description=body.description)
    return GroupOut.model_validate(group)


@router.get("/groups/{group_id}", operation_id="getGroup", response_model=GroupOut)
def get_group(group_id: IdPath, _user: CurrentUser, session: SessionDep) -> GroupOut:
    return GroupOut.model_validate(service.get_group(session, group_id))


@router.patch("/groups/{group_id}", operation_id="updateGroup", response_model=GroupOut)
def update_group(
    group_id: IdPath, body: GroupUpdate, _user: CurrentUser, session: SessionDep
) -> GroupOut:
    group = service.update_group(session, group_id, name=body.name, description=body.description)
    return GroupOut.model_validate(group)


@router.delete(
    "/groups/{group_id}",
    operation_id="deleteGroup",
    status_code=status.HTTP_204_NO_CONTENT,
    response_model=None,
)
def delete_group(group_id: IdPath, _user: CurrentUser, session: SessionDep) -> None:
    service.delete_group(session, group_id)
