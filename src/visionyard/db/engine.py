"""Engine and session factories with the per-backend settings that make them safe.

SQLite: WAL (readers never block the writer), a busy timeout (a writer waits for the lock instead
of failing with "database is locked"), foreign keys on. PostgreSQL: psycopg 3, pre-ping, and for
agents a bound on how long a transaction may sit idle (see `make_engine`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

SQLITE_BUSY_TIMEOUT_MS = 30_000


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def normalise_url(url: str) -> str:
    """Accept plain `postgresql://` URLs and route them to psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    # The sqlite3 module's own transaction handling is disabled (isolation_level=None below) so
    # that BEGIN IMMEDIATE can be issued explicitly; SQLAlchemy's "begin" event emits it.
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # IMMEDIATE takes the write lock at BEGIN: two writers queue on busy_timeout instead of
    # deadlocking when both upgrade from a read lock (SQLITE_BUSY that no timeout resolves).
    # Pure readers (pollers) opt out with the `sqlite_read_only` execution option; in WAL mode
    # they never wait for writers.
    read_only = conn.get_execution_options().get("sqlite_read_only", False)
    conn.exec_driver_sql("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")


def make_engine(
    url: str, *, echo: bool = False, idle_in_transaction_seconds: float | None = None
) -> Engine:
    """An engine for `url`.

    `idle_in_transaction_seconds` (PostgreSQL): the server ends a session whose transaction has
    waited that long for its client. Agents set it below their lease: an agent frozen between two
    statements (SIGSTOP, a stalled VM, swap) would otherwise keep its run row locked for as long
    as it is frozen, and the reaper, which skips locked rows, could never hand the run to another
    agent. SQLite has no equivalent: there a frozen writer holds the database lock.
    """
    url = normalise_url(url)
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"isolation_level": None, "check_same_thread": False, "timeout": 30},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    connect_args = {}
    if idle_in_transaction_seconds is not None:
        timeout_ms = max(1, round(idle_in_transaction_seconds * 1000))
        connect_args["options"] = f"-c idle_in_transaction_session_timeout={timeout_ms}"
    engine = create_engine(
        url,
        echo=echo,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        connect_args=connect_args,
    )
    event.listen(engine, "handle_error", _ended_by_server_as_disconnect)
    return engine


def _ended_by_server_as_disconnect(context: ExceptionContext) -> BaseException | None:
    """A session the server ended for idling in a transaction is a lost connection: callers
    that retry on OperationalError (agents) retry, and the pool drops the connection. psycopg
    reports it as an InternalError (SQLSTATE class 25), which nobody would retry."""
    original = context.original_exception
    if not isinstance(original, psycopg.errors.IdleInTransactionSessionTimeout):
        return None
    context.is_disconnect = True
    return OperationalError(
        context.statement, context.parameters, original, connection_invalidated=True
    )


def make_session_factory(engine: Engine, *, read_only: bool = False) -> sessionmaker[Session]:
    """Sessions for units of work; `read_only=True` for transactions that never write."""
    if read_only and engine.dialect.name == "sqlite":
        engine = engine.execution_options(sqlite_read_only=True)
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception."""
    with factory() as session, session.begin():
        yield session


def driver_message(exc: BaseException) -> str:
    """The first line of the database driver's own message (not SQLAlchemy's wrapper with its
    help link, nor the driver's continuation lines): what an operator's log line should show."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return (lines[0] if lines else type(cause).__name__)[:300]
