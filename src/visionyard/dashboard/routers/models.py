"""Model registry: `/projects/{project_id}/models` and `/models/{model_id}`.

`access_token` is write-only: requests may set it, responses only say `has_token`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, ConfigDict, Field

from visionyard.dashboard.deps import CurrentUser, SessionDep, StateDep
from visionyard.dashboard.routers.projects import NameFilter, UtcDateTime
from visionyard.dashboard.schemas import (
    ApiModel,
    IdPath,
    Name,
    Page,
    Pagination,
    SafeStr,
    pagination,
)
from visionyard.dashboard.services import models as service
from visionyard.db.models import ModelEntry

router = APIRouter(tags=["models"])

Source = Annotated[
    SafeStr,
    Field(
        min_length=1,
        max_length=1024,
        description="A Hugging Face model id ('org/name') or a save_pretrained folder under "
        "VISIONYARD_MODELS_DIR: its path relative to that folder, or its absolute path",
    ),
]
# Printable ASCII without spaces: every Hugging Face token is; anything else is a paste error.
AccessToken = Annotated[
    str,
    Field(
        min_length=1,
        max_length=4096,
        pattern=r"^[!-~]+$",
        description="Write-only: stored encrypted, never returned",
    ),
]


class ModelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    source: Source
    access_token: AccessToken | None = None


class ModelUpdate(BaseModel):
    """Omitted fields keep their value; `access_token: null` clears the stored token."""

    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    source: Source | None = None
    access_token: AccessToken | None = None


class ModelOut(ApiModel):
    id: int
    project_id: int
    name: str
    source: str
    kind: Literal["hub", "local"]
    has_token: bool
    created_at: UtcDateTime


def _out(entry: ModelEntry) -> ModelOut:
    # Built field by field: the encrypted token must never reach a response, even by accident.
    return ModelOut(
        id=entry.id,
        project_id=entry.project_id,
        name=entry.name,
        source=entry.source,
        kind=entry.kind,
        has_token=entry.token_encrypted is not None,
        created_at=entry.created_at,
    )


@router.get(
    "/projects/{project_id}/models", operation_id="listModels", response_model=Page[ModelOut]
)
def list_models(
    project_id: IdPath,
    _user: CurrentUser,
    session: SessionDep,
    page: Annotated[Pagination, Depends(pagination)],
    q: NameFilter = None,
    sort: Annotated[Literal["name", "created_at"], Query()] = "created_at",
) -> Page[ModelOut]:
    items, total = service.list_models(
        session,
        project_id,
        q=q,
        sort=sort,
        descending=page.order == "desc",
        limit=page.limit,
        offset=page.offset,
    )
    return Page[ModelOut](
        items=[_out(m) for m in items], total=total, limit=page.limit, offset=page.offset
    )


@router.post(
    "/projects/{project_id}/models",
    operation_id="createModel",
    response_model=ModelOut,
    status_code=status.HTTP_201_CREATED,
)
def create_model(
    project_id: IdPath,
    body: ModelCreate,
    _user: CurrentUser,
    session: SessionDep,
    state: StateDep,
) -> ModelOut:
    entry = service.create_model(
        session,
        state,
        project_id,
        name=body.name,
        source=body.source,
        access_token=body.access_token,
    )
    return _out(entry)


@router.get("/models/{model_id}", operation_id="getModel", response_model=ModelOut)
def get_model(model_id: IdPath, _user: CurrentUser, session: SessionDep) -> ModelOut:
    return _out(service.get_model(session, model_id))


@router.patch("/models/{model_id}", operation_id="updateModel", response_model=ModelOut)
def update_model(
    model_id: IdPath,
    body: ModelUpdate,
    _user: CurrentUser,
    session: SessionDep,
    state: StateDep,
) -> ModelOut:
    entry = service.update_model(
        session,
        state,
        model_id,
        name=body.name,
        source=body.source,
        # Omitted keeps the token; an explicit null clears it.
        update_token="access_token" in body.model_fields_set,
        access_token=body.access_token,
    )
    return _out(entry)


@router.delete(
    "/models/{model_id}",
    operation_id="deleteModel",
    status_code=status.HTTP_204_NO_CONTENT,
    response_model=None,
)
def delete_model(model_id: IdPath, _user: CurrentUser, session: SessionDep) -> None:
    service.delete_model(session, model_id)
