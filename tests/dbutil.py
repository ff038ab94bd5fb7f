"""Fresh, migrated databases for tests: a SQLite file, or a new PostgreSQL database on the
server named by VISIONYARD_TEST_PG_URL (which `.ci/run` sets). PostgreSQL tests skip, loudly,
when no server answers — they never silently pass."""

from __future__ import annotations

import gc
import os
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from visionyard.db.engine import make_engine
from visionyard.db.migrate import upgrade

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def pg_admin_url() -> str | None:
    url = os.environ.get("VISIONYARD_TEST_PG_URL", DEFAULT_PG_URL)
    try:
        engine = create_engine(
            url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
        )
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception:  # noqa: BLE001 - any failure means "no server here"
        return None
    return url


@contextmanager
def fresh_pg_database() -> Iterator[str]:
    admin_url = pg_admin_url()
    if admin_url is None:
        raise RuntimeError("no PostgreSQL server reachable")
    name = f"vy_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
    finally:
        _collect_leftover_connections()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _collect_leftover_connections() -> None:
    """Close, now, connections to this test's database that nothing references any more.

    An engine a test dropped without disposing (an app never started, a thread abandoned at
    shutdown) is otherwise closed by the garbage collector at an arbitrary later point, and
    psycopg's ResourceWarning then fails whichever test happens to be running (filterwarnings =
    error). Collected here, it is the database's own teardown that absorbs it.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


@contextmanager
def fresh_sqlite_database(directory: Path) -> Iterator[str]:
    url = f"sqlite:///{directory / 'visionyard.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
