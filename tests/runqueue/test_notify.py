"""WorkWaiter: LISTEN wake-ups on PostgreSQL, feed polling on SQLite, fallback when the
listening connection dies. Timeouts are tenths of a second: these are the waits under test."""

from __future__ import annotations

import threading
import time

import psycopg
from sqlalchemy import event, text

from visionyard.runqueue import CHANNEL, WorkWaiter, agent_heartbeat, claim_next, finish_run
from visionyard.runqueue.feed import EVENTS_CHANNEL

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


def test_sqlite_waiter_sleeps_through_commits_that_queue_nothing(sqlite_q: QueueDB) -> None:
    # Heartbeats move SQLite's change counter too; only a new "runs" feed event is work.
    agent = sqlite_q.agent()
    with WorkWaiter(sqlite_q.engine, poll_interval=0.005) as waiter:
        agent_heartbeat(sqlite_q.engine, agent)
        assert waiter.wait_for_work(0.2) is False


def test_sqlite_waiter_wakes_for_an_enqueue_during_the_wait(sqlite_q: QueueDB) -> None:
    with WorkWaiter(sqlite_q.engine, poll_interval=0.005) as waiter:
        producer = threading.Timer(0.1, sqlite_q.enqueue)
        producer.start()
        try:
            assert waiter.wait_for_work(30.0) is True
        finally:
            producer.join()
        assert waiter.wait_for_work(0.05) is False  # consumed: no stale wake-up


def test_sqlite_waiter_survives_its_connection_breaking(sqlite_q: QueueDB) -> None:
    with WorkWaiter(sqlite_q.engine, poll_interval=0.005) as waiter:
        assert waiter.wait_for_work(0.05) is False
        assert waiter._sqlite is not None
        waiter._sqlite.dbapi_connection.close()  # type: ignore[union-attr]
        sqlite_q.enqueue()
        # The broken connection degrades this check to the feed query, then is replaced.
        assert waiter.wait_for_work(5.0) is True
        assert waiter.wait_for_work(0.05) is False
        sqlite_q.enqueue("r2")
        assert waiter.wait_for_work(5.0) is True


def test_enqueue_notifies_claimers_and_dashboards_in_one_statement(pg_q: QueueDB) -> None:
    url = pg_q.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    with psycopg.connect(url, autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        listener.execute(f"LISTEN {EVENTS_CHANNEL}")
        event.listen(pg_q.engine, "before_cursor_execute", record)
        try:
            run_id = pg_q.enqueue()
        finally:
            event.remove(pg_q.engine, "before_cursor_execute", record)
        got = {(n.channel, n.payload) for n in listener.notifies(timeout=5.0, stop_after=2)}
    assert got == {(CHANNEL, str(run_id)), (EVENTS_CHANNEL, "runs")}
    assert sum("pg_notify" in s for s in statements) == 1
    # The run's project travels in the payload: no look-up of it in the transaction.
    assert not any(s.lstrip().upper().startswith("SELECT RUNS.ID") for s in statements)
    assert pg_q.feed(run_id)[-1]["project_id"] == pg_q.run(run_id).project_id
