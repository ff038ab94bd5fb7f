"""Enqueue: the row, its tags, its feed event, and (PostgreSQL) the NOTIFY sent at commit."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy.orm import sessionmaker

from visionyard.db.models import RunState
from visionyard.runqueue import CHANNEL, enqueue, request_cancel
from visionyard.runqueue.notify import notify_work

from .queuedb import QueueDB


def test_enqueue_creates_a_queued_run(q: QueueDB) -> None:
    run_id = q.enqueue(
        "vit-lr3",
        config_snapshot={"lr": 3e-4, "epochs": 2},
        config_hash="ab" * 32,
        priority=3,
        target_agent="gpu-1",
        gpu_count=2,
        max_restarts=5,
        run_dir="runs/vit-lr3",
        tags=["vit", "sweep", "vit"],
        now=1234.0,
    )
    run = q.run(run_id)
    assert run.state == RunState.queued
    assert (run.attempt, run.restarts, run.max_restarts) == (1, 0, 5)
    assert (run.priority, run.target_agent, run.gpu_count) == (3, "gpu-1", 2)
    assert run.config_snapshot == {"lr": 3e-4, "epochs": 2}
    assert run.created_at.timestamp() == 1234.0
    assert sorted(t.tag for t in run.tags) == ["sweep", "vit"]
    assert q.feed(run_id) == [
        {
            "run_id": run_id,
            "state": "queued",
            "attempt": 1,
            "agent": None,
            "project_id": q.project_id,
        }
    ]


@pytest.mark.parametrize(("field", "value"), [("gpu_count", -1), ("max_restarts", -2)])
def test_enqueue_rejects_negative_counts(q: QueueDB, field: str, value: int) -> None:
    with pytest.raises(ValueError, match=f"{field} must be >= 0"):
        q.enqueue(**{field: value})


def _listener(q: QueueDB) -> psycopg.Connection:
    url = q.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    conn = psycopg.connect(url, autocommit=True)
    conn.execute(f"LISTEN {CHANNEL}")
    return conn


def test_enqueue_notifies_listeners_on_commit(pg_q: QueueDB) -> None:
    with _listener(pg_q) as conn:
        run_id = pg_q.enqueue()
        got = [n.payload for n in conn.notifies(timeout=5, stop_after=1)]
    assert got == [str(run_id)]


def test_no_notification_from_a_rolled_back_transaction(pg_q: QueueDB) -> None:
    with _listener(pg_q) as conn:
        with pg_q.factory() as session, session.begin():
            notify_work(session, 99)
            session.rollback()
        assert list(conn.notifies(timeout=0.2)) == []


def test_queue_calls_can_join_the_callers_transaction(q: QueueDB) -> None:
    """The dashboard hands the queue a sessionmaker bound to its request's connection (each
    call becomes a SAVEPOINT): the queue's writes then commit or roll back with the request."""
    with q.engine.connect() as conn:
        outer = conn.begin()
        joined = sessionmaker(bind=conn, join_transaction_mode="create_savepoint")
        run_id = enqueue(
            joined, project_id=q.project_id, name="inner", config_snapshot={}, config_hash="x"
        )
        assert request_cancel(joined, run_id).state == RunState.canceled
        outer.rollback()
    assert q.feed() == []
    kept = q.enqueue("after")
    assert q.run(kept).state == RunState.queued
