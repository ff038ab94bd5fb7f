"""Training configs per project: immutable versions, history, diff, clone.

Validation rules and the decisions behind them: `visionyard.dashboard.services.configs`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status

from visionyard.dashboard.access import ConfigEditor, ConfigViewer, ProjectEditor, ProjectViewer
from visionyard.dashboard.deps import SessionDep, StateDep
from visionyard.dashboard.schemas.common import MAX_ID, IdPath, NameFilter, PageParams
from visionyard.dashboard.schemas.configs import (
    ConfigClone,
    ConfigCreate,
    ConfigDiffOut,
    ConfigListItem,
    ConfigOut,
    ConfigPage,
    ConfigSave,
    ConfigSaved,
    ConfigSummary,
    ConfigVersionOut,
    ConfigVersionPage,
    ConfigVersionSummary,
    KeyChange,
)
from visionyard.dashboard.services import configs as service

router = APIRouter(tags=["configs"])


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
    project_id: IdPath,
    body: ConfigCreate,
    access: ProjectEditor,
    session: SessionDep,
    state: StateDep,
) -> ConfigOut:
    detail = service.create_config(
        session,
        project_id=project_id,
        name=body.name,
        data=body.data,
        message=body.message,
        user_id=access.user_id,
        datasets_root=state.settings.datasets_root,
        models_root=state.settings.models_root,
    )
    return _out(detail)


@router.get(
    "/projects/{project_id}/configs",
    operation_id="listConfigs",
    response_model=ConfigPage,
)
def list_configs(
    project_id: IdPath,
    _access: ProjectViewer,
    session: SessionDep,
    page: PageParams,
    q: NameFilter = None,
    sort: Literal["created_at", "name"] = "created_at",
) -> ConfigPage:
    items, total = service.list_configs(
        session,
        project_id=project_id,
        q=q,
        sort=sort,
        descending=page.descending,
        limit=page.limit,
        offset=page.offset,
    )
    return ConfigPage.of(
        [
            ConfigListItem(
                **ConfigSummary.model_validate(item.config).model_dump(),
                updated_at=item.updated_at,
                run_count=item.run_count,
            )
            for item in items
        ],
        total,
        page,
    )


@router.get("/configs/{config_id}", operation_id="getConfig", response_model=ConfigOut)
def get_config(config_id: IdPath, _access: ConfigViewer, session: SessionDep) -> ConfigOut:
    return _out(service.get_config(session, config_id))


@router.put("/configs/{config_id}", operation_id="updateConfig", response_model=ConfigSaved)
def save_config_version(
    config_id: IdPath, body: ConfigSave, access: ConfigEditor, session: SessionDep, state: StateDep
) -> ConfigSaved:
    """Save `data` as the next version (versions are immutable). Data identical to the latest
    version saves nothing and returns it with `created: false`."""
    detail, created = service.save_version(
        session,
        config_id,
        data=body.data,
        message=body.message,
        user_id=access.user_id,
        datasets_root=state.settings.datasets_root,
        models_root=state.settings.models_root,
    )
    return ConfigSaved(**_out(detail).model_dump(), created=created)


@router.delete(
    "/configs/{config_id}", operation_id="deleteConfig", status_code=status.HTTP_204_NO_CONTENT
)
def delete_config(config_id: IdPath, _access: ConfigEditor, session: SessionDep) -> None:
    """Delete a config and its versions; runs keep their snapshot (their link becomes null)."""
    service.delete_config(session, config_id)


@router.get(
    "/configs/{config_id}/versions",
    operation_id="listConfigVersions",
    response_model=ConfigVersionPage,
)
def list_config_versions(
    config_id: IdPath,
    _access: ConfigViewer,
    session: SessionDep,
    page: PageParams,
) -> ConfigVersionPage:
    items, total = service.list_versions(
        session,
        config_id,
        descending=page.descending,
        limit=page.limit,
        offset=page.offset,
    )
    return ConfigVersionPage.of(
        [ConfigVersionSummary.model_validate(v) for v in items], total, page
    )


@router.get(
    "/configs/{config_id}/versions/{version}",
    operation_id="getConfigVersion",
    response_model=ConfigVersionOut,
)
def get_config_version(
    config_id: IdPath, version: IdPath, _access: ConfigViewer, session: SessionDep
) -> ConfigVersionOut:
    return ConfigVersionOut.model_validate(service.get_version(session, config_id, version))


@router.get(
    "/configs/{config_id}/diff", operation_id="diffConfigVersions", response_model=ConfigDiffOut
)
def diff_config_versions(
    config_id: IdPath,
    _access: ConfigViewer,
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
    config_id: IdPath, body: ConfigClone, access: ConfigEditor, session: SessionDep, state: StateDep
) -> ConfigOut:
    """A new config whose version 1 copies `version` (default: the latest); its model is
    checked again first (422 naming `model_flavour` when its folder is gone)."""
    detail = service.clone_config(
        session,
        config_id,
        name=body.name,
        version=body.version,
        user_id=access.user_id,
        models_root=state.settings.models_root,
    )
    return _out(detail)
