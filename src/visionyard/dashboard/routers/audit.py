"""The audit log, for admins."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BeforeValidator

from visionyard.dashboard.access import AdminUser
from visionyard.dashboard.deps import SessionDep
from visionyard.dashboard.schemas.audit import AuditEventOut, AuditPage
from visionyard.dashboard.schemas.common import IdQuery, PageParams
from visionyard.dashboard.services import audit_log as service

router = APIRouter(tags=["audit"])

Action = Annotated[
    str | None,
    Query(
        max_length=64,
        pattern=r"^[A-Za-z][A-Za-z0-9]*$",
        description="An operation id, e.g. cancelRun, setProjectMember, login, loginFailed",
    ),
]
Username = Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]


def _iso_time(value: object) -> object:
    # Pydantic would also read a bare number as unix seconds; the documented form is ISO 8601.
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        raise ValueError("give a date and time in ISO 8601, e.g. 2026-12-06T10:00:00Z")
    return value


_NUMBER = re.compile(r"[-+]?\d*\.?\d+(e[-+]?\d+)?", re.IGNORECASE)
IsoTime = Annotated[datetime | None, BeforeValidator(_iso_time)]


@router.get("/audit", operation_id="listAuditEvents", response_model=AuditPage)
def list_audit_events(
    _admin: AdminUser,
    session: SessionDep,
    page: PageParams,
    user_id: IdQuery = None,
    username: Username = None,
    project_id: IdQuery = None,
    action: Action = None,
    since: Annotated[IsoTime, Query(description="From this time (inclusive), ISO 8601")] = None,
    until: Annotated[IsoTime, Query(description="Before this time, ISO 8601")] = None,
) -> AuditPage:
    """Every change made through the API, and every login attempt: who, when, what, from
    where. Newest first by default."""
    items, total = service.list_events(
        session,
        user_id=user_id,
        username=username,
        project_id=project_id,
        action=action,
        since=since,
        until=until,
        descending=page.descending,
        limit=page.limit,
        offset=page.offset,
    )
    return AuditPage.of([AuditEventOut.model_validate(e) for e in items], total, page)
