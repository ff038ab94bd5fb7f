"""Waking idle claimers: PostgreSQL LISTEN/NOTIFY, SQLite polling.

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

from visionyard.db.engine import driver_message
from visionyard.db.models import FeedEvent
from visionyard.runqueue._db import DB, engine_of, is_postgres
from visionyard.runqueue.feed import RUNS_TOPIC

log = logging.getLogger(__name__)

CHANNEL = "visionyard_runs"


def notify_work(session: Session, run_id: int) -> None:
    """Announce claimable work. PostgreSQL delivers it when the surrounding transaction commits
    (and drops it on rollback); on SQLite this is a no-op."""
    if is_postgres(session):
        session.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {
                "channel": CHANNEL,
                "payload": str(run_id),
            },
        )


class WorkWaiter:
    """Blocks an idle claimer until work may be available, or until a timeout.

    PostgreSQL: a dedicated autocommit psycopg connection LISTENs on `CHANNEL` from construction
    on, so a NOTIFY sent between a failed claim and the next wait is not missed. SQLite: polls
    the "runs" change feed every `poll_interval` seconds with a cheap read-only query and reports
    work when a new run state change (an enqueue, a re-queue) appeared since the last look. A
    watermark rather than "is anything queued?" keeps an agent that cannot take the queued runs
    (targeted elsewhere, too many GPUs, drained) from spinning.
    """

    def __init__(self, db: DB, *, poll_interval: float = 1.0) -> None:
        self._engine = engine_of(db)
        self._poll_interval = poll_interval
        self._pg = self._engine.dialect.name == "postgresql"
        self._conn: psycopg.Connection | None = None
        self._watermark: int | None = None
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

    def _feed_watermark(self) -> int:
        # Read-only (BEGIN DEFERRED): in WAL mode it never waits for a writer.
        engine = self._engine.execution_options(sqlite_read_only=True)
        with engine.connect() as conn:
            value = conn.execute(
                select(func.max(FeedEvent.id)).where(FeedEvent.topic == RUNS_TOPIC)
            ).scalar()
        return int(value or 0)

    def _wait_poll(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            mark = self._feed_watermark()
            if mark != self._watermark:
                self._watermark = mark
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(self._poll_interval, left))

    # ---- public -------------------------------------------------------------------------------

    def wait_for_work(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds; True if work may have arrived (claim now), False on
        timeout (claim anyway: polling is the correctness path)."""
        if self._pg:
            return self._wait_pg(timeout)
        return self._wait_poll(timeout)

    def close(self) -> None:
        self._close_conn()

    def __enter__(self) -> WorkWaiter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
