"""The audit log: every change made through the API, with who, when, what and from where.

Recorded in one place: `audit_trail`, a dependency of every API route, adds the entry when a
route that changes things (its access `Rule` says so) returns without error, in the route's
own transaction, so the entry and the change commit together or not at all. Logins and failed
logins are recorded by the login route (`record_login`), in a transaction of their own: a
failed login rolls its request back.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker

from visionyard.dashboard.deps import SessionDep
from visionyard.dashboard.services.auth import Principal
from visionyard.db.models import AuditEvent

#: body fields never copied into the log
SECRET_FIELDS = frozenset({"password", "token", "secret", "hf_token", "access_token"})
MAX_DETAIL_CHARS = 2000


@dataclass(frozen=True)
class Decided:
    """What the access check decided for this request (set on `request.state.decided`)."""

    principal: Principal
    writes: bool
    project_id: int | None


def about_project(request: Request, project_id: int) -> None:
    """Name the project a change made (createProject), which did not exist when access was
    decided, so the log can be filtered by it."""
    decided: Decided | None = getattr(request.state, "decided", None)
    if decided is not None:
        request.state.decided = replace(decided, project_id=project_id)


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def _redacted(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: ("***" if k.lower() in SECRET_FIELDS else _redacted(v)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redacted(v) for v in value[:50]]
    return value


async def _body(request: Request) -> Any:
    """The JSON body the route read (cached by Starlette), secrets masked; None otherwise."""
    if "application/json" not in request.headers.get("content-type", ""):
        return None
    try:
        body = await request.json()
    except ValueError:
        return None
    shown = _redacted(body)
    if len(json.dumps(shown, default=str)) > MAX_DETAIL_CHARS:
        return {"truncated": True}
    return shown


def action_of(request: Request) -> str:
    """The operation id of the route (e.g. "cancelRun"), else the method and path."""
    route = request.scope.get("route")
    operation_id = getattr(route, "operation_id", None)
    return operation_id or f"{request.method} {request.url.path}"[:64]


async def audit_trail(request: Request, session: SessionDep) -> AsyncIterator[None]:
    yield  # the route runs; an exception skips what follows (nothing changed)
    decided: Decided | None = getattr(request.state, "decided", None)
    if decided is None or not decided.writes:
        return
    path = {k: int(v) if v.isdigit() else v for k, v in request.path_params.items()}
    details: dict[str, Any] = {"method": request.method, "path": path}
    body = await _body(request)
    if body is not None:
        details["body"] = body
    principal = decided.principal
    if principal.via == "token":
        details["via"] = "token"
    session.add(
        AuditEvent(
            user_id=principal.user_id,
            username=principal.username,
            action=action_of(request),
            project_id=decided.project_id,
            target=request.url.path[:255],
            details=details,
            ip=client_address(request),
        )
    )


def record_login(
    sessions: sessionmaker[Session],
    *,
    username: str,
    user_id: int | None,
    ok: bool,
    ip: str,
    reason: str = "",
) -> None:
    """A login or a failed one, in its own transaction."""
    with sessions() as session, session.begin():
        session.add(
            AuditEvent(
                user_id=user_id,
                username=username[:64],
                action="login" if ok else "loginFailed",
                target="/api/v1/auth/login",
                details={"reason": reason} if reason else {},
                ip=ip,
            )
        )
