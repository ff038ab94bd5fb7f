"""Users, login sessions and API tokens, and the first-start admin bootstrap."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import overload

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from visionyard.dashboard.security import (
    display_prefix,
    hash_password,
    new_secret,
    sha256_hex,
    verify_password,
)
from visionyard.db.models import ApiToken, LoginSession, User
from visionyard.errors import AuthenticationError, ConflictError, NotFoundError

log = logging.getLogger("visionyard.dashboard")


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user, through a session cookie or an API token."""

    user_id: int
    username: str
    is_admin: bool
    via: str  # "session" | "token"
    token_kind: str | None = None  # "user" | "agent"


def _now() -> datetime:
    return datetime.now(UTC)


@overload
def _aware(value: datetime) -> datetime: ...
@overload
def _aware(value: datetime | None) -> datetime | None: ...
def _aware(value: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes for timezone-aware columns; they were written in UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def create_user(session: Session, username: str, password: str | None, *, is_admin: bool) -> User:
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise ConflictError(f"user {username!r} already exists; choose another username")
    user = User(
        username=username,
        password_hash=hash_password(password) if password else None,
        is_admin=is_admin,
    )
    session.add(user)
    session.flush()
    return user


def create_token(
    session: Session,
    user: User,
    name: str,
    *,
    kind: str = "user",
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    secret = new_secret()
    token = ApiToken(
        user_id=user.id,
        name=name,
        kind=kind,
        token_hash=sha256_hex(secret),
        prefix=display_prefix(secret),
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    return token, secret


def adopt_token(session: Session, user: User, name: str, secret: str, *, kind: str) -> ApiToken:
    """Register a token whose secret the operator chose (VISIONYARD_ADMIN_TOKEN)."""
    existing = session.scalar(select(ApiToken).where(ApiToken.token_hash == sha256_hex(secret)))
    if existing is not None:
        return existing
    token = ApiToken(
        user_id=user.id,
        name=name,
        kind=kind,
        token_hash=sha256_hex(secret),
        prefix=display_prefix(secret),
    )
    session.add(token)
    session.flush()
    return token


def bootstrap_admin(session: Session, *, password: str | None, token: str | None) -> dict[str, str]:
    """First start: create the admin. Generated secrets are returned once, for printing."""
    generated: dict[str, str] = {}
    if session.scalar(select(func.count()).select_from(User)) == 0:
        if password is None:
            password = new_secret(prefix="")[:20]
            generated["password"] = password
        admin = create_user(session, "admin", password, is_admin=True)
        if token is None:
            _, token = create_token(session, admin, "bootstrap")
            generated["token"] = token
        else:
            adopt_token(session, admin, "bootstrap", token, kind="user")
    elif token is not None:
        existing = session.scalar(select(User).where(User.username == "admin"))
        if existing is not None:
            adopt_token(session, existing, "bootstrap", token, kind="user")
    return generated


def login(session: Session, username: str, password: str, ttl: timedelta) -> tuple[User, str]:
    user = session.scalar(select(User).where(User.username == username))
    if user is None or user.disabled or not verify_password(password, user.password_hash):
        # Same message for unknown user and wrong password: no username probing.
        raise AuthenticationError("wrong username or password")
    secret = new_secret(prefix="vys_")
    session.add(
        LoginSession(user_id=user.id, secret_hash=sha256_hex(secret), expires_at=_now() + ttl)
    )
    return user, secret


def logout(session: Session, secret: str) -> None:
    row = session.scalar(select(LoginSession).where(LoginSession.secret_hash == sha256_hex(secret)))
    if row is not None:
        session.delete(row)


def principal_from_session(session: Session, secret: str) -> Principal | None:
    row = session.scalar(select(LoginSession).where(LoginSession.secret_hash == sha256_hex(secret)))
    if row is None or _aware(row.expires_at) <= _now() or row.user.disabled:
        return None
    return Principal(row.user.id, row.user.username, row.user.is_admin, "session")


def principal_from_token(session: Session, secret: str) -> Principal | None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == sha256_hex(secret)))
    if row is None or row.revoked_at is not None or row.user.disabled:
        return None
    expires = _aware(row.expires_at)
    if expires is not None and expires <= _now():
        return None
    return Principal(row.user.id, row.user.username, row.user.is_admin, "token", row.kind)


def revoke_token(session: Session, token_id: int, principal: Principal) -> None:
    row = session.get(ApiToken, token_id)
    if row is None or (row.user_id != principal.user_id and not principal.is_admin):
        raise NotFoundError(f"token {token_id} does not exist")
    row.revoked_at = _now()
