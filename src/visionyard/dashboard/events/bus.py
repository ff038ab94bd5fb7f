"""The event bus: one background task that reads new events from the database and publishes them
to the hub (registered as `state.services["events"]`).

Per poll it runs one query per active topic (`id > cursor`, oldest first, a bounded page),
shared by all of that topic's subscribers, in one read transaction (`state.read_sessions`:
on SQLite BEGIN DEFERRED, which never blocks a writer). It polls every `poll_interval` seconds
and, on PostgreSQL, also wakes at once on LISTEN (see `pgnotify`) and caps reads at the commit
horizon (see `horizon`). A full page means more is waiting: it polls again without sleeping.

asyncio objects belong to one event loop, and one app can be started on several (each
Starlette TestClient runs the lifespan on its own loop), so every `start()` gets its own
runtime (hub, polling task, listener) for the loop it runs on; a socket is served by the
runtime of its loop. A server has exactly one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.websockets import WebSocket

from visionyard.dashboard.events import store
from visionyard.dashboard.events.connection import Connection, Viewer
from visionyard.dashboard.events.horizon import CommitHorizon, Horizon
from visionyard.dashboard.events.hub import Hub
from visionyard.dashboard.events.messages import Topic, parse_topic
from visionyard.dashboard.events.pgnotify import PgListener
from visionyard.dashboard.events.reads import ReadPool
from visionyard.dashboard.events.store import Event

log = logging.getLogger("visionyard.dashboard.events")

#: rows per query, for live polls and backfill pages alike
PAGE_SIZE = 500
#: the longest pause between polls while the database is failing, seconds
MAX_BACKOFF = 5.0
#: WebSocket close code when no runtime serves this loop (the app is starting or stopping)
CLOSE_UNAVAILABLE = 1013
#: how long stop() waits for database reads in flight before giving up on them, seconds
STOP_GRACE = 5.0


class _Runtime:
    """What one event loop needs: the hub of its sockets, its polling task, its listener."""

    def __init__(self, listen_url: str | None) -> None:
        self.hub = Hub()
        self.wake = asyncio.Event()
        self.listener = (
            PgListener(listen_url, on_notify=self.wake.set) if listen_url is not None else None
        )
        self.task: asyncio.Task[None] | None = None
        self.stopping = False


class EventBus:
    """Background service: `start()`/`stop()` from the app's lifespan, `serve()` per socket.

    The public attributes are limits, read when a socket connects (tests lower them).
    """

    def __init__(
        self,
        *,
        engine: Engine,
        read_sessions: sessionmaker[Session],
        poll_interval: float,
        page_size: int = PAGE_SIZE,
        queue_size: int = 1000,
        ping_interval: float = 20.0,
        max_topics_per_connection: int = 64,
        max_connections: int = 1000,
    ) -> None:
        self.poll_interval = poll_interval
        self.page_size = page_size
        #: outbound messages a client may have waiting before it is `lagged`
        self.queue_size = queue_size
        #: seconds between the server's `{"type": "ping"}` (and credential re-checks)
        self.ping_interval = ping_interval
        self.max_topics_per_connection = max_topics_per_connection
        self.max_connections = max_connections
        self._read_sessions = read_sessions
        postgres = engine.dialect.name == "postgresql"
        self._horizon = CommitHorizon() if postgres else None
        self._listen_url = (
            engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
            if postgres
            else None
        )
        self._runtimes: dict[asyncio.AbstractEventLoop, _Runtime] = {}
        self._reads = ReadPool()
        #: polls completed (tests and diagnostics)
        self.polls = 0

    # ---- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        if loop in self._runtimes:
            return
        runtime = self._runtimes[loop] = _Runtime(self._listen_url)
        if runtime.listener is not None:
            await runtime.listener.start()
        runtime.task = asyncio.create_task(self._run(runtime), name="visionyard-event-bus")

    async def stop(self) -> None:
        runtime = self._runtimes.pop(asyncio.get_running_loop(), None)
        if runtime is None:
            return
        runtime.hub.close_all()
        if runtime.task is not None:
            # Let a poll in progress finish rather than cancel it: its worker thread would
            # go on and hand its connection back to an engine the app is about to dispose.
            runtime.stopping = True
            runtime.wake.set()
            done, _ = await asyncio.wait([runtime.task], timeout=STOP_GRACE)
            if not done:
                runtime.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await runtime.task
        if runtime.listener is not None:
            await runtime.listener.stop()
        # Subscriptions' reads (their sockets are closing) finish the same way.
        await self._reads.drain(STOP_GRACE)
        if not self._runtimes:
            self._reads.close()

    def _only_runtime(self) -> _Runtime:
        try:
            return self._runtimes[asyncio.get_running_loop()]
        except RuntimeError:  # no running loop: a test thread inspecting a server
            (runtime,) = self._runtimes.values()
            return runtime

    @property
    def hub(self) -> Hub:
        """The hub of the running loop (or of the only runtime, from outside any loop)."""
        return self._only_runtime().hub

    @property
    def horizon(self) -> CommitHorizon | None:
        """PostgreSQL's commit horizon (None on SQLite)."""
        return self._horizon

    @property
    def listener(self) -> PgListener | None:
        return self._only_runtime().listener

    async def serve(self, websocket: WebSocket, *, viewer: Viewer | None = None) -> None:
        """Run one accepted, authenticated WebSocket until it closes. `viewer` decides what
        the client may see; its `refresh` is awaited every ping interval and closes the socket
        (4401) once it returns False."""
        runtime = self._runtimes.get(asyncio.get_running_loop())
        if runtime is None:
            await websocket.close(CLOSE_UNAVAILABLE, "live events are not running; retry")
            return
        await Connection(websocket, self, runtime.hub, viewer).run()

    # ---- reads for subscriptions (worker threads) ---------------------------------------------

    async def initial_cursor(self, topic: Topic, *, limiter: asyncio.Semaphore) -> int:
        """The topic's newest settled sequence number, for a topic nobody watched yet.
        Raises NotFoundError for a run that does not exist. `limiter` bounds one
        connection's reads in flight."""
        return await self._reads.run(self._initial_cursor, topic, limiter=limiter)

    async def backfill(
        self, topic: Topic, *, after: int, upto: int, limiter: asyncio.Semaphore
    ) -> list[Event]:
        """One page of stored events with `after < seq <= upto`."""
        return await self._reads.run(self._read_page, topic, after, upto, limiter=limiter)

    def _initial_cursor(self, topic: Topic) -> int:
        with self._read_sessions() as session:
            if topic.run_id is not None and not store.run_exists(session, topic.run_id):
                raise store.run_not_found(topic.run_id)
            return store.max_seq(session, topic, upto=self._settled_upto(session, topic))

    def _read_page(self, topic: Topic, after: int, upto: int) -> list[Event]:
        with self._read_sessions() as session:
            return store.events_after(session, topic, after=after, upto=upto, limit=self.page_size)

    def _settled_upto(self, session: Session, topic: Topic) -> int | None:
        """PostgreSQL: the settled horizon for the topic's table (observing until one has
        settled, at most the horizon's max_settle); SQLite: None (no cap needed)."""
        if self._horizon is None:
            return None
        # A fresh mark: in a quiet database it settles at once, so the new subscriber's
        # starting point is the newest row rather than the last poll's horizon.
        horizon = self._horizon.observe(session)
        while horizon is None:
            time.sleep(min(self.poll_interval, 0.05))
            horizon = self._horizon.observe(session)
        return _upto(horizon, topic)

    # ---- the polling loop ---------------------------------------------------------------------

    async def _run(self, runtime: _Runtime) -> None:
        failures = 0
        while not runtime.stopping:
            runtime.wake.clear()
            try:
                more = await self.poll_once(runtime.hub)
            except Exception as exc:  # noqa: BLE001 - a DB outage must not end live updates
                failures += 1
                more = False
                log.log(
                    logging.WARNING if failures == 1 else logging.DEBUG,
                    "reading new events failed (%s); retrying",
                    exc,
                )
            else:
                if failures:
                    log.info("reading new events works again")
                failures = 0
            if more:
                await asyncio.sleep(0)  # let clients drain between full pages
                continue
            delay = min(self.poll_interval * 2**failures, max(MAX_BACKOFF, self.poll_interval))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await runtime.wake.wait()

    async def poll_once(self, hub: Hub) -> bool:
        """Read and publish new events of every active topic; True if a page was full."""
        cursors = hub.cursors()
        if not cursors and self._horizon is None:
            return False
        results = await self._reads.run(self._read_new, cursors)
        self.polls += 1
        for name, events in results.items():
            hub.publish(name, events)
        return any(len(events) >= self.page_size for events in results.values())

    def _read_new(self, cursors: dict[str, int]) -> dict[str, list[Event]]:
        with self._read_sessions() as session:
            horizon: Horizon | None = None
            if self._horizon is not None:
                # Observed on every poll, even with no topic active, so a new subscriber
                # finds a fresh settled horizon.
                horizon = self._horizon.observe(session)
                if horizon is None:
                    return {}
            results: dict[str, list[Event]] = {}
            for name, cursor in cursors.items():
                topic = parse_topic(name)
                upto = None if horizon is None else _upto(horizon, topic)
                results[name] = store.events_after(
                    session, topic, after=cursor, upto=upto, limit=self.page_size
                )
            return results


def _upto(horizon: Horizon, topic: Topic) -> int:
    return horizon.run_events if topic.run_id is not None else horizon.feed_events
