"""A run's evaluation reports: list them, read one, compute one, and the images they list.

Semantics and decisions: `visionyard.dashboard.services.run_reports`; what a report holds:
`visionyard.analysis.report`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from visionyard.dashboard.access import RunEditor, RunViewer
from visionyard.dashboard.body_files import received_body
from visionyard.dashboard.deps import SessionDep, StateDep
from visionyard.dashboard.schemas.common import IdPath
from visionyard.dashboard.schemas.run_reports import (
    CheckpointName,
    ComputedSplit,
    ImageIndex,
    ReportList,
    ReportOut,
    ReportSplit,
)
from visionyard.dashboard.services import run_reports as service
from visionyard.errors import PayloadTooLargeError

router = APIRouter(tags=["runs"])


@router.get("/runs/{run_id}/reports", operation_id="listRunReports", response_model=ReportList)
def list_run_reports(
    run_id: IdPath, _access: RunViewer, session: SessionDep, state: StateDep
) -> ReportList:
    """The run's stored evaluation reports, one line each (checkpoint, split, headline numbers)."""
    return ReportList(items=service.summaries(session, state.settings, run_id))


@router.get(
    "/runs/{run_id}/reports/{checkpoint}", operation_id="getRunReport", response_model=ReportOut
)
def get_run_report(
    run_id: IdPath,
    checkpoint: CheckpointName,
    _access: RunViewer,
    session: SessionDep,
    state: StateDep,
    split: ReportSplit = "val",
) -> ReportOut:
    """The stored report of `checkpoint` on `split`; 404 when none was computed yet (a run
    writes best on val when it finishes; `computeRunReport` makes any other)."""
    return service.report(session, state.settings, run_id, checkpoint, split)


@router.post(
    "/runs/{run_id}/reports/{checkpoint}",
    operation_id="computeRunReport",
    response_model=ReportOut,
)
async def compute_run_report(
    run_id: IdPath,
    checkpoint: CheckpointName,
    _access: RunEditor,
    state: StateDep,
    split: ComputedSplit = "val",
) -> ReportOut:
    """Evaluate `checkpoint` on `split` on the dashboard's CPU, store the report with the run
    and return it. Takes seconds to minutes; one at a time (429 while another is computed).
    404 for a run, checkpoint or dataset that is not there, 409 for a run folder or dataset
    the dashboard may not read."""
    # No database session is held while the model runs: the service opens a short one itself.
    return await run_in_threadpool(service.compute, state, run_id, checkpoint, split)


@router.get(
    "/runs/{run_id}/reports/{checkpoint}/images/{index}",
    operation_id="getRunReportImage",
    response_class=FileResponse,
    responses={
        200: {
            "content": {media: {} for media in sorted(set(service.IMAGE_MEDIA_TYPES.values()))},
            "description": "The dataset image the report lists at `index`, as stored",
        }
    },
)
def get_run_report_image(
    run_id: IdPath,
    checkpoint: CheckpointName,
    index: ImageIndex,
    _access: RunViewer,
    session: SessionDep,
    state: StateDep,
    split: ReportSplit = "val",
) -> FileResponse:
    """The image at position `index` of the report's `images` (a mistake's or a label issue's
    `image`), from the run's dataset folder. Images are chosen by index only, never by a path."""
    path, media_type = service.image_file(session, state.settings, run_id, checkpoint, split, index)
    return FileResponse(
        path,
        media_type=media_type,
        headers={"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"},
    )


#: the request body as the OpenAPI document states it (FastAPI only describes JSON and forms)
ZIP_BODY = {
    "required": True,
    "description": "A zip of labelled images in the ImageFolder layout: <class>/<image> (under "
    "one top folder or a val/ folder is fine). Class folders must be the model's classes. At "
    "most VISIONYARD_EVALUATE_MAX_BYTES, packed and unpacked.",
    # application/octet-stream, as importRun's tar: what any HTTP client sends bytes as
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
}


def _too_large(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"the archive is larger than this dashboard accepts ({limit} bytes, "
        "VISIONYARD_EVALUATE_MAX_BYTES); evaluate a smaller sample"
    )


async def received_zip(request: Request, state: StateDep) -> AsyncIterator[Path]:
    """The request body, received into a temporary file (bounded in size)."""
    async with received_body(
        request,
        limit=state.settings.evaluate_max_bytes,
        folder=state.settings.data_dir / "uploads",
        suffix=".zip",
        too_large=_too_large,
    ) as path:
        yield path


@router.post(
    "/runs/{run_id}/reports/{checkpoint}/upload",
    operation_id="computeRunReportFromUpload",
    response_model=ReportOut,
    openapi_extra={"requestBody": ZIP_BODY},
)
async def compute_run_report_from_upload(
    run_id: IdPath,
    checkpoint: CheckpointName,
    _access: RunEditor,  # before the upload: an unauthenticated caller is refused unread
    state: StateDep,
    archive: Annotated[Path, Depends(received_zip)],
) -> ReportOut:
    """Evaluate `checkpoint` on a labelled zip of images (ImageFolder layout) and store the
    report as its `upload` split, replacing the last one uploaded for that checkpoint. 422
    names what is wrong with the archive (not a zip, a member leading out, a link, a class the
    model does not know, an image that is not one), 413 one over the size limits."""
    return await run_in_threadpool(service.compute_upload, state, run_id, checkpoint, archive)
