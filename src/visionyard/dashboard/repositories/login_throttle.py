"""SQL for the failed-login counters (`login_throttle`), shared by every dashboard process."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from visionyard.db.models import LoginThrottle


def lock(session: Session, keys: Iterable[str]) -> dict[str, LoginThrottle]:
    """The rows of `keys`, created where missing, locked until the end of the transaction.

    PostgreSQL: `FOR UPDATE` row locks, taken in key order so that two logins never wait for
    each other in a cycle; a row another process inserts at the same moment is not an error
    (ON CONFLICT DO NOTHING). SQLite: the transaction already holds the database's write lock
    (BEGIN IMMEDIATE)."""
    ordered = sorted(set(keys))
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for key in ordered:
        session.execute(
            insert(LoginThrottle)
            .values(key=key, failures=0, last_failure_at=0.0, blocked_until=0.0)
            .on_conflict_do_nothing(index_elements=["key"])
        )
    rows = session.scalars(
        select(LoginThrottle)
        .where(LoginThrottle.key.in_(ordered))
        .order_by(LoginThrottle.key)
        .with_for_update()
    )
    return {row.key: row for row in rows}


def forget(session: Session, keys: Iterable[str]) -> None:
    session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(list(keys))))
