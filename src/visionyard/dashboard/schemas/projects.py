"""Project bodies."""

from __future__ import annotations

from visionyard.dashboard.schemas.common import ApiModel, Name, Page, RequestBody, Text, UtcDateTime


class ProjectCreate(RequestBody):
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
