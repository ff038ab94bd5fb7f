"""Leases and the reaper (R4): expiry is simulated by moving `lease_expires_at` back in SQL."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from visionyard.agent.bootstrap import agent_idle_transaction_limit
from visionyard.db.engine import make_engine
from visionyard.db.models import Agent, RunState
from visionyard.runqueue import (
    ReapResult,
    StaleAttempt,
    claim_next,
    reap_expired,
    renew_lease,
    request_cancel,
)
from visionyard.runqueue.fencing import lock_run
from visionyard.settings import Settings

from .queuedb import QueueDB


def _claim(q: QueueDB, agent: int) -> int:
    run = claim_next(q.factory, agent_id=agent, capacity=0, lease_seconds=60)
    assert run is not None
    return run.id


def test_renew_extends_the_lease_and_reports_cancel(q: QueueDB) -> None:
    agent = q.agent()
    run_id = q.enqueue()
    _claim(q, agent)
    assert renew_lease(q.factory, run_id, 1, agent, 90, now=2000.0) is False
    assert q.run(run_id).lease_expires_at == 2090.0
    request_cancel(q.factory, run_id)
    assert renew_lease(q.factory, run_id, 1, agent, 90, now=2001.0) is True


def test_renew_refused_for_wrong_agent_attempt_or_state(q: QueueDB) -> None:
    agent, other = q.agent("a"), q.agent("b")
    run_id = q.enqueue()
    with pytest.raises(StaleAttempt, match="the run is queued"):
        renew_lease(q.factory, run_id, 1, agent, 60)
    _claim(q, agent)
    lease = q.run(run_id).lease_expires_at
    with pytest.raises(StaleAttempt, match="attempt 2"):
        renew_lease(q.factory, run_id, 2, agent, 600)
    with pytest.raises(StaleAttempt, match="current execution is attempt 1 on agent a"):
        renew_lease(q.factory, run_id, 1, other, 600)
    assert q.run(run_id).lease_expires_at == lease  # nothing changed


def test_expired_lease_requeues_with_next_attempt_and_leaves_live_runs_alone(q: QueueDB) -> None:
    agent = q.agent("box-7")
    expired, live = q.enqueue("expired"), q.enqueue("live")
    _claim(q, agent)
    _claim(q, agent)
    q.sql("UPDATE runs SET lease_expires_at = lease_expires_at - 3600 WHERE id = :id", id=expired)

    result = reap_expired(q.factory)

    assert result == ReapResult(requeued=[expired])
    run = q.run(expired)
    assert (run.state, run.attempt, run.restarts) == (RunState.queued, 2, 1)
    assert run.agent_id is None and run.lease_expires_at is None
    # The retry starts without an error of its own; the lost attempt's stays readable.
    assert run.error is None
    assert run.earlier_errors == [
        {"attempt": 1, "error": "lease expired on agent box-7 (attempt 1)"}
    ]
    untouched = q.run(live)
    assert (untouched.state, untouched.attempt, untouched.agent_id) == (RunState.running, 1, agent)
    assert q.feed(expired)[-1] == {
        "run_id": expired,
        "state": "queued",
        "attempt": 2,
        "agent": None,
        "project_id": q.project_id,
        "reason": "lease expired on agent box-7 (attempt 1)",
    }
    # The re-queued run is claimable again, as attempt 2.
    again = claim_next(q.factory, agent_id=agent, capacity=0)
    assert again is not None and (again.id, again.attempt) == (expired, 2)
    assert reap_expired(q.factory) == ReapResult()


def test_injected_clock_decides_expiry(q: QueueDB) -> None:
    agent = q.agent()
    run_id = q.enqueue()
    claim_next(q.factory, agent_id=agent, capacity=0, lease_seconds=60, now=1000.0)
    assert reap_expired(q.factory, now=1059.0).total == 0
    assert reap_expired(q.factory, now=1061.0).requeued == [run_id]


def test_expiry_at_max_restarts_fails_with_reason(q: QueueDB) -> None:
    agent = q.agent("box-1")
    run_id = q.enqueue(max_restarts=1)
    for attempt in (1, 2):
        claimed = claim_next(q.factory, agent_id=agent, capacity=0)
        assert claimed is not None and claimed.attempt == attempt
        q.sql("UPDATE runs SET lease_expires_at = 0 WHERE id = :id", id=run_id)
        result = reap_expired(q.factory)
        assert result.requeued == ([run_id] if attempt == 1 else [])
    assert result.failed == [run_id]
    run = q.run(run_id)
    assert (run.state, run.attempt, run.restarts) == (RunState.failed, 2, 1)
    assert run.error is not None
    assert run.error.startswith("lease expired on agent box-1 (attempt 2)")
    assert "restart budget used up" in run.error
    assert run.finished_at is not None
    with q.factory() as session:
        assert session.get(Agent, agent).current_run_id is None  # type: ignore[union-attr]
    assert claim_next(q.factory, agent_id=agent, capacity=0) is None


def test_expired_run_with_cancel_requested_is_canceled_not_retried(q: QueueDB) -> None:
    agent = q.agent()
    run_id = q.enqueue()
    _claim(q, agent)
    request_cancel(q.factory, run_id)
    q.sql("UPDATE runs SET lease_expires_at = 0")
    assert reap_expired(q.factory).canceled == [run_id]
    run = q.run(run_id)
    assert (run.state, run.restarts) == (RunState.canceled, 0)


def test_concurrent_reapers_move_each_run_exactly_once(q: QueueDB) -> None:
    agent = q.agent()
    ids = [q.enqueue(f"r{i}", max_restarts=0 if i % 3 == 0 else 2) for i in range(45)]
    for _ in ids:
        _claim(q, agent)
    q.sql("UPDATE runs SET lease_expires_at = 1")
    barrier = threading.Barrier(4)
    results: list[ReapResult] = []
    errors: list[BaseException] = []

    def reaper() -> None:
        try:
            barrier.wait()
            results.append(reap_expired(q.factory))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reaper) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    requeued = [i for r in results for i in r.requeued]
    failed = [i for r in results for i in r.failed]
    assert sorted(requeued + failed) == ids  # each moved once, by exactly one reaper
    assert sorted(failed) == [i for n, i in enumerate(ids) if n % 3 == 0]
    for run_id in requeued:
        run = q.run(run_id)
        assert (run.state, run.attempt, run.restarts) == (RunState.queued, 2, 1)
    assert len([e for e in q.feed() if e["state"] in ("queued", "failed") and "reason" in e]) == 45


def test_a_frozen_agents_open_transaction_cannot_keep_its_run_from_the_reaper(
    pg_q: QueueDB,
) -> None:
    """An agent stopped between two statements of a transaction (SIGSTOP, a stalled VM) holds
    its run's row lock; the reaper skips locked rows, so without a server-side bound the run
    would never move. Agents' engines bound idle transactions (agent_idle_transaction_limit)."""
    q = pg_q
    agent = q.agent()
    run_id = q.enqueue()
    _claim(q, agent)
    q.sql("UPDATE runs SET lease_expires_at = 1 WHERE id = :id", id=run_id)
    frozen_engine = make_engine(q.url, idle_in_transaction_seconds=1.0)
    frozen = Session(frozen_engine)
    try:
        lock_run(frozen, run_id)  # ... and then the agent is frozen, transaction open
        assert reap_expired(q.factory).total == 0  # the locked row is skipped
        deadline = time.monotonic() + 30
        moved = ReapResult()
        while not moved.requeued and time.monotonic() < deadline:
            time.sleep(0.2)
            moved = reap_expired(q.factory)
        assert moved.requeued == [run_id]
        assert q.run(run_id).state == RunState.queued
        # The thawed agent's next statement fails cleanly instead of writing into the run.
        with pytest.raises(OperationalError):
            lock_run(frozen, run_id)
    finally:
        frozen.close()
        frozen_engine.dispose()


def test_agents_bound_idle_transactions_below_their_lease() -> None:
    settings = Settings(lease_seconds=30)
    assert agent_idle_transaction_limit(settings) < settings.lease_seconds
