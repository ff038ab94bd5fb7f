"""A run's summary and its earlier attempts' errors, as run lists and run details show them
(semantics: `visionyard.dashboard.services.run_summary`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class MonitoredMetricOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str = Field(description="The metric the config monitors, as stored: 'val/acc@1'.")
    mode: Literal["min", "max"] = Field(description="Which way is better (monitor_mode).")
    best: float | None = Field(description="Its best value so far; null until logged.")
    best_step: int | None
    last: float | None = Field(description="Its value at the last step logged.")
    last_step: int | None


class RunParamsOut(BaseModel):
    """Key hyper-parameters from the run's config snapshot (null when it does not say)."""

    model_flavour: str | None = None
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    optimizer: str | None = None
    scheduler: str | None = None
    weight_decay: float | None = None


class RunSummaryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    monitor: MonitoredMetricOut
    duration_s: float | None = Field(
        description="Wall time from the first start to the end (or now, unfinished), waits "
        "between attempts included; null before the first start."
    )
    epochs_done: int = Field(description="Epochs whose evaluation has arrived.")
    epochs_total: int | None = Field(description="The config's epochs.")
    params: RunParamsOut


class AttemptError(BaseModel):
    attempt: int
    error: str = Field(description="What ended that attempt (it was retried).")
