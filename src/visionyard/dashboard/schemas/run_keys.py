"""What a project's runs can be sorted, filtered and shown by (semantics:
`visionyard.dashboard.services.run_catalog`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class MetricKeyOut(BaseModel):
    name: str = Field(description="The metric as stored: 'val/acc@1', 'train/step_loss'.")
    direction: Literal["min", "max"] | None = Field(
        description="Which way is better, when known: only then does `best:<name>` exist; "
        "`last:`, `min:` and `max:` always do."
    )
    runs: int = Field(description="How many of the project's runs logged it.")


class ParamKeyOut(BaseModel):
    name: str = Field(description="The config field, as `param:<name>` takes it: 'lr'.")
    type: Literal["number", "text", "bool"]
    summary: bool = Field(description="One of the fields every run's summary shows.")


class RunKeysOut(BaseModel):
    """The keys of `sort=`, `filter=` and `column=` that the project's runs have values for."""

    metrics: list[MetricKeyOut] = Field(description="Every metric a run logged, by name.")
    params: list[ParamKeyOut] = Field(
        description="Every scalar config field (summary fields first, then by name)."
    )
