"""Training config bodies: versions, history, diff, clone."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from visionyard.dashboard.schemas.common import (
    MAX_ID,
    ApiModel,
    Name,
    Page,
    RequestBody,
    Text,
    UtcDateTime,
)

ConfigData = Annotated[
    dict[str, Any],
    Field(description="A TrainConfig (see GET /options/train-config-schema)."),
]


class ConfigCreate(RequestBody):
    name: Name
    data: ConfigData
    message: Text = ""


class ConfigSave(RequestBody):
    data: ConfigData
    message: Text = ""


class ConfigClone(RequestBody):
    name: Name
    version: int | None = Field(None, ge=1, le=MAX_ID, description="Default: the latest.")


class ConfigVersionSummary(ApiModel):
    id: int
    version: int
    config_hash: str
    message: str
    created_by: int | None
    created_at: UtcDateTime


class ConfigVersionOut(ConfigVersionSummary):
    config_id: int
    data: dict[str, Any]


class ConfigSummary(ApiModel):
    id: int
    project_id: int
    name: str
    latest_version: int
    created_at: UtcDateTime


class ConfigListItem(ConfigSummary):
    """A config as the project's list shows it."""

    updated_at: UtcDateTime = Field(description="When its latest version was saved.")
    run_count: int = Field(description="Runs queued from any of its versions.")


class ConfigOut(ConfigSummary):
    latest: ConfigVersionOut
    versions: list[ConfigVersionSummary]


class ConfigSaved(ConfigOut):
    created: bool = Field(
        description="False when the data equalled the latest version (nothing was saved)."
    )


class KeyChange(BaseModel):
    key: str
    old: Any = None
    new: Any = None


class ConfigDiffOut(BaseModel):
    from_version: int
    to_version: int
    changed: list[KeyChange]
    added: list[KeyChange]
    removed: list[KeyChange]


class ConfigPage(Page[ConfigListItem]):
    """A page of configs."""


class ConfigVersionPage(Page[ConfigVersionSummary]):
    """A page of a config's versions."""
