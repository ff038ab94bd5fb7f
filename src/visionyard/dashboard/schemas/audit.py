"""Audit log bodies."""

from __future__ import annotations

from typing import Any

from visionyard.dashboard.schemas.common import ApiModel, Page, UtcDateTime


class AuditEventOut(ApiModel):
    id: int
    created_at: UtcDateTime
    user_id: int | None
    username: str
    action: str
    project_id: int | None
    target: str
    details: dict[str, Any]
    ip: str


class AuditPage(Page[AuditEventOut]):
    pass
