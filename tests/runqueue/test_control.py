"""CancelWatch: an agent learns of its run's cancel within a second, by NOTIFY on PostgreSQL and
a short poll on SQLite, for its own attempt only; a lost listening connection degrades to
polling. Timeouts are tenths of a second: these are the waits under test."""

from __future__ import annotations

import threading
import time

from sqlalchemy import text

from visionyard.runqueue import CancelWatch, cancel_requested, claim_next, request_cancel
from visionyard.runqueue.control import notify_cancel

from .queuedb import QueueDB


def running(q: QueueDB, name: str = "r") -> tuple[int, int]:
    """(run id, agent id) of a run claimed by a fresh agent."""
    agent = q.agent(f"agent-{name}")
    run_id = q.enqueue(name)
    claimed = claim_next(q.factory, agent_id=agent, capacity=0)
    assert claimed is not None and claimed.id == run_id
    return run_id, agent


def watch(q: QueueDB, run_id: int, agent: int, attempt: int = 1) -> CancelWatch:
    return CancelWatch(q.engine, run_id=run_id, attempt=attempt, agent_id=agent, poll_interval=0.1)


def cancel_after(q: QueueDB, run_id: int, delay: float) -> threading.Thread:
    thread = threading.Thread(
        target=lambda: (time.sleep(delay), request_cancel(q.factory, run_id)), daemon=True
    )
    thread.start()
    return thread


def test_a_cancel_during_the_wait_ends_it_within_a_second(q: QueueDB) -> None:
    run_id, agent = running(q)
    cancel_watch = watch(q, run_id, agent)
    try:
        assert cancel_watch.wait(0.2) is False  # nothing requested: the whole wait
        thread = cancel_after(q, run_id, 0.3)
        start = time.monotonic()
        assert cancel_watch.wait(10.0) is True
        took = time.monotonic() - start
        thread.join()
        assert took < 1.3, took  # 0.3 s until the request, then at most a poll interval
        assert cancel_watch.wait(10.0) is True  # and it stays known, at once
    finally:
        cancel_watch.close()


def test_a_cancel_requested_before_the_watch_started_is_seen_at_once(q: QueueDB) -> None:
    run_id, agent = running(q)
    request_cancel(q.factory, run_id)
    cancel_watch = watch(q, run_id, agent)
    try:
        start = time.monotonic()
        assert cancel_watch.wait(10.0) is True
        assert time.monotonic() - start < 1.0
    finally:
        cancel_watch.close()


def test_only_this_attempt_on_this_agent_is_canceled(q: QueueDB) -> None:
    mine, agent = running(q, "mine")
    other, _ = running(q, "other")
    request_cancel(q.factory, other)
    assert cancel_requested(q.factory, mine, 1, agent) is False
    request_cancel(q.factory, mine)
    assert cancel_requested(q.factory, mine, 1, agent) is True
    assert cancel_requested(q.factory, mine, 2, agent) is False  # another attempt
    assert cancel_requested(q.factory, mine, 1, agent + 1000) is False  # another agent
    stale = watch(q, mine, agent, attempt=2)
    try:
        assert stale.wait(0.3) is False
    finally:
        stale.close()


def test_postgresql_is_woken_by_notify_not_by_polling(pg_q: QueueDB) -> None:
    run_id, agent = running(pg_q)
    # A poll interval far longer than the wait: only the notification can end it early.
    cancel_watch = CancelWatch(pg_q.engine, run_id=run_id, attempt=1, agent_id=agent)
    cancel_watch._poll_interval = 60.0
    try:
        assert cancel_watch.wait(0.1) is False  # the first wait's read: nothing yet
        # A notification for another run is no cancel of ours.
        with pg_q.factory() as session, session.begin():
            notify_cancel(session, run_id + 1)
        assert cancel_watch.wait(0.3) is False
        thread = cancel_after(pg_q, run_id, 0.2)
        start = time.monotonic()
        assert cancel_watch.wait(30.0) is True
        took = time.monotonic() - start
        thread.join()
        assert took < 1.2, took
    finally:
        cancel_watch.close()


def test_a_lost_listening_connection_falls_back_to_polling(pg_q: QueueDB) -> None:
    run_id, agent = running(pg_q)
    cancel_watch = watch(pg_q, run_id, agent)
    try:
        assert cancel_watch.wait(0.1) is False
        pid = cancel_watch._conn.info.backend_pid  # type: ignore[union-attr]
        with pg_q.engine.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        assert cancel_watch.wait(0.3) is False  # the dead connection is noticed
        request_cancel(pg_q.factory, run_id)
        start = time.monotonic()
        assert cancel_watch.wait(10.0) is True  # by polling, until the reconnect
        assert time.monotonic() - start < 1.0
    finally:
        cancel_watch.close()
