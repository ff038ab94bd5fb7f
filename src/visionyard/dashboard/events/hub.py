"""Subscriptions and fan-out: per-topic live cursors, per-client bounded outboxes.

Pure asyncio, no I/O. Fan-out never awaits: `Hub.publish` offers each event to every subscriber's
outbox without blocking, so one slow client cannot slow the bus or any other client. A client
whose outbox is full is told `lagged` (with the last sequence number it was given) and loses that
subscription; it resubscribes with `after` and catches up from the database.

A topic is "active" while it has subscribers; its `cursor` is the highest sequence number the
bus has published for it. A new subscription is registered synchronously together with reading
that cursor (no await in between), so every event above it reaches the subscription through
`publish` and every event at or below it is in the database for the backfill: no gap, no
duplicate.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from visionyard.dashboard.events.messages import control_message
from visionyard.dashboard.events.store import Event

#: WebSocket close codes the hub asks for
CLOSE_GOING_AWAY = 1001
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


#: the most characters of messages a client may have waiting (besides the message count): a
#: chunk of metric points is one message of up to ~50 KB, a log line a few hundred bytes
OUTBOX_MAX_CHARS = 8 * 1024 * 1024


class Outbox:
    """A client's bounded queue of outgoing message texts.

    An event is queued only while fewer than `capacity` messages, and fewer than `max_chars`
    characters of them, are waiting (one event always fits in an empty outbox, whatever its
    size); control messages (subscribed, lagged, pong, error...) may use a further `headroom`
    of messages, so that a `lagged` notice always fits behind the events it follows. A client
    that lets even the headroom fill (it sends pings but never reads) is closed.
    """

    def __init__(self, capacity: int, headroom: int, max_chars: int = OUTBOX_MAX_CHARS) -> None:
        self.capacity = capacity
        self.headroom = headroom
        self.max_chars = max_chars
        self._items: deque[str] = deque()
        self._chars = 0
        self._ready = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()
        self.closed = False
        self.close_code = 1000
        self.close_reason = ""

    def __len__(self) -> int:
        return len(self._items)

    def _full(self) -> bool:
        return len(self._items) >= self.capacity or (
            bool(self._items) and self._chars >= self.max_chars
        )

    def _push(self, text: str) -> None:
        self._items.append(text)
        self._chars += len(text)
        self._ready.set()
        if self._full():
            self._space.clear()

    def offer(self, text: str) -> bool:
        """Queue an event if there is room; False if full (or closed)."""
        if self.closed or self._full():
            return False
        self._push(text)
        return True

    def control(self, text: str) -> bool:
        """Queue a control message; closes the outbox (and so the socket) if even the
        headroom is used up."""
        if self.closed:
            return False
        if len(self._items) >= self.capacity + self.headroom:
            self.close(CLOSE_TRY_AGAIN_LATER, "client is not reading its messages")
            return False
        self._push(text)
        return True

    async def wait_space(self) -> bool:
        """Wait until an event fits (backfill goes at the client's own pace); False if the
        outbox was closed meanwhile. An `offer` right after a True return, with no await in
        between, succeeds."""
        while not self.closed and self._full():
            self._space.clear()
            await self._space.wait()
        return not self.closed

    async def get(self) -> str | None:
        """The next message; None once the outbox is closed (pending messages are dropped:
        the socket is about to close)."""
        while not self._items and not self.closed:
            self._ready.clear()
            await self._ready.wait()
        if self.closed:
            return None
        text = self._items.popleft()
        self._chars -= len(text)
        if not self._full():
            self._space.set()
        return text

    def close(self, code: int = 1000, reason: str = "") -> None:
        if self.closed:
            return
        self.closed = True
        self.close_code = code
        self.close_reason = reason
        self._items.clear()
        self._chars = 0
        self._ready.set()
        self._space.set()


@dataclass(eq=False)
class Subscription:
    """One client's interest in one topic.

    `cursor` is the last sequence number queued for the client. Until `live`, published events
    wait in `buffer` (the backfill is still sending older ones); `active` turns False when the
    subscription ends (unsubscribe, lag, disconnect).
    """

    topic: str
    outbox: Outbox
    cursor: int
    live: bool
    #: the topic's live cursor when the subscription started: the backfill stops there
    start: int
    buffer: deque[Event] = field(default_factory=deque)
    active: bool = True
    #: whether this client may receive an event about a run of this project (None: all)
    admits: Callable[[int | None], bool] | None = None

    def deliver(self, event: Event) -> bool:
        """Queue `event` unless already delivered or not for this client; False if the outbox
        is full."""
        if event.seq <= self.cursor:
            return True
        if self.admits is not None and not self.admits(event.project_id):
            self.cursor = event.seq  # passed over, as if delivered
            return True
        if not self.outbox.offer(event.text):
            return False
        self.cursor = event.seq
        return True


@dataclass(eq=False)
class _TopicState:
    cursor: int
    subscribers: set[Subscription] = field(default_factory=set)


class Hub:
    """Topic registry and fan-out for every connected client of this process."""

    def __init__(self, *, control_headroom: int = 128) -> None:
        self.control_headroom = control_headroom
        self._topics: dict[str, _TopicState] = {}
        self._outboxes: set[Outbox] = set()

    # ---- clients ------------------------------------------------------------------------------

    def connect(self, queue_size: int) -> Outbox:
        """A new client's outbox: at most `queue_size` messages waiting (plus headroom)."""
        outbox = Outbox(queue_size, self.control_headroom)
        self._outboxes.add(outbox)
        return outbox

    def disconnect(self, outbox: Outbox, subscriptions: Iterable[Subscription]) -> None:
        for sub in list(subscriptions):
            self.unsubscribe(sub)
        outbox.close(CLOSE_GOING_AWAY)
        self._outboxes.discard(outbox)

    @property
    def connection_count(self) -> int:
        return len(self._outboxes)

    def close_all(self, code: int = CLOSE_GOING_AWAY, reason: str = "server shutting down") -> None:
        for outbox in list(self._outboxes):
            outbox.close(code, reason)

    # ---- topics -------------------------------------------------------------------------------

    def is_active(self, topic: str) -> bool:
        return topic in self._topics

    def cursors(self) -> dict[str, int]:
        """Active topics and their live cursors (what the bus polls for)."""
        return {name: state.cursor for name, state in self._topics.items()}

    def subscribe(
        self,
        outbox: Outbox,
        topic: str,
        *,
        after: int | None,
        initial_cursor: int | None,
        admits: Callable[[int | None], bool] | None = None,
    ) -> Subscription:
        """Register a subscription and queue its `subscribed` message, synchronously.

        `initial_cursor` (the topic's newest stored seq) is needed only when the topic is not
        active yet; an active topic keeps its own cursor.
        """
        state = self._topics.get(topic)
        if state is None:
            if initial_cursor is None:
                raise ValueError(f"topic {topic!r} is not active; pass its initial cursor")
            state = self._topics[topic] = _TopicState(initial_cursor)
        start = state.cursor
        # after >= start: nothing stored to replay; events at or below `after` are skipped.
        live = after is None or after >= start
        sub = Subscription(
            topic=topic,
            outbox=outbox,
            cursor=start if after is None else after,
            live=live,
            start=start,
            admits=admits,
        )
        state.subscribers.add(sub)
        outbox.control(control_message("subscribed", topic=topic, seq=start))
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        sub.active = False
        sub.buffer.clear()
        state = self._topics.get(sub.topic)
        if state is None:
            return
        state.subscribers.discard(sub)
        if not state.subscribers:
            # Nobody listens: the bus stops polling the topic.
            del self._topics[sub.topic]

    def lag(self, sub: Subscription) -> None:
        """End `sub` because its client fell behind, and tell the client where it stopped."""
        if not sub.active:
            return
        self.unsubscribe(sub)
        sub.outbox.control(control_message("lagged", topic=sub.topic, seq=sub.cursor))

    # ---- fan-out ------------------------------------------------------------------------------

    def publish(self, topic: str, events: list[Event]) -> None:
        """Hand the bus's new events (ascending seq) to every subscriber of `topic`; never
        blocks. Events at or below the topic's cursor were published already and are
        skipped."""
        state = self._topics.get(topic)
        if state is None:
            return
        fresh = [e for e in events if e.seq > state.cursor]
        if not fresh:
            return
        state.cursor = fresh[-1].seq
        for sub in list(state.subscribers):
            if sub.live:
                for event in fresh:
                    if not sub.deliver(event):
                        self.lag(sub)
                        break
            else:
                sub.buffer.extend(fresh)
                # The backfill is not keeping up either; bound the memory it may hold.
                if len(sub.buffer) > sub.outbox.capacity:
                    self.lag(sub)

    async def send_paced(self, sub: Subscription, event: Event) -> bool:
        """Queue a backfilled or buffered event, waiting for outbox room; False once the
        subscription has ended. Re-checks `active` after the wait: a `lagged` notice queued
        meanwhile must stay the last message of this subscription."""
        if event.seq <= sub.cursor:
            return sub.active
        if not await sub.outbox.wait_space() or not sub.active:
            return False
        return sub.deliver(event)

    async def go_live(self, sub: Subscription) -> None:
        """After the backfill: send what was buffered meanwhile, then switch to live fan-out.

        `live` is set with no await after the buffer was seen empty, so no event can fall
        between the buffer and the live path.
        """
        while sub.active and sub.buffer:
            if not await self.send_paced(sub, sub.buffer.popleft()):
                return
        if sub.active:
            sub.live = True
