"""One WebSocket connection: reads client messages, runs subscriptions, writes the outbox.

Three tasks per socket: the reader (parses and answers client messages), the writer (the only
one that sends, draining the bounded outbox at the client's pace) and the pinger. Each
subscription's start (topic check, backfill) runs in its own task, so a long backfill never
delays a pong or another topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Protocol

from starlette.websockets import WebSocket

from visionyard.dashboard.events.hub import (
    CLOSE_TRY_AGAIN_LATER,
    CLOSE_UNAUTHENTICATED,
    Hub,
    Outbox,
    Subscription,
)
from visionyard.dashboard.events.messages import (
    ClientMessage,
    Ping,
    Pong,
    ProtocolError,
    Subscribe,
    Topic,
    Unsubscribe,
    control_message,
    error_message,
    parse_client_message,
    parse_topic,
)
from visionyard.dashboard.events.store import run_not_found
from visionyard.errors import NotFoundError
from visionyard.runqueue.feed import RUNS_TOPIC

if TYPE_CHECKING:
    from visionyard.dashboard.events.bus import EventBus

log = logging.getLogger("visionyard.dashboard.events")

#: database reads one connection may have in flight (subscribing to many topics at once queues)
READS_PER_CONNECTION = 2

PING = control_message("ping")
PONG = control_message("pong")


class Viewer(Protocol):
    """What the client behind a socket may see (`visionyard.dashboard.access.LiveAccess`)."""

    async def refresh(self) -> bool:
        """Re-check the credentials and reload what they may see; False once revoked."""
        ...

    async def may_read_run(self, run_id: int) -> bool: ...

    def sees_project(self, project_id: int | None) -> bool:
        """Whether an event about a run of this project is for this client."""
        ...


class Connection:
    def __init__(
        self, websocket: WebSocket, bus: EventBus, hub: Hub, viewer: Viewer | None
    ) -> None:
        self._ws = websocket
        self._bus = bus
        self._viewer = viewer
        self._hub = hub
        self._subs: dict[str, Subscription] = {}
        self._starting: dict[str, asyncio.Task[None]] = {}
        self._reads = asyncio.Semaphore(READS_PER_CONNECTION)

    async def run(self) -> None:
        if self._hub.connection_count >= self._bus.max_connections:
            await self._ws.close(CLOSE_TRY_AGAIN_LATER, "too many live connections; retry later")
            return
        outbox = self._hub.connect(self._bus.queue_size)
        reader = asyncio.create_task(self._read(outbox))
        writer = asyncio.create_task(self._write(outbox))
        pinger = asyncio.create_task(self._ping(outbox))
        try:
            await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            client_gone = reader.done()
            tasks = [reader, writer, pinger, *self._starting.values()]
            for task in tasks:
                task.cancel()
            self._hub.disconnect(outbox, self._subs.values())
            await _reap(tasks)
        if not client_gone:
            # The server ends this connection (outbox overflow, shutdown): say why.
            with contextlib.suppress(Exception):
                await self._ws.close(outbox.close_code, outbox.close_reason)

    # ---- the three loops ----------------------------------------------------------------------

    async def _write(self, outbox: Outbox) -> None:
        while (text := await outbox.get()) is not None:
            try:
                await self._ws.send_text(text)
            except Exception:  # noqa: BLE001 - the client went away mid-send
                return

    async def _ping(self, outbox: Outbox) -> None:
        # Application-level pings: browsers cannot see protocol pings, and a client that hears
        # nothing for a few intervals knows its connection is dead and reconnects.
        while True:
            await asyncio.sleep(self._bus.ping_interval)
            if not await self._still_authenticated():
                outbox.close(CLOSE_UNAUTHENTICATED, "credentials revoked or expired; log in again")
                return
            await self._end_runs_no_longer_readable(outbox)
            outbox.control(PING)

    async def _end_runs_no_longer_readable(self, outbox: Outbox) -> None:
        """A member removed from a project stops receiving its runs' events (the "runs" topic
        is filtered per event already)."""
        if self._viewer is None:
            return
        for name in list(self._subs):
            topic = parse_topic(name)
            if topic.run_id is None:
                continue
            try:
                readable = await self._viewer.may_read_run(topic.run_id)
            except Exception as exc:  # noqa: BLE001 - a database blip must not drop the topic
                log.debug("could not re-check access to %s: %s", name, exc)
                continue
            if not readable:
                self._end(name)
                outbox.control(error_message(str(run_not_found(topic.run_id)), name))

    async def _still_authenticated(self) -> bool:
        if self._viewer is None:
            return True
        try:
            return await self._viewer.refresh()
        except Exception as exc:  # noqa: BLE001 - a database blip must not drop every client
            log.debug("could not re-check WebSocket credentials: %s", exc)
            return True

    async def _read(self, outbox: Outbox) -> None:
        while True:
            message = await self._ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                outbox.control(error_message("binary messages are not supported; send JSON text"))
                continue
            try:
                parsed = parse_client_message(text)
            except ProtocolError as exc:
                outbox.control(error_message(str(exc), exc.topic))
                continue
            self._handle(outbox, parsed)

    # ---- client messages ----------------------------------------------------------------------

    def _handle(self, outbox: Outbox, message: ClientMessage) -> None:
        if isinstance(message, Ping):
            outbox.control(PONG)
        elif isinstance(message, Pong):
            pass
        elif isinstance(message, Unsubscribe):
            self._end(message.topic.name)
            outbox.control(control_message("unsubscribed", topic=message.topic.name))
        elif isinstance(message, Subscribe):
            name = message.topic.name
            open_topics = {n for n, sub in self._subs.items() if sub.active}
            open_topics |= self._starting.keys()
            limit = self._bus.max_topics_per_connection
            if name not in open_topics and len(open_topics) >= limit:
                outbox.control(
                    error_message(
                        f"too many subscriptions on one connection (at most {limit}); "
                        "unsubscribe from topics you no longer show",
                        name,
                    )
                )
                return
            # Subscribing again restarts the topic from the new `after`.
            self._end(name)
            self._starting[name] = asyncio.create_task(
                self._subscribe(outbox, message.topic, message.after)
            )

    def _end(self, name: str) -> None:
        task = self._starting.pop(name, None)
        if task is not None:
            task.cancel()
        sub = self._subs.pop(name, None)
        if sub is not None:
            self._hub.unsubscribe(sub)

    async def _subscribe(self, outbox: Outbox, topic: Topic, after: int | None) -> None:
        try:
            viewer = self._viewer
            run_id = topic.run_id
            if run_id is not None and viewer is not None and not await viewer.may_read_run(run_id):
                # The words of a run that does not exist: ids cannot be probed.
                raise run_not_found(run_id)
            initial = None
            if not self._hub.is_active(topic.name):
                initial = await self._bus.initial_cursor(topic, limiter=self._reads)
            # No await between here and the registration: see Hub.
            admits = (
                viewer.sees_project if viewer is not None and topic.name == RUNS_TOPIC else None
            )
            sub = self._hub.subscribe(
                outbox, topic.name, after=after, initial_cursor=initial, admits=admits
            )
            self._subs[topic.name] = sub
            await self._backfill(topic, sub)
            await self._hub.go_live(sub)
        except NotFoundError as exc:
            outbox.control(error_message(str(exc), topic.name))
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a database failure ends this subscription only
            log.exception("subscribing to %s failed", topic.name)
            self._end_failed(topic.name)
            outbox.control(
                error_message(
                    f"could not read the events of {topic.name!r} (the server log has the "
                    "details); subscribe again with the last seq you received",
                    topic.name,
                )
            )
        finally:
            if self._starting.get(topic.name) is asyncio.current_task():
                del self._starting[topic.name]

    def _end_failed(self, name: str) -> None:
        sub = self._subs.pop(name, None)
        if sub is not None:
            self._hub.unsubscribe(sub)

    async def _backfill(self, topic: Topic, sub: Subscription) -> None:
        """Send the stored events between the client's `after` and the live cursor at
        subscription time, page by page at the client's pace."""
        cursor = sub.cursor
        while sub.active and not sub.live:
            page = await self._bus.backfill(
                topic, after=cursor, upto=sub.start, limiter=self._reads
            )
            for event in page:
                if not await self._hub.send_paced(sub, event):
                    return
            if len(page) < self._bus.page_size:
                return
            cursor = page[-1].seq


async def _reap(tasks: list[asyncio.Task[None]]) -> None:
    """Wait for cancelled tasks to finish and collect their outcomes.

    Not `gather`: if this task is itself cancelled meanwhile (the server or a test client
    tearing the connection down), gather would raise a child's CancelledError in place of this
    task's own, and the canceller (an anyio cancel scope) would not recognise it as its own.
    """
    await asyncio.wait(tasks)
    for task in tasks:
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.debug("connection task ended with %r", exc)
