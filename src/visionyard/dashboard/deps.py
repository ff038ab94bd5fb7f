"""Dependency aliases for routes: `SessionDep`, `StateDep`, and `get_principal` (who is
calling). Access decisions (`CurrentUser`, `AdminUser`, project roles) are
`visionyard.dashboard.access`.

A route parses, authorizes (by depending on one access decision), calls a service, serialises.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request, WebSocket
from sqlalchemy.orm import Session

from visionyard.dashboard.csrf import require_csrf_token
from visionyard.dashboard.services.auth import Principal, principal_from_token
from visionyard.dashboard.services.login_sessions import principal_for_cookie
from visionyard.dashboard.state import AppState
from visionyard.errors import AuthenticationError

SESSION_COOKIE = "vy_session"


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.vy
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_session(state: StateDep) -> Iterator[Session]:
    # scope="function" below: the transaction commits before the response is sent, so a
    # failed commit becomes an error response instead of a 200 for lost data.
    with state.sessions() as session, session.begin():
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def bearer_secret(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def resolve_principal(state: AppState, *, bearer: str | None, cookie: str | None) -> Principal:
    with state.read_sessions() as session:
        if bearer:
            principal = principal_from_token(session, bearer)
            if principal is None:
                raise AuthenticationError("invalid or expired API token; create a new one")
            return principal
    if cookie:
        # Its own transactions: a read, then (once a minute) a write marking the session used.
        principal = principal_for_cookie(state, cookie)
        if principal is not None:
            return principal
        raise AuthenticationError(
            "your session has ended (logged out, or unused too long); log in again"
        )
    raise AuthenticationError(
        "authentication required: log in, or send 'Authorization: Bearer <API token>'"
    )


def get_principal(request: Request, state: StateDep) -> Principal:
    principal = resolve_principal(
        state,
        bearer=bearer_secret(request.headers.get("authorization")),
        cookie=request.cookies.get(SESSION_COOKIE),
    )
    require_csrf_token(request, principal)  # a change made with the cookie must carry its token
    return principal


def websocket_principal(websocket: WebSocket, state: AppState) -> Principal:
    """WebSockets authenticate like HTTP (cookie or bearer header) or with ?token= (browsers
    cannot set headers on a WebSocket)."""
    bearer = bearer_secret(websocket.headers.get("authorization")) or websocket.query_params.get(
        "token"
    )
    return resolve_principal(state, bearer=bearer, cookie=websocket.cookies.get(SESSION_COOKIE))
