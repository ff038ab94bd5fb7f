"""Project bodies."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from visionyard.dashboard.schemas.common import ApiModel, Name, Page, RequestBody, Text, UtcDateTime
from visionyard.db.models import RunState


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
    role: Literal["viewer", "editor", "owner"] | None = Field(
        None,
        description="The caller's role in the project (admins: owner); what the web UI offers "
        "follows it, and the API enforces it",
    )


class ProjectListItem(ProjectOut):
    """A project as the list shows it: with how many runs it has and how its latest one is."""

    run_count: int = Field(description="Runs in the project, of every state")
    latest_run_state: RunState | None = Field(
        description="State of the project's most recently created run; null without runs"
    )


class ProjectPage(Page[ProjectListItem]):
    """A page of projects."""
