"""PostgreSQL commit horizon: the highest event id below which no more rows can appear.

Why: ids come from a sequence when a row is inserted, but become visible when its transaction
commits. Transaction A takes id 10, B takes id 11, B commits, a poller reads 11 and moves its
cursor past 10; A commits: id 10 is never delivered, and a client resuming "after 11" never
sees it either. SQLite has no such gap (writers hold the database lock from BEGIN IMMEDIATE to
COMMIT, so ids are handed out in commit order) and needs no horizon.

How, once per poll:
  1. read the sequences' last values S (every id <= S has been handed out), then
  2. take a snapshot and note the write transactions still in flight in this database (X).
An id <= S belongs to a transaction that had finished before step 2 or is in X (the queue's
writers always hold a transaction id before they take an event id: they update or lock a row
first). So once every transaction in X has finished, rows up to S are final: S is settled.
The bus reads only `id <= settled`; in a quiet database the horizon is simply S (no delay),
under concurrent writers it trails by one poll.

A transaction left open (a stuck client "idle in transaction") would hold the horizon forever;
after `max_settle` seconds it is given up on, with a warning, and delivery continues.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

log = logging.getLogger("visionyard.dashboard.events")

_SEQUENCES = text(
    "SELECT pg_sequence_last_value(pg_get_serial_sequence('run_events', 'id')::regclass),"
    " pg_sequence_last_value(pg_get_serial_sequence('feed_events', 'id')::regclass)"
)
# In-flight transaction ids of the whole cluster (from the snapshot, complete), and those known
# to belong to OTHER databases (pg_stat_activity; rows of other roles may hide their xid, so
# those stay in the set: waiting for them is merely slower, never wrong).
_IN_FLIGHT = text(
    "SELECT pg_current_snapshot()::text,"
    " ARRAY(SELECT backend_xid::text FROM pg_stat_activity"
    "       WHERE backend_xid IS NOT NULL AND datname IS DISTINCT FROM current_database())"
)


@dataclass(frozen=True, slots=True)
class Horizon:
    """Highest settled ids: every run_events / feed_events row with an id at or below these
    is committed (or will never exist)."""

    run_events: int
    feed_events: int


@dataclass(frozen=True, slots=True)
class _Mark:
    horizon: Horizon
    in_flight: frozenset[int]
    taken_at: float


def _xids_in_flight(snapshot: str, elsewhere: list[str]) -> frozenset[int]:
    # Snapshot text is "xmin:xmax:xip,xip,..."; xids are 64-bit (epoch << 32 | xid), while
    # pg_stat_activity shows the 32-bit xid.
    xip = snapshot.split(":")[2]
    in_flight = {int(x) for x in xip.split(",") if x}
    other = {int(x) for x in elsewhere}
    return frozenset(x for x in in_flight if (x & 0xFFFFFFFF) not in other)


class CommitHorizon:
    """Tracks the settled horizon across polls; thread-safe (the bus and subscribing clients
    observe it from worker threads)."""

    def __init__(self, *, max_settle: float = 5.0) -> None:
        #: seconds after which a mark counts as settled even with transactions still open
        self.max_settle = max_settle
        self._pending: deque[_Mark] = deque()
        self._settled: Horizon | None = None
        self._lock = threading.Lock()
        self._warned = False

    @property
    def settled(self) -> Horizon | None:
        """The last settled horizon; None before the first observation."""
        return self._settled

    def observe(self, session: Session) -> Horizon | None:
        """Take a new mark, settle what can be settled, return the settled horizon (None while
        nothing has settled yet: transactions that were in flight at the first mark are still
        running, for at most `max_settle` seconds).

        Runs two statements in READ COMMITTED, i.e. two snapshots, in this order on purpose:
        sequences first, then the snapshot (see the module docstring). The caller's next
        statement takes a newer snapshot still, which sees every row up to the horizon.
        """
        # The lock spans the statements so that marks are appended in the order taken.
        with self._lock:
            run_seq, feed_seq = session.execute(_SEQUENCES).one()
            snapshot, elsewhere = session.execute(_IN_FLIGHT).one()
            now = time.monotonic()
            in_flight = _xids_in_flight(snapshot, list(elsewhere or []))
            mark = _Mark(Horizon(int(run_seq or 0), int(feed_seq or 0)), in_flight, now)
            self._pending.append(mark)
            self._settle(in_flight, now)
            return self._settled

    def _settle(self, in_flight: frozenset[int], now: float) -> None:
        # Settling is prefix-monotone: a transaction that is still running now and was running
        # at an older mark is in every later mark too, so the newest settled mark settles all
        # older ones.
        newest: _Mark | None = None
        for mark in self._pending:
            if mark.in_flight.isdisjoint(in_flight):
                newest = mark
        stale = [m for m in self._pending if now - m.taken_at > self.max_settle]
        if stale and (newest is None or stale[-1].taken_at > newest.taken_at):
            if not self._warned:
                log.warning(
                    "a database transaction has been open for more than %.0f s; live events "
                    "are delivered without waiting for it (rows it commits later may only "
                    "show up on reload)",
                    self.max_settle,
                )
                self._warned = True
            newest = stale[-1]
        if newest is None:
            return
        while self._pending and self._pending[0] is not newest:
            self._pending.popleft()
        self._pending.popleft()
        previous = self._settled or Horizon(0, 0)
        self._settled = Horizon(
            max(previous.run_events, newest.horizon.run_events),
            max(previous.feed_events, newest.horizon.feed_events),
        )
