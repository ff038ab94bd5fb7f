"""Reading the audit log (admins): newest first, filtered by who, project, action and time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from visionyard.dashboard.repositories import page
from visionyard.db.models import AuditEvent
from visionyard.db.timestamps import as_utc


def list_events(
    session: Session,
    *,
    user_id: int | None,
    username: str | None,
    project_id: int | None,
    action: str | None,
    since: datetime | None,
    until: datetime | None,
    descending: bool,
    limit: int,
    offset: int,
) -> tuple[Sequence[AuditEvent], int]:
    since, until = as_utc(since), as_utc(until)  # a time without a zone is UTC
    query = select(AuditEvent)
    if user_id is not None:
        query = query.where(AuditEvent.user_id == user_id)
    if username:
        query = query.where(AuditEvent.username == username)
    if project_id is not None:
        query = query.where(AuditEvent.project_id == project_id)
    if action:
        query = query.where(AuditEvent.action == action)
    if since is not None:
        query = query.where(AuditEvent.created_at >= since)
    if until is not None:
        query = query.where(AuditEvent.created_at < until)
    return page(
        session,
        query,
        sort_column=AuditEvent.id,
        id_column=AuditEvent.id,
        descending=descending,
        limit=limit,
        offset=offset,
    )
