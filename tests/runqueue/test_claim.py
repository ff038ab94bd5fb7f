"""Claim: dispatch order, eligibility (target agent, GPU capacity, drained), and what a claim
writes (state, lease, agent's current run, feed event)."""

from __future__ import annotations

from visionyard.db.models import Agent, RunState
from visionyard.runqueue import claim_next, request_cancel, set_agent_drained

from .queuedb import QueueDB


def test_claims_by_priority_then_age(q: QueueDB) -> None:
    agent = q.agent()
    low_old = q.enqueue("low-old", priority=0)
    high_new = q.enqueue("high-new", priority=10)
    low_new = q.enqueue("low-new", priority=0)
    mid = q.enqueue("mid", priority=5)
    order = []
    while (run := claim_next(q.factory, agent_id=agent, capacity=0)) is not None:
        order.append(run.id)
    assert order == [high_new, mid, low_old, low_new]


def test_claim_marks_running_with_lease_and_feed_event(q: QueueDB) -> None:
    agent = q.agent("worker-1")
    run_id = q.enqueue("r", config_snapshot={"lr": 0.1}, run_dir="runs/r")
    claimed = claim_next(q.factory, agent_id=agent, capacity=0, lease_seconds=30, now=1000.0)
    assert claimed is not None
    assert (claimed.id, claimed.attempt, claimed.config_snapshot) == (run_id, 1, {"lr": 0.1})
    assert claimed.run_dir == "runs/r"
    assert claimed.lease_expires_at == 1030.0
    run = q.run(run_id)
    assert run.state == RunState.running
    assert (run.agent_id, run.lease_expires_at) == (agent, 1030.0)
    assert run.claimed_at is not None and run.claimed_at.timestamp() == 1000.0
    with q.factory() as session:
        assert session.get(Agent, agent).current_run_id == run_id  # type: ignore[union-attr]
    in_project = {"project_id": q.project_id}  # who may receive the event (the dashboard)
    assert q.feed(run_id) == [
        {"run_id": run_id, "state": "queued", "attempt": 1, "agent": None, **in_project},
        {"run_id": run_id, "state": "running", "attempt": 1, "agent": "worker-1", **in_project},
    ]
    # Nothing else is queued: the next claim finds nothing.
    assert claim_next(q.factory, agent_id=agent, capacity=0) is None


def test_target_agent_only_claimed_by_that_agent(q: QueueDB) -> None:
    alice, bob = q.agent("alice"), q.agent("bob")
    for_bob = q.enqueue("for-bob", target_agent="bob", priority=9)
    anyone = q.enqueue("anyone")
    first = claim_next(q.factory, agent_id=alice, capacity=0)
    assert first is not None and first.id == anyone
    assert claim_next(q.factory, agent_id=alice, capacity=0) is None
    claimed = claim_next(q.factory, agent_id=bob, capacity=0)
    assert claimed is not None and claimed.id == for_bob


def test_gpu_capacity_limits_what_is_claimed(q: QueueDB) -> None:
    small, big = q.agent("one-gpu", gpus=1), q.agent("four-gpu", gpus=4)
    needs_two = q.enqueue("two", gpu_count=2, priority=5)
    needs_one = q.enqueue("one", gpu_count=1)
    claimed = claim_next(q.factory, agent_id=small, capacity=1)
    assert claimed is not None and claimed.id == needs_one  # skips the higher-priority 2-GPU run
    assert claim_next(q.factory, agent_id=small, capacity=1) is None
    claimed = claim_next(q.factory, agent_id=big, capacity=4)
    assert claimed is not None and (claimed.id, claimed.gpu_count) == (needs_two, 2)


def test_drained_or_unknown_agent_claims_nothing(q: QueueDB) -> None:
    agent = q.agent()
    run_id = q.enqueue()
    set_agent_drained(q.factory, agent, True)
    assert claim_next(q.factory, agent_id=agent, capacity=8) is None
    assert claim_next(q.factory, agent_id=agent + 1000, capacity=8) is None
    assert q.run(run_id).state == RunState.queued
    set_agent_drained(q.factory, agent, False)
    claimed = claim_next(q.factory, agent_id=agent, capacity=8)
    assert claimed is not None and claimed.id == run_id


def test_canceled_queued_run_is_never_claimed(q: QueueDB) -> None:
    agent = q.agent()
    canceled = q.enqueue("c", priority=100)
    kept = q.enqueue("k")
    result = request_cancel(q.factory, canceled)
    assert (result.state, result.changed) == (RunState.canceled, True)
    claimed = claim_next(q.factory, agent_id=agent, capacity=0)
    assert claimed is not None and claimed.id == kept
    assert claim_next(q.factory, agent_id=agent, capacity=0) is None
    assert q.run(canceled).state == RunState.canceled


def test_claim_accepts_an_engine_as_well_as_a_sessionmaker(q: QueueDB) -> None:
    agent = q.agent()
    run_id = q.enqueue()
    claimed = claim_next(q.engine, agent_id=agent, capacity=0)
    assert claimed is not None and claimed.id == run_id
