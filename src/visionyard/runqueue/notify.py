"""Waking idle claimers: PostgreSQL LISTEN/NOTIFY, SQLite a cheap change-counter poll.

NOTIFY is an optimisation; polling is the correctness path. A claimer therefore tries to claim
after *every* return of `WorkWaiter.wait_for_work`, whether it says work arrived or not:
notifications can be lost (a dropped connection) and SQLite has none at all.

Typical agent loop::

    with WorkWaiter(engine) as waiter:        # LISTEN starts here, before the first claim
        while True:
            if not agent_heartbeat(db, agent_id):
                run = claim_next(db, agent_id=agent_id, capacity=gpus)
                if run:
                    ...
                    continue
            waiter.wait_for_work(timeout=5.0)
"""

from __future__ import annotations

import logging
import time
from types import TracebackType

import psycopg
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import PoolProxiedConnection

from visionyard.db.engine import driver_message
from visionyard.db.models import FeedEvent
from visionyard.runqueue._db import DB, engine_of, is_postgres
from visionyard.runqueue.feed import RUNS_TOPIC

log = logging.getLogger(__name__)

CHANNEL = "visionyard_runs"
#: SQLite: how often an idle claimer reads the change counter. 5 ms keeps the wake-up within
#: ~5 ms of an enqueue for ~200 reads of shared memory a second (microseconds each; an idle
#: agent measured ~6 ms of CPU a second, heartbeats included: bench/queue_bench.py).
SQLITE_POLL_INTERVAL = 0.005
_WATERMARK_SQL = f"SELECT max(id) FROM {FeedEvent.__tablename__} WHERE topic = ?"


def notify_work(session: Session, run_id: int) -> None:
    """Announce claimable work. PostgreSQL delivers it when the surrounding transaction commits
    (and drops it on rollback); on SQLite this is a no-op."""
    if is_postgres(session):
        channel, payload = work_notice(run_id)
        session.execute(
            text("SELECT pg_notify(:channel, :payload)"), {"channel": channel, "payload": payload}
        )


def work_notice(run_id: int) -> tuple[str, str]:
    """`notify_work`'s notification as a (channel, payload) pair for `feed.emit(also_notify=)`,
    which sends it in the feed's own NOTIFY statement (one round trip fewer)."""
    return (CHANNEL, str(run_id))


class WorkWaiter:
    """Blocks an idle claimer until work may be available, or until a timeout.

    PostgreSQL: a dedicated autocommit psycopg connection LISTENs on `CHANNEL` from construction
    on, so a NOTIFY sent between a failed claim and the next wait is not missed. SQLite: every
    `poll_interval` seconds a dedicated connection reads `PRAGMA data_version`, which changes
    when any other connection commits (a read of the WAL index in shared memory: no query plan,
    no table read, a few microseconds). Only when it changed does the waiter read the "runs"
    change feed's watermark, and it reports work when a new run state change (an enqueue, a
    re-queue) appeared since the last look. A watermark rather than "is anything queued?"
    keeps an agent that cannot take the queued runs (targeted elsewhere, too many GPUs,
    drained) from spinning.
    """

    def __init__(self, db: DB, *, poll_interval: float = SQLITE_POLL_INTERVAL) -> None:
        self._engine = engine_of(db)
        self._poll_interval = poll_interval
        self._pg = self._engine.dialect.name == "postgresql"
        self._conn: psycopg.Connection | None = None
        self._watermark: int | None = None
        self._sqlite: PoolProxiedConnection | None = None
        self._data_version: int | None = None
        if self._pg:
            self._connect()
        else:
            self._watermark = self._feed_watermark()

    # ---- PostgreSQL ---------------------------------------------------------------------------

    def _connect(self) -> None:
        url = self._engine.url.set(drivername="postgresql")
        self._conn = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
        self._conn.execute(f"LISTEN {CHANNEL}")

    def _wait_pg(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        try:
            if self._conn is None or self._conn.closed:
                self._connect()
            assert self._conn is not None
            got = False
            # Iterated to the end (not any()): stop_after=1 still yields the whole packet, and
            # a generator abandoned mid-packet would drop the rest of it silently.
            for _ in self._conn.notifies(timeout=timeout, stop_after=1):
                got = True
            if got:
                # A burst of enqueues needs one claim attempt, not one wake-up per NOTIFY:
                # swallow what has already arrived (best effort; a straggler costs one more
                # cheap claim attempt).
                for _ in self._conn.notifies(timeout=0):
                    pass
            return got
        except psycopg.OperationalError as exc:
            # The listening connection is gone: fall back to polling for this wait and
            # reconnect on the next one. The caller's claim surfaces real database outages.
            log.warning(
                "LISTEN connection lost (%s); polling until it is back", driver_message(exc)
            )
            self._close_conn()
            time.sleep(max(0.0, deadline - time.monotonic()))
            return True

    def _close_conn(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    # ---- SQLite -------------------------------------------------------------------------------

    def _read_raw(self, sql: str, params: tuple[str, ...] = ()) -> int | None:
        """One value read on the waiter's own connection (autocommit: a read in WAL mode never
        waits for a writer), or None when that connection failed (it is dropped and reopened
        on the next call)."""
        try:
            if self._sqlite is None:
                self._sqlite = self._engine.raw_connection()
            cursor = self._sqlite.cursor()
            try:
                cursor.execute(sql, params)
                row = cursor.fetchone()
            finally:
                cursor.close()
            value = row[0] if row else None
        except Exception as exc:  # noqa: BLE001 - degrade to the engine's own query
            log.warning("SQLite wake-up check failed (%s); reading the feed instead", exc)
            self._close_sqlite()
            return None
        return int(value or 0)

    def _feed_watermark(self) -> int:
        raw = self._read_raw(_WATERMARK_SQL, (RUNS_TOPIC,))
        if raw is not None:
            return raw
        # Read-only (BEGIN DEFERRED): in WAL mode it never waits for a writer.
        engine = self._engine.execution_options(sqlite_read_only=True)
        with engine.connect() as conn:
            value = conn.execute(
                select(func.max(FeedEvent.id)).where(FeedEvent.topic == RUNS_TOPIC)
            ).scalar()
        return int(value or 0)

    def _changed(self) -> bool:
        """Whether another connection committed since the last call (also True when the
        counter cannot be read: then the watermark decides)."""
        version = self._read_raw("PRAGMA data_version")
        changed = version is None or version != self._data_version
        self._data_version = version
        return changed

    def _wait_poll(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if self._changed():
                mark = self._feed_watermark()
                if mark != self._watermark:
                    self._watermark = mark
                    return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(self._poll_interval, left))

    def _close_sqlite(self) -> None:
        if self._sqlite is not None:
            try:
                self._sqlite.close()
            finally:
                self._sqlite = None

    # ---- public -------------------------------------------------------------------------------

    def wait_for_work(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds; True if work may have arrived (claim now), False on
        timeout (claim anyway: polling is the correctness path)."""
        if self._pg:
            return self._wait_pg(timeout)
        return self._wait_poll(timeout)

    def close(self) -> None:
        self._close_conn()
        self._close_sqlite()

    def __enter__(self) -> WorkWaiter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
