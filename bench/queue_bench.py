"""Run-queue benchmark on PostgreSQL: wake-up latency, claim throughput, idle cost per agent.

Creates its own database on the server named by --url (dropped at the end, also on failure),
migrates it, and measures:

  latency     enqueue -> claim, p50/p99, with claimer processes woken by NOTIFY (waiting in
              `WorkWaiter.wait_for_work`) vs claimers polling every second. A producer enqueues
              runs one by one at random gaps (50-250 ms); latency runs from the start of the
              `enqueue` call to the return of the `claim_next` that got the run (same host,
              same clock). Pollers' phases are spread evenly over the second (polling's best
              case); NOTIFY claimers fall back to a claim attempt every 5 s.
  throughput  claims/s with 1, 2, 4, 8 claimer processes draining a few hundred queued runs
              (`claim_next` only: the UPDATE ... SKIP LOCKED, the agent row, the feed event,
              commit). Wall time from the barrier release to the last claimer finding nothing.
  duplicates  every claimed run id is reported back by its process; a run claimed twice (or a
              DB state that disagrees with the reports) is counted and must be 0.
  idle        one idle agent for --idle-seconds: a heartbeat every 5 s plus a claim attempt
              after each wake-up, (a) NOTIFY-woken with a 5 s fallback poll, (b) polling every
              second. Counted in the client over the steady state: queries (SQLAlchemy cursor
              executions plus the pool's pre-ping on every checkout), transactions, and round
              trips (queries + BEGIN + COMMIT). Not counted on the server: pg_stat_statements
              needs shared_preload_libraries, and pg_stat_database's transaction counter also
              counts autovacuum workers visiting the database, which swamps an idle agent.

    python bench/queue_bench.py                      # local server, about 2 minutes
    python bench/queue_bench.py --url postgresql://postgres@db:5432/postgres --json out.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, insert, select, text
from sqlalchemy.engine import make_url

from visionyard.db.engine import make_engine, make_session_factory, normalise_url
from visionyard.db.migrate import upgrade
from visionyard.db.models import Project, Run, RunState
from visionyard.runqueue import (
    CHANNEL,
    WorkWaiter,
    agent_heartbeat,
    claim_next,
    enqueue,
    finish_run,
    register_agent,
)

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
HEARTBEAT_S = 5.0

# ---- database set-up --------------------------------------------------------------------------


@contextmanager
def bench_database(admin_url: str) -> Iterator[str]:
    """A fresh, migrated database; dropped on exit."""
    name = f"vy_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(normalise_url(admin_url)).set(database=name)
    rendered = url.render_as_string(hide_password=False)
    try:
        engine = make_engine(rendered)
        upgrade(engine)
        engine.dispose()
        yield rendered
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def make_project(url: str) -> int:
    engine = make_engine(url)
    with make_session_factory(engine)() as session, session.begin():
        project = Project(name=f"bench-{uuid.uuid4().hex[:6]}")
        session.add(project)
        session.flush()
        project_id = project.id
    engine.dispose()
    return project_id


def make_agents(url: str, names: list[str]) -> list[int]:
    engine = make_engine(url)
    ids = [
        register_agent(engine, name=n, hostname="bench", device="cpu", gpus=[], version="bench")
        for n in names
    ]
    engine.dispose()
    return ids


def bulk_queue(url: str, project_id: int, count: int) -> list[int]:
    """Queue `count` runs in one transaction (the throughput phase times claims, not enqueues)."""
    engine = make_engine(url)
    rows = [
        {
            "project_id": project_id,
            "name": f"bulk-{i}",
            "config_snapshot": {"i": i},
            "config_hash": "0" * 64,
            "state": RunState.queued,
            "priority": i % 3,
            "progress": {},
        }
        for i in range(count)
    ]
    with engine.begin() as conn:
        ids = list(conn.execute(insert(Run).returning(Run.id), rows).scalars())
    engine.dispose()
    return sorted(ids)


def reset_runs(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM runs"))
        conn.execute(text("UPDATE agents SET current_run_id = NULL"))
    engine.dispose()


# ---- claimer processes (module level: spawned children import them) ---------------------------


def latency_claimer(
    url: str, agent_id: int, mode: str, phase: float, ready: Any, stop: Any, out: Any
) -> None:
    """Claim (and finish) runs as they come; report [(run_id, claimed_at)]. A polling claimer
    starts its 1 s cycle `phase` seconds late."""
    engine = make_engine(url)
    claims: list[tuple[int, float]] = []
    waiter = WorkWaiter(engine) if mode == "notify" else None
    try:
        ready.wait(timeout=60)
        if waiter is None:
            stop.wait(phase)
        while not stop.is_set():
            run = claim_next(engine, agent_id=agent_id, capacity=0)
            if run is not None:
                claims.append((run.id, time.time()))
                finish_run(engine, run.id, run.attempt, agent_id, "succeeded")
                continue
            if waiter is not None:
                waiter.wait_for_work(timeout=HEARTBEAT_S)
            else:
                stop.wait(1.0)
    finally:
        if waiter is not None:
            waiter.close()
        engine.dispose()
        out.put(claims)


def throughput_claimer(url: str, agent_id: int, barrier: Any, out: Any) -> None:
    """Claim until the queue is empty; report (ids, start, end)."""
    engine = make_engine(url)
    # Warm the pool so the timed part does not include connecting.
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    ids: list[int] = []
    barrier.wait(timeout=120)
    start = time.perf_counter()
    while (run := claim_next(engine, agent_id=agent_id, capacity=0)) is not None:
        ids.append(run.id)
    end = time.perf_counter()
    engine.dispose()
    out.put((ids, start, end))


# ---- phases -----------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q
    low, high = int(rank), min(int(rank) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_phase(
    url: str, project_id: int, mode: str, claimers: int, runs: int, seed: int
) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    agents = make_agents(url, [f"lat-{mode}-{i}" for i in range(claimers)])
    ready, stop, out = ctx.Barrier(claimers + 1), ctx.Event(), ctx.Queue()
    # Pollers' phases are spread evenly over the second: polling's best case (pollers that
    # happen to poll in step would all see a run at the same moment, and the latency would
    # approach one poller's).
    procs = [
        ctx.Process(target=latency_claimer, args=(url, a, mode, i / claimers, ready, stop, out))
        for i, a in enumerate(agents)
    ]
    for p in procs:
        p.start()
    ready.wait(timeout=120)
    time.sleep(1.0)  # let every claimer reach its first wait
    rng = random.Random(seed)
    engine = make_engine(url)
    enqueued: dict[int, float] = {}
    enqueue_ms: list[float] = []
    for i in range(runs):
        time.sleep(rng.uniform(0.05, 0.25))
        started = time.time()
        run_id = enqueue(
            engine,
            project_id=project_id,
            name=f"lat-{mode}-{i}",
            config_snapshot={"i": i},
            config_hash="0" * 64,
        )
        enqueue_ms.append((time.time() - started) * 1000)
        enqueued[run_id] = started
    deadline = time.monotonic() + 30
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            queued = conn.execute(
                select(func.count()).where(Run.state == RunState.queued)
            ).scalar_one()
            conn.rollback()
            if queued == 0:
                break
            time.sleep(0.1)
        stop.set()
        conn.execute(text("SELECT pg_notify(:c, 'stop')"), {"c": CHANNEL})
        conn.commit()
    engine.dispose()
    claims = [c for _ in procs for c in out.get(timeout=60)]
    for p in procs:
        p.join(timeout=30)
    ids = [run_id for run_id, _ in claims]
    latencies = [(t - enqueued[run_id]) * 1000 for run_id, t in claims if run_id in enqueued]
    return {
        "mode": mode,
        "claimers": claimers,
        "runs": runs,
        "claimed": len(set(ids)),
        "duplicates": len(ids) - len(set(ids)),
        "enqueue_p50_ms": percentile(enqueue_ms, 0.5),
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": max(latencies),
    }


def throughput_phase(url: str, project_id: int, claimers: int, runs: int) -> dict[str, Any]:
    reset_runs(url)
    run_ids = bulk_queue(url, project_id, runs)
    agents = make_agents(url, [f"tp-{i}" for i in range(claimers)])
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(claimers), ctx.Queue()
    procs = [ctx.Process(target=throughput_claimer, args=(url, a, barrier, out)) for a in agents]
    for p in procs:
        p.start()
    reports = [out.get(timeout=180) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    claimed = [i for ids, _, _ in reports for i in ids]
    wall = max(e for _, _, e in reports) - min(s for _, s, _ in reports)
    # The database must agree with what the processes reported.
    engine = make_engine(url)
    with engine.connect() as conn:
        db_states = Counter(conn.execute(select(Run.state)).scalars())
    engine.dispose()
    duplicates = sum(n - 1 for n in Counter(claimed).values() if n > 1)
    missing = len(set(run_ids) - set(claimed))
    consistent = db_states == Counter({RunState.running: runs}) and missing == 0
    return {
        "claimers": claimers,
        "runs": runs,
        "seconds": wall,
        "claims_per_s": len(claimed) / wall,
        "duplicates": duplicates,
        "db_consistent": consistent,
        "per_process": sorted(len(ids) for ids, _, _ in reports),
    }


@dataclass
class StatementCounter:
    """What one engine sends: SQL statements (cursor executions plus the pre-ping that
    `pool_pre_ping` issues on every checkout, outside the cursor events) and transactions."""

    statements: int = 0
    pings: int = 0
    transactions: int = 0

    def attach(self, engine: Engine) -> None:
        event.listen(engine, "before_cursor_execute", self._on_execute)
        event.listen(engine.pool, "checkout", self._on_checkout)
        event.listen(engine, "commit", self._on_end)
        event.listen(engine, "rollback", self._on_end)

    def _on_execute(self, *_args: Any) -> None:
        self.statements += 1

    def _on_checkout(self, *_args: Any) -> None:
        self.pings += 1

    def _on_end(self, *_args: Any) -> None:
        self.transactions += 1


def idle_phase(url: str, mode: str, seconds: float) -> dict[str, Any]:
    """One idle agent for `seconds`: heartbeat every HEARTBEAT_S, a claim attempt after every
    wake-up. Counted over the steady state (after connecting and LISTEN, which happen once)."""
    reset_runs(url)
    (agent_id,) = make_agents(url, [f"idle-{mode}"])
    engine = make_engine(url)
    with engine.connect():
        pass  # connect and initialise the dialect outside the counted window
    waiter = WorkWaiter(engine) if mode == "notify" else None
    counter = StatementCounter()
    counter.attach(engine)
    claims = heartbeats = 0
    start = time.monotonic()
    end = start + seconds
    next_heartbeat = start
    while (now := time.monotonic()) < end:
        if now >= next_heartbeat:
            agent_heartbeat(engine, agent_id)
            heartbeats += 1
            next_heartbeat += HEARTBEAT_S
        claim_next(engine, agent_id=agent_id, capacity=0)
        claims += 1
        wait = max(0.0, min(HEARTBEAT_S if waiter else 1.0, next_heartbeat - now, end - now))
        if waiter is not None:
            waiter.wait_for_work(timeout=wait)
        else:
            time.sleep(wait)
    elapsed = time.monotonic() - start
    if waiter is not None:
        waiter.close()
    engine.dispose()
    queries = counter.statements + counter.pings
    # psycopg sends BEGIN before a transaction's first statement and COMMIT at its end: two
    # more round trips per transaction.
    round_trips = queries + 2 * counter.transactions
    return {
        "mode": mode,
        "seconds": elapsed,
        "heartbeats": heartbeats,
        "claim_attempts": claims,
        "queries": queries,
        "transactions": counter.transactions,
        "queries_per_s": queries / elapsed,
        "transactions_per_s": counter.transactions / elapsed,
        "round_trips_per_s": round_trips / elapsed,
    }


# ---- report -----------------------------------------------------------------------------------


def print_report(results: dict[str, Any]) -> None:
    env = results["environment"]
    print(f"\nQueue benchmark — PostgreSQL {env['postgres']}, {env['cpus']} CPUs, {env['python']}")
    print("\nEnqueue -> claim latency")
    print(
        f"{'claimers':<18}{'runs':>6}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'dup':>5}"
        f"{'enqueue p50 ms':>16}"
    )
    for r in results["latency"]:
        label = f"{r['claimers']} x " + ("NOTIFY" if r["mode"] == "notify" else "poll 1 s")
        print(
            f"{label:<18}{r['runs']:>6}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}"
            f"{r['max_ms']:>9.1f}{r['duplicates']:>5}{r['enqueue_p50_ms']:>16.1f}"
        )
    print("\nClaim throughput")
    print(f"{'processes':<12}{'runs':>6}{'seconds':>10}{'claims/s':>10}{'dup':>6}  per process")
    for r in results["throughput"]:
        print(
            f"{r['claimers']:<12}{r['runs']:>6}{r['seconds']:>10.2f}{r['claims_per_s']:>10.0f}"
            f"{r['duplicates']:>6}  {r['per_process']}"
        )
    print("\nIdle agent (heartbeat every 5 s, claim attempt after every wake-up)")
    print(f"{'mode':<20}{'seconds':>8}{'claims':>8}{'queries/s':>11}{'xacts/s':>9}{'trips/s':>9}")
    for r in results["idle"]:
        label = "NOTIFY + 5 s poll" if r["mode"] == "notify" else "poll every 1 s"
        print(
            f"{label:<20}{r['seconds']:>8.1f}{r['claim_attempts']:>8}"
            f"{r['queries_per_s']:>11.2f}{r['transactions_per_s']:>9.2f}"
            f"{r['round_trips_per_s']:>9.2f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL, help="server (any database on it)")
    parser.add_argument("--latency-runs", type=int, default=40)
    parser.add_argument("--latency-claimers", default="1,4", help="claimer process counts")
    parser.add_argument("--runs", type=int, default=400, help="runs per throughput setting")
    parser.add_argument("--claimers", default="1,2,4,8", help="throughput process counts")
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)

    started = time.monotonic()
    results: dict[str, Any] = {"latency": [], "throughput": [], "idle": []}
    with bench_database(args.url) as url:
        engine = make_engine(url)
        with engine.connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar_one()
        engine.dispose()
        results["environment"] = {
            "postgres": version,
            "cpus": multiprocessing.cpu_count(),
            "python": platform.python_version(),
        }
        project_id = make_project(url)
        for claimers in (int(c) for c in args.latency_claimers.split(",")):
            for mode in ("notify", "poll"):
                print(f"latency: {claimers} x {mode} ...", file=sys.stderr, flush=True)
                results["latency"].append(
                    latency_phase(url, project_id, mode, claimers, args.latency_runs, args.seed)
                )
        for claimers in (int(c) for c in args.claimers.split(",")):
            print(f"throughput: {claimers} processes ...", file=sys.stderr, flush=True)
            results["throughput"].append(throughput_phase(url, project_id, claimers, args.runs))
        for mode in ("notify", "poll"):
            print(f"idle: {mode} ...", file=sys.stderr, flush=True)
            results["idle"].append(idle_phase(url, mode, args.idle_seconds))
    results["total_seconds"] = time.monotonic() - started
    print_report(results)
    print(f"\ntotal {results['total_seconds']:.0f} s")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2, default=str)
    duplicates = sum(r["duplicates"] for r in results["latency"] + results["throughput"])
    inconsistent = [r["claimers"] for r in results["throughput"] if not r["db_consistent"]]
    lost = [r for r in results["latency"] if r["claimed"] != r["runs"]]
    if duplicates or inconsistent or lost:
        print(
            f"FAILED: {duplicates} duplicate claims; DB state disagrees with the claimers' "
            f"reports for {inconsistent} processes; {len(lost)} latency phases lost runs"
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
