"""PostgreSQL LISTEN for the live-events bus: wake it the moment an event is committed.

Channel contract (for every writer of RunEvent / FeedEvent rows):

    SELECT pg_notify('visionyard_events', '<topic>')   -- e.g. 'run:42', 'runs', 'agents'

inside the transaction that inserts the rows (PostgreSQL delivers it on commit, drops it on
rollback). The run queue's `visionyard_runs` NOTIFY (sent on enqueue) is listened to as well.
The payload is informational: any notification makes the bus poll every active topic at once.
NOTIFY is an optimisation; the bus's poll interval is the correctness path, so a lost
notification (or a writer that sends none) only costs latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

import psycopg
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.orm import Session

from visionyard.runqueue.feed import EVENTS_CHANNEL

log = logging.getLogger("visionyard.dashboard.events")

#: visionyard.runqueue.notify.CHANNEL (enqueue wake-ups for agents); also a "runs" change
RUNS_CHANNEL = "visionyard_runs"
#: how often an idle listening connection is checked with a round trip, seconds
_CHECK_INTERVAL = 5.0


def notify_topic(session: Session, topic: str) -> None:
    """Announce new events of `topic` to the dashboards, on commit of `session`'s transaction.
    PostgreSQL only (a no-op elsewhere). Writers outside the dashboard may inline the SQL."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_notify(:channel, :topic)"), {"channel": EVENTS_CHANNEL, "topic": topic}
        )


class PgListener:
    """A background task holding one dedicated autocommit connection that LISTENs on
    `channels` and calls `on_notify()` for each notification (and once after every
    (re)connection, to cover what was sent while it was not listening)."""

    def __init__(
        self,
        conninfo: str,
        *,
        channels: Sequence[str] = (EVENTS_CHANNEL, RUNS_CHANNEL),
        on_notify: Callable[[], None],
        max_backoff: float = 10.0,
    ) -> None:
        self._conninfo = conninfo
        self._channels = tuple(channels)
        self._on_notify = on_notify
        self._max_backoff = max_backoff
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        #: set while LISTEN is in effect (tests wait on it)
        self.listening = asyncio.Event()

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="visionyard-pg-listen")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        backoff = 0.5
        while not self._stopping:
            try:
                await self._listen()
            except (psycopg.Error, OSError) as exc:
                # The poll interval keeps events flowing meanwhile; only latency suffers.
                log.warning("LISTEN connection failed (%s); retrying in %.1f s", exc, backoff)
                self.listening.clear()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
            else:
                backoff = 0.5

    async def _listen(self) -> None:
        conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
        try:
            for channel in self._channels:
                await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            self.listening.set()
            self._on_notify()
            while not self._stopping:
                async for _notify in conn.notifies(timeout=_CHECK_INTERVAL):
                    self._on_notify()
                # Quiet for a while: a round trip proves the connection is still alive (a
                # server restart or a dropped network would otherwise leave us deaf, silently).
                await conn.execute("SELECT 1")
        finally:
            self.listening.clear()
            with contextlib.suppress(Exception):
                await conn.close()
