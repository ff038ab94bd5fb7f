"""Users, login sessions and API tokens, and the first-start admin bootstrap."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from visionyard.dashboard.repositories import auth as repo
from visionyard.dashboard.security import (
    display_prefix,
    hash_password,
    new_secret,
    sha256_hex,
)
from visionyard.db.models import ApiToken, User, utcnow
from visionyard.db.timestamps import as_utc
from visionyard.errors import ConflictError, InvalidRequestError, NotFoundError

log = logging.getLogger("visionyard.dashboard")


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user, through a session cookie or an API token."""

    user_id: int
    username: str
    is_admin: bool
    via: str  # "session" | "token"
    token_kind: str | None = None  # "user" | "agent"
    scope: str = "write"  # "read" (a read token: never changes anything) | "write"
    # A token limited to some projects: only those exist for it. None: no limit.
    project_ids: frozenset[int] | None = None
    # Through a session cookie: the session's id and the SHA-256 of its CSRF secret, which
    # every change it makes must present (visionyard.dashboard.csrf).
    session_id: int | None = None
    csrf_hash: str | None = field(default=None, repr=False)

    @property
    def read_only(self) -> bool:
        return self.scope == "read"


def create_user(session: Session, username: str, password: str | None, *, is_admin: bool) -> User:
    if repo.user_named(session, username) is not None:
        raise ConflictError(f"user {username!r} already exists; choose another username")
    user = User(
        username=username,
        password_hash=hash_password(password) if password else None,
        is_admin=is_admin,
    )
    repo.add(session, user)
    return user


def create_token(
    session: Session,
    user: User,
    name: str,
    *,
    kind: str = "user",
    expires_at: datetime | None = None,
    scope: str = "write",
    project_ids: list[int] | None = None,
) -> tuple[ApiToken, str]:
    secret = new_secret()
    token = ApiToken(
        user_id=user.id,
        name=name,
        kind=kind,
        scope=scope,
        project_ids=project_ids,
        token_hash=sha256_hex(secret),
        prefix=display_prefix(secret),
        expires_at=expires_at,
    )
    repo.add(session, token)
    return token, secret


def adopt_token(session: Session, user: User, name: str, secret: str, *, kind: str) -> ApiToken:
    """Register a token whose secret the operator chose (VISIONYARD_ADMIN_TOKEN)."""
    existing = repo.token_by_hash(session, sha256_hex(secret))
    if existing is not None:
        return existing
    token = ApiToken(
        user_id=user.id,
        name=name,
        kind=kind,
        token_hash=sha256_hex(secret),
        prefix=display_prefix(secret),
    )
    repo.add(session, token)
    return token


def bootstrap_admin(session: Session, *, password: str | None, token: str | None) -> dict[str, str]:
    """First start: create the admin. Generated secrets are returned once, for printing."""
    generated: dict[str, str] = {}
    if repo.count_users(session) == 0:
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
        existing = repo.user_named(session, "admin")
        if existing is not None:
            adopt_token(session, existing, "bootstrap", token, kind="user")
    return generated


def announce_generated(generated: dict[str, str]) -> None:
    """Print what `bootstrap_admin` generated: once, on the very first start (only hashes are
    stored)."""
    if generated:
        lines = [f"  {k}: {v}" for k, v in generated.items()]
        print("Visionyard admin account created (user 'admin'). Save these now:", flush=True)
        print("\n".join(lines), flush=True)


def principal_from_token(session: Session, secret: str) -> Principal | None:
    row = repo.token_by_hash(session, sha256_hex(secret))
    if row is None or row.revoked_at is not None or row.user.disabled:
        return None
    expires = as_utc(row.expires_at)
    if expires is not None and expires <= utcnow():
        return None
    return Principal(
        row.user.id,
        row.user.username,
        row.user.is_admin,
        "token",
        row.kind,
        scope=row.scope,
        project_ids=frozenset(row.project_ids) if row.project_ids is not None else None,
    )


def revoke_token(session: Session, token_id: int, principal: Principal) -> None:
    row = repo.get_token(session, token_id)
    if row is None or (row.user_id != principal.user_id and not principal.is_admin):
        raise NotFoundError(f"token {token_id} does not exist; list tokens to find its id")
    row.revoked_at = utcnow()


def list_users(
    session: Session, *, descending: bool, limit: int, offset: int
) -> tuple[Sequence[User], int]:
    return repo.users_page(session, descending=descending, limit=limit, offset=offset)


def update_user(
    session: Session,
    user_id: int,
    *,
    password: str | None,
    disabled: bool | None,
    is_admin: bool | None,
) -> User:
    """Change what is given; None keeps the current value. The last admin who can log in can
    be neither demoted nor disabled: nobody could manage users afterwards (ConflictError)."""
    user = repo.get_user(session, user_id)
    if user is None:
        raise NotFoundError(f"user {user_id} does not exist; list users to find its id")
    loses_admin = (is_admin is False or disabled is True) and user.is_admin and not user.disabled
    if loses_admin and not repo.other_active_admins(session, user.id):
        change = "disabled" if disabled else "made a non-admin"
        raise ConflictError(
            f"{user.username!r} is the only admin who can log in and cannot be {change}: "
            "nobody could manage users afterwards. Make another user an admin first."
        )
    if password is not None:
        user.password_hash = hash_password(password)
    if disabled is not None:
        user.disabled = disabled
    if is_admin is not None:
        user.is_admin = is_admin
    return user


def list_tokens(
    session: Session, principal: Principal, *, descending: bool, limit: int, offset: int
) -> tuple[Sequence[ApiToken], int]:
    """The caller's own tokens."""
    return repo.tokens_page(
        session, principal.user_id, descending=descending, limit=limit, offset=offset
    )


def create_token_for(
    session: Session,
    principal: Principal,
    name: str,
    *,
    kind: str,
    expires_in_days: int | None,
    scope: str = "write",
    project_ids: list[int] | None = None,
) -> tuple[ApiToken, str]:
    """A new token of the calling user; its secret is returned once. A token limited to
    projects may name only projects that exist and, unless the caller is an admin, that the
    caller is a member of (InvalidRequestError naming the others)."""
    owner = repo.get_user(session, principal.user_id)
    if owner is None:  # deleted between authentication and now
        raise NotFoundError(f"user {principal.user_id} was deleted; log in as an existing user")
    if project_ids is not None:
        project_ids = _grantable_projects(session, principal, project_ids)
    expires = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
    return create_token(
        session,
        owner,
        name,
        kind=kind,
        expires_at=expires,
        scope=scope,
        project_ids=project_ids,
    )


def _grantable_projects(
    session: Session, principal: Principal, project_ids: list[int]
) -> list[int]:
    wanted = sorted(set(project_ids))
    existing = repo.existing_projects(session, wanted)
    missing = [i for i in wanted if i not in existing]
    if missing:
        raise InvalidRequestError(
            f"project_ids: no project {', '.join(map(str, missing))}; list projects to find "
            "their ids",
            [{"field": "project_ids", "message": f"no project {', '.join(map(str, missing))}"}],
        )
    if not principal.is_admin:
        member_of = repo.projects_with_member(session, principal.user_id, wanted)
        foreign = [i for i in wanted if i not in member_of]
        if foreign:
            listed = ", ".join(map(str, foreign))
            raise InvalidRequestError(
                f"project_ids: you are not a member of project {listed}; a token can reach only "
                "projects you are a member of",
                [{"field": "project_ids", "message": f"not a member of project {listed}"}],
            )
    return wanted
