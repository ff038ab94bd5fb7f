"""Fencing (R5): once a run was re-claimed, every write of the stale attempt is refused and
nothing of it is persisted."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from visionyard.db.models import CheckpointRecord, RunState
from visionyard.runqueue import (
    RunNotFound,
    StaleAttempt,
    claim_next,
    finish_run,
    reap_expired,
    record_checkpoint,
    renew_lease,
    requeue_for_drain,
    write_events,
)

from .queuedb import QueueDB

BATCH = [
    {"type": "metrics", "split": "val", "epoch": 1, "step": 50, "values": {"acc": 0.9}, "seq": 7},
    {"type": "log", "level": "info", "message": "epoch done", "seq": 8},
    {"type": "progress", "epoch": 1, "epochs": 2, "step": 50, "total_steps": 100, "seq": 9},
]


def _checkpoints(q: QueueDB, run_id: int) -> int:
    with q.factory() as session:
        stmt = select(func.count()).where(CheckpointRecord.run_id == run_id)
        return session.execute(stmt).scalar_one()


def test_stale_attempt_writes_are_refused_after_reclaim(q: QueueDB) -> None:
    old_agent, new_agent = q.agent("old"), q.agent("new")
    run_id = q.enqueue()
    first = claim_next(q.factory, agent_id=old_agent, capacity=0)
    assert first is not None and first.attempt == 1
    q.sql("UPDATE runs SET lease_expires_at = 0")
    assert reap_expired(q.factory).requeued == [run_id]
    second = claim_next(q.factory, agent_id=new_agent, capacity=0)
    assert second is not None and second.attempt == 2
    before = q.run(run_id)

    stale = [
        lambda: write_events(q.factory, run_id, 1, BATCH),
        lambda: write_events(q.factory, run_id, 1, BATCH, agent_id=old_agent),
        lambda: record_checkpoint(q.factory, run_id, 1, "last", "ckpt/last", 1, 50, 0.9),
        lambda: finish_run(q.factory, run_id, 1, old_agent, "succeeded"),
        lambda: finish_run(q.factory, run_id, 1, old_agent, "crashed", "oom"),
        lambda: renew_lease(q.factory, run_id, 1, old_agent, 600),
        lambda: requeue_for_drain(q.factory, run_id, 1, old_agent),
        # The right attempt number from the wrong agent is refused too.
        lambda: finish_run(q.factory, run_id, 2, old_agent, "succeeded"),
        lambda: renew_lease(q.factory, run_id, 2, old_agent, 600),
    ]
    for write in stale:
        with pytest.raises(StaleAttempt, match=f"run {run_id} attempt"):
            write()

    after = q.run(run_id)
    assert q.count_events(run_id) == 0
    assert _checkpoints(q, run_id) == 0
    assert (after.state, after.attempt, after.agent_id) == (RunState.running, 2, new_agent)
    assert (after.lease_expires_at, after.progress, after.restarts) == (
        before.lease_expires_at,
        {},
        1,
    )
    # The live attempt still writes.
    assert write_events(q.factory, run_id, 2, BATCH, agent_id=new_agent) == 3
    assert finish_run(q.factory, run_id, 2, new_agent, "succeeded") == RunState.succeeded


def test_writes_after_the_run_finished_are_refused(q: QueueDB) -> None:
    agent = q.agent()
    run_id = q.enqueue()
    claim_next(q.factory, agent_id=agent, capacity=0)
    finish_run(q.factory, run_id, 1, agent, "succeeded")
    with pytest.raises(StaleAttempt, match="the run is succeeded"):
        write_events(q.factory, run_id, 1, BATCH)
    with pytest.raises(StaleAttempt):
        finish_run(q.factory, run_id, 1, agent, "succeeded")
    assert q.count_events(run_id) == 0


def test_writes_for_an_unknown_run_say_so(q: QueueDB) -> None:
    with pytest.raises(RunNotFound, match="run 4242 does not exist"):
        write_events(q.factory, 4242, 1, BATCH)
