"""Login/logout, the current user, users (admin) and API tokens."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, Field
from sqlalchemy import select

from visionyard.dashboard.deps import SESSION_COOKIE, AdminUser, CurrentUser, SessionDep, StateDep
from visionyard.dashboard.routers.projects import UtcDateTime
from visionyard.dashboard.schemas import ApiModel, IdPath, Name, SafeStr
from visionyard.dashboard.services import auth as auth_service
from visionyard.db.models import ApiToken, User
from visionyard.errors import NotFoundError

router = APIRouter(tags=["auth"])

Username = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")


# SafeStr: a NUL or a lone surrogate in a username reaches the database (and in a password the
# hasher's UTF-8 encoding); both would be 500s instead of a 422.
class LoginRequest(BaseModel):
    username: SafeStr = Field(min_length=1, max_length=64)
    password: SafeStr = Field(min_length=1, max_length=1024)


class UserOut(ApiModel):
    id: int
    username: str
    is_admin: bool
    disabled: bool
    created_at: UtcDateTime


class UserCreate(BaseModel):
    username: str = Username
    password: SafeStr = Field(min_length=8, max_length=1024)
    is_admin: bool = False


class UserUpdate(BaseModel):
    password: SafeStr | None = Field(None, min_length=8, max_length=1024)
    disabled: bool | None = None
    is_admin: bool | None = None


class TokenCreate(BaseModel):
    name: Name
    kind: str = Field("user", pattern="^(user|agent)$")
    expires_in_days: int | None = Field(None, ge=1, le=3650)


class TokenOut(ApiModel):
    id: int
    name: str
    kind: str
    prefix: str
    # UtcDateTime: SQLite hands back naive timestamps, which are not RFC 3339 date-times.
    created_at: UtcDateTime
    expires_at: UtcDateTime | None
    revoked_at: UtcDateTime | None
    last_used_at: UtcDateTime | None


class TokenCreated(TokenOut):
    token: str = Field(description="The secret; shown only in this response.")


class Me(BaseModel):
    id: int
    username: str
    is_admin: bool
    via: str


@router.post("/auth/login", operation_id="login", response_model=Me)
def login(body: LoginRequest, response: Response, session: SessionDep, state: StateDep) -> Me:
    ttl = timedelta(hours=state.settings.session_ttl_hours)
    user, secret = auth_service.login(session, body.username, body.password, ttl)
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(ttl.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=state.settings.secure_cookies,
        path="/",
    )
    return Me(id=user.id, username=user.username, is_admin=user.is_admin, via="session")


@router.post("/auth/logout", operation_id="logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(request: Request, response: Response, _user: CurrentUser, session: SessionDep) -> None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        auth_service.logout(session, cookie)
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/auth/me", operation_id="getMe", response_model=Me)
def me(user: CurrentUser) -> Me:
    return Me(id=user.user_id, username=user.username, is_admin=user.is_admin, via=user.via)


@router.get("/users", operation_id="listUsers", response_model=list[UserOut])
def list_users(_admin: AdminUser, session: SessionDep) -> list[User]:
    return list(session.scalars(select(User).order_by(User.id)))


@router.post("/users", operation_id="createUser", response_model=UserOut, status_code=201)
def create_user(body: UserCreate, _admin: AdminUser, session: SessionDep) -> User:
    return auth_service.create_user(session, body.username, body.password, is_admin=body.is_admin)


@router.patch("/users/{user_id}", operation_id="updateUser", response_model=UserOut)
def update_user(user_id: IdPath, body: UserUpdate, _admin: AdminUser, session: SessionDep) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"user {user_id} does not exist")
    if body.password is not None:
        user.password_hash = auth_service.hash_password(body.password)
    if body.disabled is not None:
        user.disabled = body.disabled
    if body.is_admin is not None:
        user.is_admin = body.is_admin
    return user


@router.get("/tokens", operation_id="listTokens", response_model=list[TokenOut])
def list_tokens(user: CurrentUser, session: SessionDep) -> list[ApiToken]:
    query = select(ApiToken).where(ApiToken.user_id == user.user_id).order_by(ApiToken.id)
    return list(session.scalars(query))


@router.post("/tokens", operation_id="createToken", response_model=TokenCreated, status_code=201)
def create_token(body: TokenCreate, user: CurrentUser, session: SessionDep) -> TokenCreated:
    owner = session.get(User, user.user_id)
    assert owner is not None
    expires = None
    if body.expires_in_days:
        expires = auth_service._now() + timedelta(days=body.expires_in_days)
    token, secret = auth_service.create_token(
        session, owner, body.name, kind=body.kind, expires_at=expires
    )
    return TokenCreated(**TokenOut.model_validate(token).model_dump(), token=secret)


@router.delete("/tokens/{token_id}", operation_id="revokeToken", status_code=204)
def revoke_token(token_id: IdPath, user: CurrentUser, session: SessionDep) -> None:
    auth_service.revoke_token(session, token_id, user)
