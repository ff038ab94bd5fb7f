"""How runs end: outcomes, crash retries against the restart budget, drain hand-back, cancel."""

from __future__ import annotations

import pytest

from visionyard.db.models import Agent, RunState
from visionyard.runqueue import (
    RunNotFound,
    claim_next,
    finish_run,
    renew_lease,
    request_cancel,
    requeue_for_drain,
)

from .queuedb import QueueDB


def _claim(q: QueueDB, agent: int, attempt: int = 1) -> int:
    run = claim_next(q.factory, agent_id=agent, capacity=0)
    assert run is not None and run.attempt == attempt
    return run.id


def _current_run(q: QueueDB, agent: int) -> int | None:
    with q.factory() as session:
        row = session.get(Agent, agent)
        assert row is not None
        return row.current_run_id


@pytest.mark.parametrize(
    ("outcome", "error", "state", "stored_error"),
    [
        ("succeeded", None, RunState.succeeded, None),
        ("failed", "ConfigError: lr must be > 0", RunState.failed, "ConfigError: lr must be > 0"),
        ("canceled", None, RunState.canceled, "canceled on request"),
    ],
)
def test_final_outcomes(
    q: QueueDB, outcome: str, error: str | None, state: RunState, stored_error: str | None
) -> None:
    agent = q.agent("w")
    run_id = q.enqueue()
    _claim(q, agent)
    assert finish_run(q.factory, run_id, 1, agent, outcome, error) == state  # type: ignore[arg-type]
    run = q.run(run_id)
    assert (run.state, run.error, run.lease_expires_at, run.restarts) == (
        state,
        stored_error,
        None,
        0,
    )
    assert run.finished_at is not None and run.agent_id == agent  # history: who ran it
    assert _current_run(q, agent) is None
    assert q.feed(run_id)[-1]["state"] == state
    assert claim_next(q.factory, agent_id=agent, capacity=0) is None  # a permanent end


def test_crash_requeues_charging_a_restart(q: QueueDB) -> None:
    agent = q.agent("w")
    run_id = q.enqueue(max_restarts=2)
    _claim(q, agent)
    assert finish_run(q.factory, run_id, 1, agent, "crashed", "SIGKILL") == RunState.queued
    run = q.run(run_id)
    assert (run.state, run.attempt, run.restarts, run.agent_id) == (RunState.queued, 2, 1, None)
    # The error belongs to attempt 1, which has ended: the retry has none of its own.
    assert run.error is None
    assert run.earlier_errors == [{"attempt": 1, "error": "attempt 1 crashed on agent w: SIGKILL"}]
    assert _current_run(q, agent) is None
    _claim(q, agent, attempt=2)
    running = q.run(run_id)
    assert (running.state, running.error) == (RunState.running, None)


def test_crash_loop_stops_at_max_restarts(q: QueueDB) -> None:
    agent = q.agent("w")
    run_id = q.enqueue(max_restarts=2)
    states = []
    for attempt in (1, 2, 3):
        _claim(q, agent, attempt)
        states.append(finish_run(q.factory, run_id, attempt, agent, "crashed", "segfault"))
    assert states == [RunState.queued, RunState.queued, RunState.failed]
    run = q.run(run_id)
    assert (run.state, run.attempt, run.restarts) == (RunState.failed, 3, 2)
    assert run.error == (
        "attempt 3 crashed on agent w: segfault; restart budget used up (2 restarts)"
    )
    assert [e["attempt"] for e in run.earlier_errors] == [1, 2]
    assert claim_next(q.factory, agent_id=agent, capacity=0) is None
    assert [e["state"] for e in q.feed(run_id)] == [
        "queued", "running", "queued", "running", "queued", "running", "failed",
    ]  # fmt: skip


def test_permanent_failure_is_not_retried(q: QueueDB) -> None:
    agent = q.agent()
    run_id = q.enqueue(max_restarts=5)
    _claim(q, agent)
    finish_run(q.factory, run_id, 1, agent, "failed", "DatasetError: no images in val/")
    run = q.run(run_id)
    assert (run.state, run.restarts, run.error) == (
        RunState.failed,
        0,
        "DatasetError: no images in val/",
    )


def test_drain_requeues_without_using_a_restart(q: QueueDB) -> None:
    draining, other = q.agent("draining"), q.agent("other")
    run_id = q.enqueue(max_restarts=0)
    _claim(q, draining)
    assert requeue_for_drain(q.factory, run_id, 1, draining) == RunState.queued
    run = q.run(run_id)
    assert (run.state, run.attempt, run.restarts, run.agent_id) == (RunState.queued, 2, 0, None)
    assert _current_run(q, draining) is None
    assert q.feed(run_id)[-1]["reason"] == "agent draining drained during attempt 1; re-queued"
    _claim(q, other, attempt=2)  # resumes elsewhere, even with a zero restart budget


def test_cancel_running_is_seen_by_the_agent_then_reported(q: QueueDB) -> None:
    agent = q.agent()
    run_id = q.enqueue()
    _claim(q, agent)
    result = request_cancel(q.factory, run_id)
    assert (result.state, result.changed) == (RunState.running, True)
    assert "requested" in result.message
    assert request_cancel(q.factory, run_id).changed is False  # asking twice is harmless
    assert q.feed(run_id)[-1]["cancel_requested"] is True
    assert renew_lease(q.factory, run_id, 1, agent, 60) is True
    assert finish_run(q.factory, run_id, 1, agent, "canceled") == RunState.canceled
    done = request_cancel(q.factory, run_id)
    assert (done.state, done.changed) == (RunState.canceled, False)
    assert done.message == f"run {run_id} already canceled; nothing to cancel"


@pytest.mark.parametrize("how", ["crashed", "drain"])
def test_cancel_requested_run_is_not_retried(q: QueueDB, how: str) -> None:
    agent = q.agent()
    run_id = q.enqueue()
    _claim(q, agent)
    request_cancel(q.factory, run_id)
    if how == "crashed":
        state = finish_run(q.factory, run_id, 1, agent, "crashed", "killed while stopping")
    else:
        state = requeue_for_drain(q.factory, run_id, 1, agent)
    assert state == RunState.canceled
    assert q.run(run_id).restarts == 0
    assert claim_next(q.factory, agent_id=agent, capacity=0) is None


def test_cancel_queued_is_immediate(q: QueueDB) -> None:
    run_id = q.enqueue()
    result = request_cancel(q.factory, run_id)
    assert (result.state, result.changed, result.message) == (
        RunState.canceled,
        True,
        f"run {run_id} canceled",
    )
    run = q.run(run_id)
    assert run.finished_at is not None and run.error == "canceled while queued"
    assert q.feed(run_id)[-1] == {
        "run_id": run_id,
        "state": "canceled",
        "attempt": 1,
        "agent": None,
        "project_id": q.project_id,
        "reason": "canceled while queued",
    }


def test_cancel_unknown_run_and_bad_outcome(q: QueueDB) -> None:
    with pytest.raises(RunNotFound, match="run 777 does not exist"):
        request_cancel(q.factory, 777)
    with pytest.raises(ValueError, match="outcome must be one of"):
        finish_run(q.factory, 1, 1, 1, "exploded")  # type: ignore[arg-type]
