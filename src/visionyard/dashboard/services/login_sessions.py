"""Login sessions: what the session cookie stands for, how long it lasts, and ending it.

A session ends `session_ttl_hours` after the login (its absolute end, `expires_at`) or after
`session_idle_minutes` without a request, whichever comes first. Each session has its own CSRF
secret (see `visionyard.dashboard.csrf`); like the session secret, only its SHA-256 is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from visionyard.dashboard.repositories import login_sessions as repo
from visionyard.dashboard.security import new_secret, sha256_hex
from visionyard.dashboard.services.auth import Principal
from visionyard.dashboard.state import AppState
from visionyard.db.models import LoginSession, User, utcnow
from visionyard.db.timestamps import as_utc
from visionyard.errors import NotFoundError
from visionyard.settings import Settings
from visionyard.text import storable

#: `last_seen_at` is written at most this often per session: a write per request would take
#: SQLite's write lock on every page load; the idle timeout is therefore exact to about this
TOUCH_EVERY = timedelta(seconds=60)
#: the columns' sizes
MAX_IP_CHARS = 64
MAX_USER_AGENT_CHARS = 255


@dataclass(frozen=True)
class Lifetimes:
    absolute: timedelta
    idle: timedelta

    @classmethod
    def of(cls, settings: Settings) -> Lifetimes:
        return cls(
            absolute=timedelta(hours=settings.session_ttl_hours),
            idle=timedelta(minutes=settings.session_idle_minutes),
        )


@dataclass(frozen=True)
class NewSession:
    """A session just started: its secrets, shown once (as cookies), never stored."""

    row: LoginSession
    secret: str
    csrf_secret: str


def start(
    session: Session,
    user: User,
    lifetimes: Lifetimes,
    *,
    ip: str,
    user_agent: str,
) -> NewSession:
    now = utcnow()
    # Housekeeping where it is cheap: the user's ended sessions go when a new one starts.
    repo.remove_ended_of(session, user.id, now=now, idle_cutoff=now - lifetimes.idle)
    secret = new_secret(prefix="vys_")
    csrf_secret = new_secret(prefix="vyc_")
    row = LoginSession(
        user_id=user.id,
        secret_hash=sha256_hex(secret),
        csrf_hash=sha256_hex(csrf_secret),
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetimes.absolute,
        # Shown back to the user in their list of sessions: readable, bounded text.
        ip=storable(ip)[:MAX_IP_CHARS],
        user_agent=storable(user_agent)[:MAX_USER_AGENT_CHARS],
    )
    repo.add(session, row)
    return NewSession(row, secret, csrf_secret)


def is_live(row: LoginSession, lifetimes: Lifetimes, now: datetime) -> bool:
    """Within both its absolute end and its idle end (rows from before the idle timeout have
    no `last_seen_at`: their login time stands in)."""
    last_seen = as_utc(row.last_seen_at or row.created_at)
    return now < as_utc(row.expires_at) and now < last_seen + lifetimes.idle


def principal_for_cookie(state: AppState, secret: str) -> Principal | None:
    """Who the session cookie `secret` belongs to, or None when it is unknown, ended (absolute
    or idle end) or its user is disabled; marks the session as used when that is due.

    The lookup is a read-only transaction (on SQLite it takes no lock); the mark, when due, is a
    separate short write transaction, after the read one has ended."""
    lifetimes = Lifetimes.of(state.settings)
    now = utcnow()
    with state.read_sessions() as session:
        row = repo.by_hash(session, sha256_hex(secret))
        if row is None or not is_live(row, lifetimes, now) or row.user.disabled:
            return None
        principal = Principal(
            row.user.id,
            row.user.username,
            row.user.is_admin,
            "session",
            session_id=row.id,
            csrf_hash=row.csrf_hash,
        )
        last_seen = as_utc(row.last_seen_at)
        due = last_seen is None or now - last_seen >= TOUCH_EVERY
    if due:
        with state.sessions() as session, session.begin():
            repo.touch(session, row.id, now)
    return principal


def list_own(
    session: Session,
    principal: Principal,
    lifetimes: Lifetimes,
    *,
    descending: bool,
    limit: int,
    offset: int,
) -> tuple[Sequence[LoginSession], int]:
    """The caller's sessions that have not ended."""
    now = utcnow()
    return repo.live_page(
        session,
        principal.user_id,
        now=now,
        idle_cutoff=now - lifetimes.idle,
        descending=descending,
        limit=limit,
        offset=offset,
    )


def end(session: Session, principal: Principal, session_id: int) -> None:
    """End one of the caller's sessions; another user's is as missing as one that never was."""
    row = repo.get(session, session_id)
    if row is None or row.user_id != principal.user_id:
        raise NotFoundError(
            f"session {session_id} does not exist among yours; list your sessions to find its id"
        )
    repo.remove(session, row)


def end_current(session: Session, secret: str) -> None:
    row = repo.by_hash(session, sha256_hex(secret))
    if row is not None:
        repo.remove(session, row)


def end_all(session: Session, principal: Principal) -> int:
    """End every session of the caller (log out everywhere); how many there were."""
    return repo.remove_all_of(session, principal.user_id)
