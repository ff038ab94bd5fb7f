"""What the config form offers: the TrainConfig JSON Schema and the lists behind its selects."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from visionyard.dashboard.access import CurrentUser
from visionyard.dashboard.deps import SessionDep
from visionyard.dashboard.schemas.common import IdQuery
from visionyard.dashboard.schemas.options import Choice, Options, RegisteredModel
from visionyard.dashboard.services import configs as service
from visionyard.training.config import config_json_schema

router = APIRouter(tags=["options"])


@router.get(
    "/options/train-config-schema",
    operation_id="getTrainConfigSchema",
    response_model=dict[str, Any],
)
def train_config_schema(_user: CurrentUser) -> dict[str, Any]:
    """The TrainConfig JSON Schema (it drives the config form)."""
    return config_json_schema()


@router.get("/options", operation_id="getOptions", response_model=Options)
def options(
    _user: CurrentUser,
    session: SessionDep,
    project_id: IdQuery = None,
) -> Options:
    found = service.form_options(session, project_id)
    return Options(
        optimizers=found.optimizers,
        schedulers=found.schedulers,
        losses=found.losses,
        train_presets=[Choice(value=k, description=v) for k, v in found.train_presets.items()],
        autocast_dtypes=found.autocast_dtypes,
        monitor_metrics=found.monitor_metrics,
        monitor_modes=found.monitor_modes,
        models=None
        if found.models is None
        else [RegisteredModel.model_validate(m) for m in found.models],
    )
