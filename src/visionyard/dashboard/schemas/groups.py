"""Experiment group bodies."""

from __future__ import annotations

from visionyard.dashboard.schemas.common import ApiModel, Name, Page, RequestBody, Text, UtcDateTime


class GroupCreate(RequestBody):
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
