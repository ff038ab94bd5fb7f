"""The caller's own login sessions: list them, end one, end them all ("log out everywhere")."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from visionyard.dashboard.access import CurrentUser
from visionyard.dashboard.deps import SessionDep, StateDep
from visionyard.dashboard.schemas.auth import SessionOut, SessionPage
from visionyard.dashboard.schemas.common import IdPath, PageParams
from visionyard.dashboard.services import login_sessions
from visionyard.dashboard.services.login_sessions import Lifetimes
from visionyard.dashboard.session_cookies import clear_session_cookies

router = APIRouter(tags=["auth"])


@router.get("/sessions", operation_id="listSessions", response_model=SessionPage)
def list_sessions(
    user: CurrentUser, session: SessionDep, state: StateDep, page: PageParams
) -> SessionPage:
    rows, total = login_sessions.list_own(
        session,
        user,
        Lifetimes.of(state.settings),
        descending=page.descending,
        limit=page.limit,
        offset=page.offset,
    )
    items = [
        SessionOut(
            id=row.id,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            expires_at=row.expires_at,
            ip=row.ip,
            user_agent=row.user_agent,
            current=row.id == user.session_id,
        )
        for row in rows
    ]
    return SessionPage.of(items, total, page)


@router.delete(
    "/sessions/{session_id}", operation_id="endSession", status_code=status.HTTP_204_NO_CONTENT
)
def end_session(
    session_id: IdPath,
    user: CurrentUser,
    session: SessionDep,
    state: StateDep,
    response: Response,
) -> None:
    login_sessions.end(session, user, session_id)
    if session_id == user.session_id:  # the one this browser holds: its cookies go too
        clear_session_cookies(response, state.settings)


@router.post(
    "/sessions/revoke-all",
    operation_id="endAllSessions",
    status_code=status.HTTP_204_NO_CONTENT,
)
def end_all_sessions(
    user: CurrentUser, session: SessionDep, state: StateDep, response: Response
) -> None:
    """Log out everywhere: every session of the caller ends, this one included."""
    login_sessions.end_all(session, user)
    clear_session_cookies(response, state.settings)
