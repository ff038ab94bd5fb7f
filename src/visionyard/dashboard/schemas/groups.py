"""Experiment group bodies."""

from __future__ import annotations

from pydantic import ConfigDict

from visionyard.dashboard.schemas.common import ApiModel, Name, Page, RequestBody, Text, UtcDateTime


class GroupCreate(RequestBody):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "lr-sweep", "description": "1e-5 to 1e-3"}]}
    )

    name: Name
    description: Text = ""


class GroupUpdate(RequestBody):
    name: Name | None = None
    description: Text | None = None


class GroupOut(ApiModel):
    id: int
    project_id: int
    name: str
    description: str
    created_at: UtcDateTime


class GroupPage(Page[GroupOut]):
    """A page of experiment groups."""
