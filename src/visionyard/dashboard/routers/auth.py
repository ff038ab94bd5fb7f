"""Login/logout, the current user, users (admin) and API tokens."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Request, Response, status

from visionyard.dashboard.access import AdminUser, CurrentUser, PublicRoute
from visionyard.dashboard.audit import client_address, record_login
from visionyard.dashboard.csrf import require_json_body
from visionyard.dashboard.deps import SESSION_COOKIE, SessionDep, StateDep
from visionyard.dashboard.schemas.auth import (
    LoginRequest,
    Me,
    TokenCreate,
    TokenCreated,
    TokenOut,
    TokenPage,
    UserCreate,
    UserOut,
    UserPage,
    UserUpdate,
)
from visionyard.dashboard.schemas.common import IdPath, PageParams
from visionyard.dashboard.services import auth as auth_service
from visionyard.dashboard.services import login_sessions
from visionyard.dashboard.services.login import Client, log_in
from visionyard.dashboard.session_cookies import clear_session_cookies, set_session_cookies
from visionyard.db.models import User
from visionyard.errors import AuthenticationError, RateLimitedError

router = APIRouter(tags=["auth"])


@router.post(
    "/auth/login",
    operation_id="login",
    response_model=Me,
    # JSON only: an HTML form of another site could otherwise log a browser into the
    # attacker's account (visionyard.dashboard.csrf).
    dependencies=[PublicRoute, Depends(require_json_body)],
)
def login(body: LoginRequest, request: Request, response: Response, state: StateDep) -> Me:
    client = Client(
        address=client_address(request),
        user_agent=request.headers.get("user-agent", ""),
    )
    try:
        user, started = log_in(state, body.username, body.password, client)
    except (AuthenticationError, RateLimitedError) as exc:
        reason = "throttled" if isinstance(exc, RateLimitedError) else "wrong username or password"
        record_login(state.sessions, username=body.username, user_id=None, ok=False,
                     ip=client.address, reason=reason)  # fmt: skip
        raise
    record_login(state.sessions, username=user.username, user_id=user.id, ok=True,
                 ip=client.address)  # fmt: skip
    lifetime = timedelta(hours=state.settings.session_ttl_hours)
    set_session_cookies(response, started, state.settings, lifetime)
    return Me(id=user.id, username=user.username, is_admin=user.is_admin, via="session")


@router.post("/auth/logout", operation_id="logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(
    request: Request, response: Response, _user: CurrentUser, session: SessionDep, state: StateDep
) -> None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        login_sessions.end_current(session, cookie)
    clear_session_cookies(response, state.settings)


@router.get("/auth/me", operation_id="getMe", response_model=Me)
def me(user: CurrentUser) -> Me:
    return Me(id=user.user_id, username=user.username, is_admin=user.is_admin, via=user.via)


@router.get("/users", operation_id="listUsers", response_model=UserPage)
def list_users(_admin: AdminUser, session: SessionDep, page: PageParams) -> UserPage:
    items, total = auth_service.list_users(
        session, descending=page.descending, limit=page.limit, offset=page.offset
    )
    return UserPage.of([UserOut.model_validate(u) for u in items], total, page)


@router.post("/users", operation_id="createUser", response_model=UserOut, status_code=201)
def create_user(body: UserCreate, _admin: AdminUser, session: SessionDep) -> User:
    return auth_service.create_user(session, body.username, body.password, is_admin=body.is_admin)


@router.patch("/users/{user_id}", operation_id="updateUser", response_model=UserOut)
def update_user(user_id: IdPath, body: UserUpdate, _admin: AdminUser, session: SessionDep) -> User:
    return auth_service.update_user(
        session, user_id, password=body.password, disabled=body.disabled, is_admin=body.is_admin
    )


@router.get("/tokens", operation_id="listTokens", response_model=TokenPage)
def list_tokens(user: CurrentUser, session: SessionDep, page: PageParams) -> TokenPage:
    items, total = auth_service.list_tokens(
        session, user, descending=page.descending, limit=page.limit, offset=page.offset
    )
    return TokenPage.of([TokenOut.model_validate(t) for t in items], total, page)


@router.post("/tokens", operation_id="createToken", response_model=TokenCreated, status_code=201)
def create_token(body: TokenCreate, user: CurrentUser, session: SessionDep) -> TokenCreated:
    token, secret = auth_service.create_token_for(
        session,
        user,
        body.name,
        kind=body.kind,
        expires_in_days=body.expires_in_days,
        scope=body.scope,
        project_ids=body.project_ids,
    )
    return TokenCreated(**TokenOut.model_validate(token).model_dump(), token=secret)


@router.delete("/tokens/{token_id}", operation_id="revokeToken", status_code=204)
def revoke_token(token_id: IdPath, user: CurrentUser, session: SessionDep) -> None:
    auth_service.revoke_token(session, token_id, user)
