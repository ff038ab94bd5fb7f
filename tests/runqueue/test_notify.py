"""WorkWaiter: LISTEN wake-ups on PostgreSQL, feed polling on SQLite, fallback when the
listening connection dies. Timeouts are tenths of a second: these are the waits under test."""

from __future__ import annotations

import time

from sqlalchemy import text

from visionyard.runqueue import WorkWaiter, claim_next, finish_run

from .queuedb import QueueDB


def test_wait_times_out_without_work(q: QueueDB) -> None:
    with WorkWaiter(q.engine, poll_interval=0.05) as waiter:
        start = time.monotonic()
        assert waiter.wait_for_work(0.2) is False
        assert 0.15 <= time.monotonic() - start < 2.0


def test_enqueue_wakes_the_waiter(q: QueueDB) -> None:
    with WorkWaiter(q.factory, poll_interval=0.05) as waiter:
        q.enqueue()  # before the wait: the wake-up must not be lost
        start = time.monotonic()
        assert waiter.wait_for_work(5.0) is True
        assert time.monotonic() - start < 1.0


def test_a_burst_of_enqueues_is_consumed(q: QueueDB) -> None:
    # Wake-ups are coalesced where the notifications have already arrived, never multiplied,
    # and the waiter goes quiet once they are consumed (no backlog of stale wake-ups).
    with WorkWaiter(q.engine, poll_interval=0.05) as waiter:
        for i in range(5):
            q.enqueue(f"r{i}")
        wake_ups = 0
        while waiter.wait_for_work(0.2 if wake_ups else 5.0):
            wake_ups += 1
            assert wake_ups <= 5
        assert wake_ups >= 1


def test_requeue_wakes_the_waiter(q: QueueDB) -> None:
    agent = q.agent()
    run_id = q.enqueue()
    with WorkWaiter(q.engine, poll_interval=0.05) as waiter:
        assert claim_next(q.factory, agent_id=agent, capacity=0) is not None
        finish_run(q.factory, run_id, 1, agent, "crashed", "boom")
        assert waiter.wait_for_work(5.0) is True


def test_sqlite_waiter_does_not_spin_on_runs_it_cannot_take(sqlite_q: QueueDB) -> None:
    # A queued run this agent may not claim must not make every wait return at once.
    sqlite_q.enqueue(target_agent="someone-else")
    with WorkWaiter(sqlite_q.engine, poll_interval=0.05) as waiter:
        assert waiter.wait_for_work(0.2) is False


def test_lost_listen_connection_falls_back_to_polling_then_reconnects(pg_q: QueueDB) -> None:
    with WorkWaiter(pg_q.engine) as waiter:
        pid = waiter._conn.info.backend_pid  # type: ignore[union-attr]
        with pg_q.engine.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        # The dead connection is noticed; the wait degrades to a poll (returns "check now").
        assert waiter.wait_for_work(0.2) is True
        assert waiter.wait_for_work(0.2) is False  # reconnected and listening again
        pg_q.enqueue()
        assert waiter.wait_for_work(5.0) is True
