"""Fresh, migrated databases for tests: a SQLite file, or a new PostgreSQL database on the
server named by VISIONYARD_TEST_PG_URL (which `.ci/run` sets). PostgreSQL tests skip, loudly,
when no server answers — they never silently pass.

Each test still gets a database of its own at the head revision, but the Alembic migrations run
once per test session: the first request migrates a template (a PostgreSQL database, a SQLite
file) and every test database is a copy of it. Running the migrations for each of several hundred
tests was most of their set-up time; tests/db/test_migrations.py is what tests the migrations
themselves, on databases it builds step by step.
"""

from __future__ import annotations

import atexit
import functools
import gc
import os
import queue
import shutil
import sys
import tempfile
import threading
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


@functools.cache  # asked before every PostgreSQL test; the answer holds for the session
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


class _PgTemplate:
    """One migrated PostgreSQL database per test session, cloned for each test
    (`CREATE DATABASE ... TEMPLATE`: a file-level copy, a fraction of a migration's time).

    Finished test databases are dropped by a background thread: a DROP waits on the server's disk
    for a second or more, which the next test need not wait for. Both the drops still queued and
    the template are gone when the session's interpreter exits.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._name: str | None = None
        self._admin_url: str | None = None
        self._drops: queue.Queue[str | None] = queue.Queue()
        self._dropper: threading.Thread | None = None

    def clone(self, admin_url: str) -> str:
        """A new database at the head revision; returns its name."""
        with self._lock:
            if self._name is None or self._admin_url != admin_url:
                self._name = self._migrate_template(admin_url)
                self._admin_url = admin_url
            name = f"vy_test_{uuid.uuid4().hex[:12]}"
            _admin_execute(admin_url, f'CREATE DATABASE "{name}" TEMPLATE "{self._name}"')
            return name

    def drop_later(self, admin_url: str, name: str) -> None:
        with self._lock:
            if self._dropper is None:
                self._dropper = threading.Thread(
                    target=self._drop_loop, args=(admin_url,), name="pg-test-db-dropper"
                )
                self._dropper.daemon = True
                self._dropper.start()
        self._drops.put(name)

    def close(self) -> None:
        """Finish the queued drops, then drop the template (at interpreter exit)."""
        if self._dropper is not None:
            self._drops.put(None)
            self._dropper.join(timeout=120)
        if self._name is not None and self._admin_url is not None:
            _drop(self._admin_url, self._name)
            self._name = None

    def _migrate_template(self, admin_url: str) -> str:
        name = f"vy_test_template_{uuid.uuid4().hex[:12]}"
        _admin_execute(admin_url, f'CREATE DATABASE "{name}"')
        engine = make_engine(_database_url(admin_url, name))
        try:
            upgrade(engine)
        finally:
            # A clone fails while any session is connected to its template.
            engine.dispose()
        return name

    def _drop_loop(self, admin_url: str) -> None:
        while (name := self._drops.get()) is not None:
            try:
                _drop(admin_url, name)
            except Exception as exc:  # noqa: BLE001 - a leftover database is not a test failure
                # Not warnings.warn: under filterwarnings=error it would end this thread.
                print(f"could not drop test database {name}: {exc}", file=sys.stderr)


def _drop(admin_url: str, name: str) -> None:
    _admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _admin_execute(admin_url: str, statement: str) -> None:
    """One statement outside a transaction (CREATE/DROP DATABASE refuse to run in one)."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(statement))
    finally:
        admin.dispose()


def _database_url(admin_url: str, name: str) -> str:
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


_PG_TEMPLATE = _PgTemplate()
atexit.register(_PG_TEMPLATE.close)


@contextmanager
def fresh_pg_database() -> Iterator[str]:
    admin_url = pg_admin_url()
    if admin_url is None:
        raise RuntimeError("no PostgreSQL server reachable")
    name = _PG_TEMPLATE.clone(admin_url)
    try:
        yield _database_url(admin_url, name)
    finally:
        _collect_leftover_connections()
        # WITH (FORCE) in the drop ends any session the test left behind (a process it started).
        _PG_TEMPLATE.drop_later(admin_url, name)


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


_sqlite_template_lock = threading.Lock()
_sqlite_template: Path | None = None


def _migrated_sqlite_file() -> Path:
    """A SQLite file at the head revision, migrated once per session."""
    global _sqlite_template
    with _sqlite_template_lock:
        if _sqlite_template is None:
            folder = Path(tempfile.mkdtemp(prefix="vy-sqlite-template-"))
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            path = folder / "template.db"
            engine = make_engine(f"sqlite:///{path}")
            upgrade(engine)
            engine.dispose()
            # The last connection's close checkpoints the WAL into the file and removes it: the
            # file alone is the whole database.
            assert not path.with_name(path.name + "-wal").exists(), "WAL left beside the template"
            _sqlite_template = path
        return _sqlite_template


@contextmanager
def fresh_sqlite_database(directory: Path) -> Iterator[str]:
    path = directory / "visionyard.db"
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_migrated_sqlite_file(), path)
    yield f"sqlite:///{path}"
