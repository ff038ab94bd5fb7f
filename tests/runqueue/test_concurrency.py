"""Exactly-once claims under real concurrency: separate claimer processes on PostgreSQL (R1) and
on a SQLite file (R2), and non-blocking claims past an uncommitted one (R3)."""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import sessionmaker

from visionyard.db.engine import normalise_url
from visionyard.db.models import Agent, FeedEvent, Run, RunState
from visionyard.runqueue import claim_next
from visionyard.runqueue.claim import claim_in_session

from .queuedb import QueueDB
from .workers import claim_until_empty

RUNS = 200


def _claim_with_processes(q: QueueDB, processes: int) -> dict[int, list[int]]:
    """Run `processes` claimer processes against q; return {agent_id: claimed run ids}."""
    agents = [q.agent(f"agent-{i}") for i in range(processes)]
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes)
    out = ctx.Queue()
    procs = [
        ctx.Process(target=claim_until_empty, args=(q.url, agent, barrier, out)) for agent in agents
    ]
    for p in procs:
        p.start()
    try:
        reports = [out.get(timeout=120) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():  # pragma: no cover - only on a hang
                p.kill()
    errors = [e for _, _, errs in reports for e in errs]
    assert errors == [], "\n".join(errors)
    assert all(p.exitcode == 0 for p in procs)
    return {agent: claimed for agent, claimed, _ in reports}


@pytest.mark.parametrize(
    ("backend", "processes"),
    [("postgresql", 8), ("sqlite", 4)],
    ids=["R1-postgresql-8-processes", "R2-sqlite-4-processes"],
)
def test_every_run_claimed_exactly_once_by_concurrent_processes(
    backend: str, processes: int, request: pytest.FixtureRequest
) -> None:
    q: QueueDB = request.getfixturevalue("pg_q" if backend == "postgresql" else "sqlite_q")
    run_ids = [q.enqueue(f"r{i}", priority=i % 4) for i in range(RUNS)]

    by_agent = _claim_with_processes(q, processes)

    claims = [run_id for claimed in by_agent.values() for run_id in claimed]
    doubles = [run_id for run_id, n in Counter(claims).items() if n > 1]
    assert doubles == []
    assert sorted(claims) == run_ids  # every run claimed, none twice
    # Real contention happened: more than one process got work.
    assert sum(1 for claimed in by_agent.values() if claimed) >= 2
    owner = {run_id: agent for agent, claimed in by_agent.items() for run_id in claimed}
    with q.factory() as session:
        rows = session.execute(select(Run.id, Run.state, Run.attempt, Run.agent_id)).all()
        running_events = Counter(
            p["run_id"]
            for p in session.execute(select(FeedEvent.payload)).scalars()
            if p.get("state") == "running"
        )
        busy_agents = session.execute(
            select(func.count()).where(Agent.current_run_id.is_not(None))
        ).scalar_one()
    assert {r.state for r in rows} == {RunState.succeeded}  # none left queued or running
    assert all(r.attempt == 1 and r.agent_id == owner[r.id] for r in rows)
    assert running_events == Counter({run_id: 1 for run_id in run_ids})
    assert busy_agents == 0


def test_claimers_skip_a_row_locked_by_an_uncommitted_claim(pg_q: QueueDB) -> None:
    """R3: while one transaction holds an uncommitted claim, other claimers get other rows at
    once. lock_timeout/statement_timeout turn a regression (blocking) into a fast failure."""
    holder, other = pg_q.agent("holder"), pg_q.agent("other")
    run_ids = [pg_q.enqueue(f"r{i}") for i in range(4)]
    impatient = create_engine(
        normalise_url(pg_q.url),
        connect_args={"options": "-c lock_timeout=500 -c statement_timeout=3000"},
    )
    try:
        with pg_q.factory() as holding, holding.begin():
            held = claim_in_session(holding, agent_id=holder, capacity=0)
            assert held is not None and held.id == run_ids[0]
            started = time.monotonic()
            others = [
                claim_next(sessionmaker(impatient), agent_id=other, capacity=0) for _ in range(4)
            ]
            elapsed = time.monotonic() - started
            got = [r.id for r in others if r is not None]
            assert got == run_ids[1:]  # the locked row is skipped, the rest taken in order
            assert others[-1] is None  # ...and the held one is not claimable meanwhile
            assert elapsed < 2.0
        # After the holder commits, its claim stands.
        run = pg_q.run(held.id)
        assert (run.state, run.agent_id) == (RunState.running, holder)
    finally:
        impatient.dispose()
