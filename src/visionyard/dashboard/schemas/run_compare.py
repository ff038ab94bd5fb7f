"""Comparing runs (semantics: `visionyard.dashboard.services.run_compare`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from visionyard.dashboard.schemas.run_summary import RunSummaryOut
from visionyard.db.models import RunState


class ComparedRun(BaseModel):
    id: int
    name: str
    state: RunState
    project_id: int
    config_hash: str
    summary: RunSummaryOut


class ComparedMetric(BaseModel):
    name: str
    direction: Literal["min", "max"] | None = Field(
        description="Which way is better, when known (null: the learning rate, system samples)."
    )


class CompareColumn(BaseModel):
    run_id: int
    metric: str
    values: list[float | None] = Field(
        description="Aligned with `x`; null where this run has no point."
    )


class ConfigDifference(BaseModel):
    key: str
    values: list[Any] = Field(description="Each run's value, in the order of `runs`.")


class ConfigComparison(BaseModel):
    differing: list[ConfigDifference] = Field(
        description="Config fields whose values differ between the runs."
    )
    same: dict[str, Any] = Field(description="Config fields every run has with one value.")


class RunComparison(BaseModel):
    """A table for charts: `x` is the row axis, each column one run's metric aligned with it
    (`[x, ...columns[i].values]` is what a uPlot chart takes)."""

    runs: list[ComparedRun] = Field(description="In the order asked.")
    by: Literal["epoch", "step", "time"]
    x: list[int] = Field(
        description="Epochs (1 = the first), optimizer steps, or seconds since each run's first "
        "metric point; ascending."
    )
    total_rows: int = Field(description="Rows before thinning to max_rows.")
    downsampled: bool
    metrics: list[ComparedMetric]
    columns: list[CompareColumn] = Field(description="One per metric per run, metric-major.")
    config: ConfigComparison
