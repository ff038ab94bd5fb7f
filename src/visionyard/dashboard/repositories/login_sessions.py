"""SQL for login sessions (the rows behind the session cookie)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, func, not_, select, update
from sqlalchemy.orm import Session

from visionyard.dashboard.repositories import page
from visionyard.db.models import LoginSession


def by_hash(session: Session, secret_hash: str) -> LoginSession | None:
    return session.scalar(select(LoginSession).where(LoginSession.secret_hash == secret_hash))


def get(session: Session, session_id: int) -> LoginSession | None:
    return session.get(LoginSession, session_id)


def add(session: Session, row: LoginSession) -> None:
    session.add(row)
    session.flush()


def touch(session: Session, session_id: int, now: datetime) -> None:
    session.execute(
        update(LoginSession).where(LoginSession.id == session_id).values(last_seen_at=now)
    )


def _live(now: datetime, idle_cutoff: datetime) -> ColumnElement[bool]:
    """Within the absolute end, and used since `idle_cutoff` (now minus the idle timeout)."""
    last_seen = func.coalesce(LoginSession.last_seen_at, LoginSession.created_at)
    return and_(LoginSession.expires_at > now, last_seen > idle_cutoff)


def live_page(
    session: Session,
    user_id: int,
    *,
    now: datetime,
    idle_cutoff: datetime,
    descending: bool,
    limit: int,
    offset: int,
) -> tuple[Sequence[LoginSession], int]:
    return page(
        session,
        select(LoginSession).where(LoginSession.user_id == user_id, _live(now, idle_cutoff)),
        sort_column=LoginSession.id,
        id_column=LoginSession.id,
        descending=descending,
        limit=limit,
        offset=offset,
    )


def remove_ended_of(
    session: Session, user_id: int, *, now: datetime, idle_cutoff: datetime
) -> None:
    session.execute(
        delete(LoginSession).where(LoginSession.user_id == user_id, not_(_live(now, idle_cutoff)))
    )


def remove(session: Session, row: LoginSession) -> None:
    session.delete(row)


def remove_all_of(session: Session, user_id: int) -> int:
    result = session.execute(delete(LoginSession).where(LoginSession.user_id == user_id))
    return int(getattr(result, "rowcount", 0) or 0)
