"""Model registry: `/projects/{project_id}/models` and `/models/{model_id}`.

`access_token` is write-only: requests may set it, responses only say `has_token`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status

from visionyard.dashboard.access import ModelEditor, ModelViewer, ProjectEditor, ProjectViewer
from visionyard.dashboard.deps import SessionDep, StateDep
from visionyard.dashboard.schemas.common import IdPath, NameFilter, PageParams
from visionyard.dashboard.schemas.models import ModelCreate, ModelOut, ModelPage, ModelUpdate
from visionyard.dashboard.services import models as service
from visionyard.db.models import ModelEntry

router = APIRouter(tags=["models"])


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


@router.get("/projects/{project_id}/models", operation_id="listModels", response_model=ModelPage)
def list_models(
    project_id: IdPath,
    _access: ProjectViewer,
    session: SessionDep,
    page: PageParams,
    q: NameFilter = None,
    sort: Annotated[Literal["name", "created_at"], Query()] = "created_at",
) -> ModelPage:
    items, total = service.list_models(
        session,
        project_id,
        q=q,
        sort=sort,
        descending=page.descending,
        limit=page.limit,
        offset=page.offset,
    )
    return ModelPage.of([_out(m) for m in items], total, page)


@router.post(
    "/projects/{project_id}/models",
    operation_id="createModel",
    response_model=ModelOut,
    status_code=status.HTTP_201_CREATED,
)
def create_model(
    project_id: IdPath,
    body: ModelCreate,
    _access: ProjectEditor,
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
        kind=body.kind,
    )
    return _out(entry)


@router.get("/models/{model_id}", operation_id="getModel", response_model=ModelOut)
def get_model(model_id: IdPath, _access: ModelViewer, session: SessionDep) -> ModelOut:
    return _out(service.get_model(session, model_id))


@router.patch("/models/{model_id}", operation_id="updateModel", response_model=ModelOut)
def update_model(
    model_id: IdPath,
    body: ModelUpdate,
    _access: ModelEditor,
    session: SessionDep,
    state: StateDep,
) -> ModelOut:
    entry = service.update_model(
        session,
        state,
        model_id,
        name=body.name,
        source=body.source,
        kind=body.kind,
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
def delete_model(model_id: IdPath, _access: ModelEditor, session: SessionDep) -> None:
    service.delete_model(session, model_id)
