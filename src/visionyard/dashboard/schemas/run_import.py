"""The answer to importing a locally trained run."""

from __future__ import annotations

from pydantic import BaseModel, Field

from visionyard.dashboard.schemas.runs import RunDetail


class RunImported(BaseModel):
    message: str
    files: int = Field(description="Files of the run folder now stored under the runs root.")
    run: RunDetail
