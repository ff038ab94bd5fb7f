"""Telling a supervising agent within a second that a user asked to cancel its run.

The lease renewal also reports a cancel request, but only every third of a lease (10 s with the
default 30 s lease), and the trainer keeps training meanwhile. `CancelWatch` is the fast path:

- PostgreSQL: `request_cancel` sends ``NOTIFY visionyard_cancel, '<run id>'`` inside its
  transaction (delivered on commit, dropped on rollback). The watch LISTENs on a dedicated
  autocommit connection, and `wait` returns the moment a notification for its run arrives.
- SQLite has no notifications: `wait` reads the run's flag every `poll_interval` seconds
  (0.5 s by default), one primary-key lookup per agent per interval in a read-only transaction,
  which in WAL mode never waits for a writer.

Either way the flag is confirmed by reading it for exactly this attempt on this agent, so a
notification for another attempt, or a stale one, stops nothing. Reading the flag is no write:
fencing is untouched, the agent still reports the outcome through the fenced `finish_run`.
Notifications are an optimisation, as for the work wake-ups (`visionyard.runqueue.notify`): a
lost listening connection degrades to polling until it is back, and the lease renewal stays the
correctness path.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable

import psycopg
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from visionyard.db.models import Run, RunState
from visionyard.runqueue._db import DB, engine_of, is_postgres

log = logging.getLogger(__name__)

CANCEL_CHANNEL = "visionyard_cancel"
#: how often SQLite (or PostgreSQL without its listening connection) reads the flag, seconds
DEFAULT_POLL_INTERVAL = 0.5
#: how long a lost listening connection waits before reconnecting, seconds
_RECONNECT_EVERY = 5.0
_CONNECT_TIMEOUT_S = 3


def notify_cancel(session: Session, run_id: int) -> None:
    """Tell the agent running `run_id` that a cancel was requested, when the surrounding
    transaction commits (PostgreSQL; a no-op on SQLite, whose agents poll)."""
    if is_postgres(session):
        session.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": CANCEL_CHANNEL, "payload": str(run_id)},
        )


def cancel_requested(db: DB, run_id: int, attempt: int, agent_id: int) -> bool:
    """Whether a cancel was requested for this attempt of `run_id` while `agent_id` runs it
    (False when the run is no longer this agent's attempt: the lease renewal reports that).
    One primary-key lookup in a read-only transaction."""
    engine = engine_of(db).execution_options(sqlite_read_only=True)
    with engine.connect() as conn:
        flag = conn.execute(
            select(Run.cancel_requested).where(
                Run.id == run_id,
                Run.state == RunState.running,
                Run.attempt == attempt,
                Run.agent_id == agent_id,
            )
        ).scalar_one_or_none()
    return bool(flag)


class CancelWatch:
    """Watches one attempt of one run for a cancel request while an agent supervises it.

    `wait(timeout)` stands in for the supervisor's sleep between two ticks: it returns True as
    soon as the cancel is known (and from then on at once), False when the time is up. The
    first call always reads the flag, which covers a cancel committed before LISTEN began.
    `on_error(doing, exc)` hears about database errors (the agent's outage log); they never
    raise out of `wait`.
    """

    def __init__(
        self,
        db: DB,
        *,
        run_id: int,
        attempt: int,
        agent_id: int,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        on_error: Callable[[str, BaseException], None] | None = None,
    ) -> None:
        self._db = db
        self._engine = engine_of(db)
        self._run_id, self._attempt, self._agent_id = run_id, attempt, agent_id
        self._payload = str(run_id)
        self._poll_interval = poll_interval
        self._on_error = on_error
        self._pg = self._engine.dialect.name == "postgresql"
        self._conn: psycopg.Connection | None = None
        self._next_connect = 0.0
        self._next_poll = 0.0  # read the flag on the first wait
        self.requested = False
        if self._pg:
            self._connect()

    # ---- reading the flag ---------------------------------------------------------------------

    def _check(self) -> bool:
        try:
            self.requested = cancel_requested(self._db, self._run_id, self._attempt, self._agent_id)
        except OperationalError as exc:
            self._report(f"checking run {self._run_id} for a cancel request", exc)
        return self.requested

    def _report(self, doing: str, exc: BaseException) -> None:
        if self._on_error is not None:
            self._on_error(doing, exc)
        else:
            log.debug("%s failed: %s", doing, exc)

    # ---- PostgreSQL ---------------------------------------------------------------------------

    def _connect(self) -> None:
        self._next_connect = time.monotonic() + _RECONNECT_EVERY
        url = self._engine.url.set(drivername="postgresql")
        try:
            conn = psycopg.connect(
                url.render_as_string(hide_password=False),
                autocommit=True,
                connect_timeout=_CONNECT_TIMEOUT_S,
            )
            conn.execute(f"LISTEN {CANCEL_CHANNEL}")
        except psycopg.Error as exc:
            self._report("listening for cancel requests", exc)
            return
        self._conn = conn
        self._next_poll = 0.0  # a cancel sent while we were not listening: read the flag once

    def _close_conn(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()

    def _wait_notified(self, deadline: float) -> bool:
        """Block until a notification for this run or the deadline; True if one came."""
        assert self._conn is not None
        try:
            while (left := deadline - time.monotonic()) > 0:
                mine = False
                # Iterated to the end: stop_after=1 still yields the rest of the packet, and a
                # generator abandoned mid-packet would drop those notifications silently.
                for note in self._conn.notifies(timeout=left, stop_after=1):
                    mine = mine or note.payload == self._payload
                if mine:
                    return True
        except psycopg.Error as exc:
            self._report("listening for cancel requests", exc)
            self._close_conn()
            self._next_poll = time.monotonic()  # poll from now on, until the reconnect
        return False

    # ---- public -------------------------------------------------------------------------------

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds; True as soon as this attempt's cancel is requested."""
        if self.requested:
            return True
        deadline = time.monotonic() + timeout
        if self._pg and self._conn is None and time.monotonic() >= self._next_connect:
            self._connect()
        while True:
            now = time.monotonic()
            if now >= self._next_poll:
                # Listening: only the first wait (or the first after a reconnect) reads the flag.
                listening = self._conn is not None
                self._next_poll = float("inf") if listening else now + self._poll_interval
                if self._check():
                    return True
            if now >= deadline:
                return False
            if self._conn is not None:
                if self._wait_notified(deadline):
                    return self._check()
                continue  # the deadline passed, or the connection died: poll from now on
            time.sleep(max(0.0, min(self._next_poll, deadline) - now))

    def close(self) -> None:
        self._close_conn()
