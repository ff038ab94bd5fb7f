"""Plumbing shared by the queue modules: session factories, transactions with retry, time.

Every public queue function takes the database explicitly (an `Engine` or a `sessionmaker`);
nothing here is global.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import Engine, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from visionyard.db.engine import make_session_factory

DB = Engine | sessionmaker[Session]
T = TypeVar("T")

# Transient failures worth replaying the whole transaction for. PostgreSQL: deadlock and
# serialization failure (the transaction was rolled back; replaying it is the documented fix).
# SQLite: "database is locked" only reaches us after the 30 s busy timeout; one more go is cheap
# insurance so the message never reaches a caller on a merely busy machine.
_PG_RETRY_SQLSTATES = frozenset({"40P01", "40001"})
_MAX_TRIES = 4


def session_factory(db: DB) -> sessionmaker[Session]:
    """The sessionmaker to use for `db` (an Engine gets the project's standard factory)."""
    if isinstance(db, Engine):
        return make_session_factory(db)
    return db


def engine_of(db: DB) -> Engine:
    if isinstance(db, Engine):
        return db
    bind = db.kw.get("bind")
    if not isinstance(bind, Engine):
        raise TypeError("the sessionmaker passed to the run queue must be bound to an Engine")
    return bind


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def upsert_insert(session: Session, table: Table) -> postgresql.Insert | sqlite.Insert:
    """The dialect's INSERT, which has `on_conflict_do_nothing/update`."""
    if is_postgres(session):
        return postgresql.insert(table)
    return sqlite.insert(table)


def _transient(exc: OperationalError) -> bool:
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate in _PG_RETRY_SQLSTATES:
        return True
    message = str(exc.orig).lower()
    return "database is locked" in message or "database is busy" in message


def in_transaction(db: DB, work: Callable[[Session], T]) -> T:
    """Run `work(session)` in one transaction: commit on success, roll back on any exception,
    replay on a transient database failure (the transaction had no effect)."""
    factory = session_factory(db)
    for attempt in range(1, _MAX_TRIES + 1):
        try:
            with factory() as session, session.begin():
                return work(session)
        except OperationalError as exc:
            if attempt == _MAX_TRIES or not _transient(exc):
                raise
            time.sleep(0.01 * 2**attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def now_or(now: float | None) -> float:
    """Unix seconds: the injected clock (tests) or the wall clock."""
    return time.time() if now is None else float(now)


def as_datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)
