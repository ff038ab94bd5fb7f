"""Training configs per project: immutable versions, history, diff, clone.

Validation rules and the decisions behind them: `visionyard.dashboard.services.configs`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field

from visionyard.dashboard.deps import CurrentUser, SessionDep, StateDep
from visionyard.dashboard.routers.projects import NameFilter, UtcDateTime
from visionyard.dashboard.schemas import (
    MAX_ID,
    ApiModel,
    IdPath,
    Name,
    Page,
    Pagination,
    Text,
    pagination,
)
from visionyard.dashboard.services import configs as service

router = APIRouter(tags=["configs"])

ConfigData = Annotated[
    dict[str, Any],
    Field(description="A TrainConfig (see GET /options/train-config-schema)."),
]


class ConfigCreate(BaseModel):
    name: Name
    data: ConfigData
    message: Text = ""


class ConfigSave(BaseModel):
    data: ConfigData
    message: Text = ""


class ConfigClone(BaseModel):
    name: Name
    version: int | None = Field(None, ge=1, le=MAX_ID, description="Default: the latest.")


class ConfigVersionSummary(ApiModel):
    id: int
    version: int
    config_hash: str
    message: str
    created_by: int | None
    created_at: UtcDateTime


class ConfigVersionOut(ConfigVersionSummary):
    config_id: int
    data: dict[str, Any]


class ConfigSummary(ApiModel):
    id: int
    project_id: int
    name: str
    latest_version: int
    created_at: UtcDateTime


class ConfigOut(ConfigSummary):
    latest: ConfigVersionOut
    versions: list[ConfigVersionSummary]


class ConfigSaved(ConfigOut):
    created: bool = Field(
        description="False when the data equalled the latest version (nothing was saved)."
    )


class KeyChange(BaseModel):
    key: str
    old: Any = None
    new: Any = None


class ConfigDiffOut(BaseModel):
    from_version: int
    to_version: int
    changed: list[KeyChange]
    added: list[KeyChange]
    removed: list[KeyChange]


def _out(detail: service.ConfigDetail) -> ConfigOut:
    return ConfigOut(
        **ConfigSummary.model_validate(detail.config).model_dump(),
        latest=ConfigVersionOut.model_validate(detail.latest),
        versions=[ConfigVersionSummary.model_validate(v) for v in detail.versions],
    )


@router.post(
    "/projects/{project_id}/configs",
    operation_id="createConfig",
    response_model=ConfigOut,
    status_code=status.HTTP_201_CREATED,
)
def create_config(
    project_id: IdPath, body: ConfigCreate, user: CurrentUser, session: SessionDep, state: StateDep
) -> ConfigOut:
    detail = service.create_config(
        session,
        project_id=project_id,
        name=body.name,
        data=body.data,
        message=body.message,
        user_id=user.user_id,
        datasets_root=state.settings.datasets_root,
        models_root=state.settings.models_root,
    )
    return _out(detail)


@router.get(
    "/projects/{project_id}/configs",
    operation_id="listConfigs",
    response_model=Page[ConfigSummary],
)
def list_configs(
    project_id: IdPath,
    _user: CurrentUser,
    session: SessionDep,
    page: Annotated[Pagination, Depends(pagination)],
    q: NameFilter = None,
    sort: Literal["created_at", "name"] = "created_at",
) -> Page[ConfigSummary]:
    items, total = service.list_configs(
        session,
        project_id=project_id,
        q=q,
        sort=sort,
        descending=page.order == "desc",
        limit=page.limit,
        offset=page.offset,
    )
    return Page(
        items=[ConfigSummary.model_validate(c) for c in items],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/configs/{config_id}", operation_id="getConfig", response_model=ConfigOut)
def get_config(config_id: IdPath, _user: CurrentUser, session: SessionDep) -> ConfigOut:
    return _out(service.get_config(session, config_id))


@router.put("/configs/{config_id}", operation_id="updateConfig", response_model=ConfigSaved)
def save_config_version(
    config_id: IdPath, body: ConfigSave, user: CurrentUser, session: SessionDep, state: StateDep
) -> ConfigSaved:
    """Save `data` as the next version (versions are immutable). Data identical to the latest
    version saves nothing and returns it with `created: false`."""
    detail, created = service.save_version(
        session,
        config_id,
        data=body.data,
        message=body.message,
        user_id=user.user_id,
        datasets_root=state.settings.datasets_root,
        models_root=state.settings.models_root,
    )
    return ConfigSaved(**_out(detail).model_dump(), created=created)


@router.delete(
    "/configs/{config_id}", operation_id="deleteConfig", status_code=status.HTTP_204_NO_CONTENT
)
def delete_config(config_id: IdPath, _user: CurrentUser, session: SessionDep) -> None:
    """Delete a config and its versions; runs keep their snapshot (their link becomes null)."""
    service.delete_config(session, config_id)


@router.get(
    "/configs/{config_id}/versions",
    operation_id="listConfigVersions",
    response_model=Page[ConfigVersionSummary],
)
def list_config_versions(
    config_id: IdPath,
    _user: CurrentUser,
    session: SessionDep,
    page: Annotated[Pagination, Depends(pagination)],
) -> Page[ConfigVersionSummary]:
    items, total = service.list_versions(
        session,
        config_id,
        descending=page.order == "desc",
        limit=page.limit,
        offset=page.offset,
    )
    return Page(
        items=[ConfigVersionSummary.model_validate(v) for v in items],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get(
    "/configs/{config_id}/versions/{version}",
    operation_id="getConfigVersion",
    response_model=ConfigVersionOut,
)
def get_config_version(
    config_id: IdPath, version: IdPath, _user: CurrentUser, session: SessionDep
) -> ConfigVersionOut:
    return ConfigVersionOut.model_validate(service.get_version(session, config_id, version))


@router.get(
    "/configs/{config_id}/diff", operation_id="diffConfigVersions", response_model=ConfigDiffOut
)
def diff_config_versions(
    config_id: IdPath,
    _user: CurrentUser,
    session: SessionDep,
    from_version: Annotated[int, Query(alias="from", ge=1, le=MAX_ID)],
    to_version: Annotated[int, Query(alias="to", ge=1, le=MAX_ID)],
) -> ConfigDiffOut:
    """Keys that changed (old and new value), were added or were removed from `from` to `to`."""
    diff = service.diff_versions(session, config_id, from_version, to_version)
    return ConfigDiffOut(
        from_version=diff.from_version,
        to_version=diff.to_version,
        changed=[KeyChange(**c) for c in diff.changed],
        added=[KeyChange(**c) for c in diff.added],
        removed=[KeyChange(**c) for c in diff.removed],
    )


@router.post(
    "/configs/{config_id}/clone",
    operation_id="cloneConfig",
    response_model=ConfigOut,
    status_code=status.HTTP_201_CREATED,
)
def clone_config(
    config_id: IdPath, body: ConfigClone, user: CurrentUser, session: SessionDep
) -> ConfigOut:
    detail = service.clone_config(
        session, config_id, name=body.name, version=body.version, user_id=user.user_id
    )
    return _out(detail)
