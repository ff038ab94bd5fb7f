"""Importing a run trained outside the queue: `POST /projects/{id}/runs/import` takes the run
folder as a tar stream (what `visionyard runs import` sends).

Semantics and decisions: `visionyard.dashboard.services.run_import` (and `run_archive` for what
an upload may hold).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status

from visionyard.dashboard.access import ProjectEditor
from visionyard.dashboard.body_files import received_body
from visionyard.dashboard.deps import StateDep
from visionyard.dashboard.routers.runs import run_detail
from visionyard.dashboard.schemas.common import IdPath, Name
from visionyard.dashboard.schemas.run_import import RunImported
from visionyard.dashboard.services import run_import as service
from visionyard.dashboard.services.runs import get_run
from visionyard.errors import PayloadTooLargeError

router = APIRouter(tags=["runs"])

#: the request body as the OpenAPI document states it (FastAPI only describes JSON and forms)
ARCHIVE_BODY = {
    "required": True,
    "description": "The run folder as an uncompressed tar stream of its files (paths relative "
    "to the folder; plain files and folders only). At most VISIONYARD_MAX_IMPORT_BYTES.",
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
}


def _too_large(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"the upload is larger than this dashboard accepts ({limit} bytes, "
        "VISIONYARD_MAX_IMPORT_BYTES); leave large files out of the run folder, or ask the "
        "administrator to raise the limit"
    )


async def received_archive(request: Request, state: StateDep) -> AsyncIterator[Path]:
    """The request body, received into a file under the runs root (bounded in size)."""
    async with received_body(
        request,
        limit=state.settings.max_import_bytes,
        folder=service.staging_root(state),
        suffix=".tar",
        too_large=_too_large,
    ) as path:
        yield path


@router.post(
    "/projects/{project_id}/runs/import",
    operation_id="importRun",
    response_model=RunImported,
    status_code=status.HTTP_201_CREATED,
    openapi_extra={"requestBody": ARCHIVE_BODY},
)
def import_run(
    project_id: IdPath,
    access: ProjectEditor,  # before the upload: an unauthenticated caller is refused unread
    state: StateDep,
    archive: Annotated[Path, Depends(received_archive)],
    name: Annotated[
        Name | None, Query(description="Run name (default: the run_name in its config.json)")
    ] = None,
) -> RunImported:
    """Register a run trained with `visionyard train` / `python main.py` from its run folder:
    config, metrics, logs, checkpoints, results and files, in a terminal state."""
    imported = service.import_run(
        state, project_id=project_id, archive=archive, name=name, user_id=access.user_id
    )
    with state.read_sessions() as session:
        detail = run_detail(get_run(session, imported.run_id), session, state.settings)
    return RunImported(
        message=f"imported run {imported.run_id} ({detail.state.value}) with "
        f"{imported.files} files",
        files=imported.files,
        run=detail,
    )
