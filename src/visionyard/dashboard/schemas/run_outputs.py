"""What a run produced: metric series, logs, checkpoints, files."""

from __future__ import annotations

from pydantic import BaseModel, Field

from visionyard.dashboard.schemas.common import ApiModel, Page, UtcDateTime

MAX_EVENT_ID = 2**63 - 1  # run_events.id is a BIGINT


class MetricNames(BaseModel):
    names: list[str]


class SeriesOut(BaseModel):
    name: str
    steps: list[int]
    values: list[float | None] = Field(description="null marks a gap (a non-finite value).")
    times: list[float] = Field(description="When each point was logged (unix seconds).")
    epochs: list[int | None] = Field(description="The trainer's epoch of each point, if it said.")
    total: int = Field(description="Current points (in the step window) before downsampling.")
    downsampled: bool


class MetricSeries(BaseModel):
    run_id: int
    max_points: int
    step_min: int | None
    step_max: int | None
    series: list[SeriesOut]


class LogLine(BaseModel):
    id: int
    attempt: int
    time: float
    level: str
    message: str


class LogPage(BaseModel):
    items: list[LogLine]
    last_id: int | None = Field(description="Pass as after_id to get the lines that follow.")
    has_earlier: bool | None = Field(
        default=None,
        description="Whether older lines exist (pass the first item's id as before_id to get "
        "them); null for after_id pages.",
    )


class CheckpointOut(ApiModel):
    id: int
    attempt: int
    name: str
    path: str
    epoch: int | None
    step: int
    metric: float | None
    created_at: UtcDateTime


class CheckpointPage(Page[CheckpointOut]):
    """A page of a run's checkpoint records, ordered by step."""


class FileEntryOut(BaseModel):
    name: str
    path: str
    is_dir: bool
    size: int | None
    modified: float


class FileListing(BaseModel):
    path: str
    entries: list[FileEntryOut]
    truncated: bool
