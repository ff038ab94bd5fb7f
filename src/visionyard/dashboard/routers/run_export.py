"""Export bundles of a run's checkpoints: build one (Hugging Face folder, model card, optional
validated ONNX, as a .tar.gz) and download it.

Semantics and decisions: `visionyard.dashboard.services.run_export` and
`visionyard.analysis.bundle`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

from visionyard.dashboard.access import RunEditor, RunViewer
from visionyard.dashboard.deps import StateDep
from visionyard.dashboard.schemas.common import IdPath
from visionyard.dashboard.schemas.run_export import (
    ExportedCheckpoint,
    ExportOut,
    ExportRequest,
    OnnxValidationOut,
)
from visionyard.dashboard.services import run_export as service

router = APIRouter(tags=["runs"])

BundleName = Annotated[
    str,
    PathParam(
        max_length=40,
        description="<checkpoint>[-onnx].tar.gz, as exportRun answered",
    ),
]


# A plain `def`: FastAPI runs it in its thread pool, so the export never blocks the event loop.
@router.post("/runs/{run_id}/export", operation_id="exportRun", response_model=ExportOut)
def export_run(
    run_id: IdPath, _access: RunEditor, state: StateDep, body: ExportRequest
) -> ExportOut:
    """Build the export bundle of one checkpoint into the run's `exports/` folder (replacing an
    earlier one of the same name): the Hugging Face model folder with its model card, the run's
    config and, with `onnx`, the ONNX model with its validation against PyTorch. Takes seconds
    to minutes. 404 when the run, its folder or the checkpoint does not exist; 422 when the
    checkpoint is damaged or the ONNX model disagrees with PyTorch; 429 while another export is
    being built."""
    bundle = service.build(state, run_id, body.checkpoint, body.onnx)
    checkpoint = bundle.manifest["checkpoint"]
    return ExportOut(
        name=bundle.archive.name,
        checkpoint=ExportedCheckpoint(
            name=checkpoint["name"], epoch=checkpoint["epoch"], step=checkpoint["step"]
        ),
        size=bundle.size,
        sha256=bundle.sha256,
        metrics_source=bundle.manifest["metrics_source"],
        onnx=OnnxValidationOut(**bundle.onnx.to_json()) if bundle.onnx else None,
        download_url=f"/api/v1/runs/{run_id}/export/{bundle.archive.name}",
    )


@router.get(
    "/runs/{run_id}/export/{name}",
    operation_id="downloadRunExport",
    response_class=FileResponse,
    responses={
        200: {"content": {"application/gzip": {"schema": {"type": "string", "format": "binary"}}}}
    },
)
def download_run_export(
    run_id: IdPath, name: BundleName, _access: RunViewer, state: StateDep
) -> FileResponse:
    """An export bundle built by exportRun, as a download."""
    path = service.archive(state, run_id, name)
    return FileResponse(
        path,
        media_type="application/gzip",
        filename=path.name,
        content_disposition_type="attachment",
        headers={"X-Content-Type-Options": "nosniff"},
    )
