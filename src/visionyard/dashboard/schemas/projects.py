"""Project bodies."""

from __future__ import annotations

from pydantic import ConfigDict

from visionyard.dashboard.schemas.common import ApiModel, Name, Page, RequestBody, Text, UtcDateTime


class ProjectCreate(RequestBody):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "pets", "description": "Cats and dogs"}]}
    )

    name: Name
    description: Text = ""


class ProjectUpdate(RequestBody):
    name: Name | None = None
    description: Text | None = None


class ProjectOut(ApiModel):
    id: int
    name: str
    description: str
    created_at: UtcDateTime
    updated_at: UtcDateTime


class ProjectPage(Page[ProjectOut]):
    """A page of projects."""
