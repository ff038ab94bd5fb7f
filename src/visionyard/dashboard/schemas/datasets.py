"""Dataset bodies: registration, analysis, folder browsing, samples."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from visionyard.dashboard import patterns
from visionyard.dashboard.schemas.common import (
    ApiModel,
    Name,
    Page,
    RequestBody,
    UtcDateTime,
)
from visionyard.paths import MAX_PATH_CHARS

#: A folder under DATASETS_DIR: relative to it (the pattern of every relative path) or absolute
#: inside it, like a config's `root`. Whether it is inside is the service's check (400).
DatasetFolder = Annotated[
    str,
    Field(
        max_length=MAX_PATH_CHARS,
        json_schema_extra={"pattern": rf"^(?:/.*|{patterns.RELATIVE_PATH[1:-1]})$"},
        description="Folder holding train/ and val/ (test/ optional): relative to DATASETS_DIR, "
        "or its absolute path inside it",
    ),
]


class DatasetCreate(RequestBody):
    name: Name
    path: DatasetFolder


class SkippedFile(BaseModel):
    path: str
    reason: str


class DatasetAnalysis(BaseModel):
    classes: list[str]
    num_images: dict[str, int]
    counts: dict[str, dict[str, int]] = Field(description="split -> class -> number of images")
    skipped: list[SkippedFile] = Field(description="Unreadable images, left out of the counts")
    fingerprint: dict[str, Any] = Field(description="What a run stores as dataset.json")


class DatasetOut(ApiModel):
    id: int
    name: str
    path: str = Field(description="Relative to DATASETS_DIR")
    fingerprint: str | None = Field(description="sha256 of the (path, size) list of every image")
    analysis: DatasetAnalysis | None
    analysed_at: UtcDateTime | None
    created_at: UtcDateTime


class FolderEntryOut(BaseModel):
    name: str
    path: str
    image_count: int
    image_count_capped: bool = Field(description="True when the folder was too big to count")
    is_dataset: bool = Field(description="Holds train/ and val/ folders")


class FolderListingOut(BaseModel):
    path: str
    parent: str | None
    image_count: int
    image_count_capped: bool
    entries: list[FolderEntryOut]
    truncated: bool = Field(description="True when more folders exist than are listed")


class SampleOut(BaseModel):
    path: str = Field(description="Relative to the dataset root; pass it to the thumbnail route")
    split: str
    class_name: str


class DatasetPage(Page[DatasetOut]):
    """A page of datasets."""


class SamplePage(Page[SampleOut]):
    """A page of a dataset's images."""
