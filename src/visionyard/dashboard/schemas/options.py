"""What the config form offers."""

from __future__ import annotations

from pydantic import BaseModel, Field

from visionyard.dashboard.schemas.common import ApiModel


class Choice(BaseModel):
    value: str
    description: str = ""


class RegisteredModel(ApiModel):
    id: int
    name: str
    source: str
    kind: str


class Options(BaseModel):
    optimizers: list[str]
    schedulers: list[str]
    losses: list[str]
    train_presets: list[Choice]
    autocast_dtypes: list[str]
    monitor_metrics: list[str] = Field(
        description="Accepted monitor_metric values; acc@K works for every K in eval_topk."
    )
    monitor_modes: list[str]
    models: list[RegisteredModel] | None = Field(
        None, description="The project's registered models (only with ?project_id=)."
    )
