"""A run's evaluation reports (`visionyard.analysis.report` writes them; this is their shape)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path as PathParam
from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

#: a checkpoint as the run folder names it (what `visionyard.analysis.checkpoints` lists)
CHECKPOINT_PATTERN = r"^(?:best|last|epoch_[0-9]{1,6})$"
CheckpointName = Annotated[
    str,
    PathParam(
        pattern=CHECKPOINT_PATTERN,
        max_length=12,
        description="best, last or epoch_N (epoch_3 and epoch_003 are the same checkpoint)",
    ),
]
ReportSplit = Annotated[
    Literal["val", "test", "upload"],
    Query(
        description="The split evaluated (upload: the labelled set last uploaded for this "
        "checkpoint). Not train: the model's predictions on its own training images are "
        "in-sample."
    ),
]
ComputedSplit = Annotated[
    Literal["val", "test"],
    Query(
        description="The split of the run's dataset to evaluate. Not train: the model's "
        "predictions on its own training images are in-sample. (A labelled upload is "
        "evaluated by computeRunReportFromUpload.)"
    ),
]
#: reports list at most a few dozen images; this bounds the index a client may send
MAX_IMAGE_INDEX = 10_000
ImageIndex = Annotated[
    int, PathParam(ge=0, le=MAX_IMAGE_INDEX, description="Position in the report's `images`")
]


class _Report(BaseModel):
    # Reports are files a run wrote: extra fields from a later version are ignored, missing or
    # mistyped ones make the file unreadable (a 409 saying to compute it again).
    model_config = ConfigDict(extra="ignore")


class ReportCheckpoint(_Report):
    name: str
    epoch: int | None = Field(description="Epochs completed when the checkpoint was saved")
    step: int
    saved_at: str | None


class TopK(_Report):
    k: int
    accuracy: float


class PerClassRow(_Report):
    class_name: str = Field(alias="class", serialization_alias="class")
    precision: float
    recall: float
    f1: float
    support: int


class Confusion(_Report):
    counts: list[list[int]] = Field(description="Rows: true class; columns: predicted class")
    normalized: list[list[float]] = Field(description="Each row divided by its sum (0 if empty)")


class CalibrationBin(_Report):
    lower: float
    upper: float
    count: int
    confidence: float | None = Field(description="Mean top probability; null for an empty bin")
    accuracy: float | None = Field(description="Share correct; null for an empty bin")


class Calibration(_Report):
    ece: float = Field(description="Sum over bins of count/N * |accuracy - confidence|")
    n_bins: int
    bins: list[CalibrationBin]


class ReportImage(_Report):
    path: str = Field(description="Relative to the dataset root, split folder first")
    split: str


class Mistake(_Report):
    image: int = Field(description="Position in `images` (the image endpoint's index)")
    path: str
    true: str
    predicted: str
    confidence: float
    true_probability: float


class LabelIssue(_Report):
    image: int = Field(description="Position in `images` (the image endpoint's index)")
    path: str
    given: str
    suggested: str
    quality: float = Field(description="The probability of the given label; lowest first")
    given_probability: float
    suggested_probability: float


class LabelIssues(_Report):
    method: str
    note: str = Field(description="Which images were checked, and why train is not")
    count: int = Field(description="How many images were flagged (items lists the first 50)")
    items: list[LabelIssue]


class ReportOut(_Report):
    version: int
    created_at: str
    checkpoint: ReportCheckpoint
    split: str
    num_samples: int
    file_list_sha256: str = Field(description="Equal for two reports on the same image files")
    class_names: list[str]
    accuracy: float
    macro_f1: float
    top_k: list[TopK]
    per_class: list[PerClassRow]
    confusion: Confusion
    calibration: Calibration
    images: list[ReportImage]
    mistakes: list[Mistake]
    label_issues: LabelIssues


class ReportSummary(BaseModel):
    checkpoint: str
    split: str
    created_at: str
    epoch: int | None
    step: int
    num_samples: int
    accuracy: float
    macro_f1: float
    ece: float
    label_issues: int
    file_list_sha256: str = Field(description="Equal for two reports on the same image files")


class ReportList(BaseModel):
    items: list[ReportSummary]
