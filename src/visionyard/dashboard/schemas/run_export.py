"""Export bundles of a run's checkpoints: what is asked for and what is answered."""

from __future__ import annotations

from pydantic import BaseModel, Field

from visionyard.dashboard.schemas.common import RequestBody

# A checkpoint as a request names it (the terminal's lenient spellings are not accepted here).
from visionyard.dashboard.schemas.run_reports import CHECKPOINT_PATTERN

#: a bundle archive's file name: <canonical checkpoint>[-onnx].tar.gz
BUNDLE_FILE_PATTERN = r"^(best|last|epoch_[0-9]{3,6})(-onnx)?\.tar\.gz$"


class ExportRequest(RequestBody):
    checkpoint: str = Field(
        default="best",
        pattern=CHECKPOINT_PATTERN,
        max_length=12,
        description="best, last or epoch_N (a per-epoch checkpoint the run kept)",
    )
    onnx: bool = Field(
        default=False,
        description="Also export ONNX, checked against PyTorch on the run's val images",
    )


class OnnxValidationOut(BaseModel):
    validated: bool = Field(description="False when the run's val images could not be read")
    reason: str | None = Field(description="Why it was not validated")
    images: int
    max_abs_logit_diff: float | None
    top1_agreement: float | None
    tolerance: float = Field(description="Largest absolute logit difference that passes")
    opset: int
    onnxruntime_version: str


class ExportedCheckpoint(BaseModel):
    name: str
    epoch: int | None
    step: int


class ExportOut(BaseModel):
    name: str = Field(description="The archive's file name, for downloadRunExport")
    checkpoint: ExportedCheckpoint
    size: int = Field(description="Bytes")
    sha256: str
    metrics_source: str = Field(description="Where the model card's metrics come from")
    onnx: OnnxValidationOut | None
    download_url: str
