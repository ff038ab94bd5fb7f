"""resume_run: a failed or canceled run goes back to the queue as its next attempt, with a fresh
restart budget and its end cleared (kept on the change feed); nothing else may be resumed."""

from __future__ import annotations

import pytest

from visionyard.db.models import RunState
from visionyard.errors import RunStateError
from visionyard.runqueue import (
    RunNotFound,
    claim_next,
    finish_run,
    request_cancel,
    resume_run,
)

from .queuedb import QueueDB


def claimed(q: QueueDB, agent: int, attempt: int = 1) -> int:
    run = claim_next(q.factory, agent_id=agent, capacity=0)
    assert run is not None and run.attempt == attempt
    return run.id


def test_a_canceled_run_is_queued_again_as_its_next_attempt(q: QueueDB) -> None:
    agent = q.agent()
    run_id = q.enqueue(run_dir="7-r")
    claimed(q, agent)
    request_cancel(q.factory, run_id)
    finish_run(q.factory, run_id, 1, agent, "canceled")

    assert resume_run(q.factory, run_id) == 2
    run = q.run(run_id)
    assert (run.state, run.attempt, run.restarts) == (RunState.queued, 2, 0)
    assert run.error is None and run.finished_at is None and run.cancel_requested is False
    assert run.earlier_errors == [{"attempt": 1, "error": "canceled on request"}]
    assert run.agent_id is None and run.lease_expires_at is None and run.claimed_at is None
    assert run.run_dir == "7-r"
    assert q.feed(run_id)[-1] == {
        "run_id": run_id,
        "state": "queued",
        "attempt": 2,
        "agent": None,
        "project_id": q.project_id,
        "reason": "resumed on request; attempt 1 had ended canceled: canceled on request",
    }
    assert claimed(q, agent, attempt=2) == run_id


def test_a_failed_run_with_its_budget_used_up_gets_the_whole_budget_again(q: QueueDB) -> None:
    agent = q.agent()
    run_id = q.enqueue(max_restarts=1)
    for attempt in (1, 2):
        claimed(q, agent, attempt)
        finish_run(q.factory, run_id, attempt, agent, "crashed", "killed")
    run = q.run(run_id)
    assert run.state == RunState.failed and run.restarts == 1

    assert resume_run(q.factory, run_id) == 3
    assert (q.run(run_id).restarts, q.run(run_id).max_restarts) == (0, 1)
    claimed(q, agent, attempt=3)
    # A crash after the resume is retried again, within the budget.
    assert finish_run(q.factory, run_id, 3, agent, "crashed", "killed") == RunState.queued


@pytest.mark.parametrize("state", ["queued", "running", "succeeded"])
def test_other_states_are_refused_and_nothing_changes(q: QueueDB, state: str) -> None:
    agent = q.agent()
    run_id = q.enqueue()
    if state != "queued":
        claimed(q, agent)
    if state == "succeeded":
        finish_run(q.factory, run_id, 1, agent, "succeeded")
    feed = q.feed(run_id)
    with pytest.raises(RunStateError, match=f"run {run_id} (is {state}|succeeded)"):
        resume_run(q.factory, run_id)
    assert q.run(run_id).state == state and q.run(run_id).attempt == 1
    assert q.feed(run_id) == feed


def test_an_unknown_run_says_so(q: QueueDB) -> None:
    with pytest.raises(RunNotFound, match="run 777 does not exist"):
        resume_run(q.factory, 777)
