"""The keys a project's runs can be sorted, filtered and shown by: `/projects/{id}/run-keys`.
Semantics: `visionyard.dashboard.services.run_catalog`."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from visionyard.dashboard.access import ProjectViewer
from visionyard.dashboard.deps import SessionDep
from visionyard.dashboard.schemas.common import IdPath
from visionyard.dashboard.schemas.run_keys import RunKeysOut
from visionyard.dashboard.services import run_catalog as service

router = APIRouter(tags=["runs"])


@router.get(
    "/projects/{project_id}/run-keys", operation_id="listRunKeys", response_model=RunKeysOut
)
def list_run_keys(project_id: IdPath, _access: ProjectViewer, session: SessionDep) -> RunKeysOut:
    """Every metric the project's runs logged (with which way is better, when known) and every
    scalar config field: the columns a run table can show, sort and filter by."""
    return RunKeysOut.model_validate(asdict(service.run_keys(session, project_id)))
