"""Run-queue benchmark on PostgreSQL or SQLite: wake-up latency, claim throughput, idle cost.

Creates its own database (PostgreSQL: on the server named by --url, dropped at the end, also on
failure; SQLite: a file in a temporary folder), migrates it, and measures:

  latency     enqueue -> claim, p50/p99, with claimer processes woken by `WorkWaiter` (NOTIFY on
              PostgreSQL, the change-counter poll on SQLite) vs claimers polling every second.
              Each row also has a profile: the enqueue split into checkout (pool + pre-ping),
              statements (their count and time), commit, and the rest (Python); the wake-up
              (enqueue's return -> the waiter's return); the claim split the same way.
              A producer enqueues runs one by one at random gaps (50-250 ms); latency runs from
              the start of the `enqueue` call to the return of the `claim_next` that got the
              run (same host, same clock). Pollers' phases are spread evenly over the second
              (polling's best case); waiting claimers fall back to a claim attempt every 5 s
              (1 s on SQLite, so that they see the end of a phase without a NOTIFY).
  throughput  claims/s with 1, 2, 4, 8 claimer processes draining a few hundred queued runs
              (`claim_next` only: the UPDATE ... SKIP LOCKED, the agent row, the feed event,
              commit). Wall time from the barrier release to the last claimer finding nothing.
  duplicates  every claimed run id is reported back by its process; a run claimed twice (or a
              DB state that disagrees with the reports) is counted and must be 0.
  idle        one idle agent for --idle-seconds: a heartbeat every 5 s plus a claim attempt
              after each wake-up, (a) woken by `WorkWaiter` with a 5 s fallback poll, (b)
              polling every second. Counted in the client over the steady state: process CPU
              time, queries (SQLAlchemy cursor executions; on SQLite not the waiter's own
              change-counter reads, which its CPU time shows; plus the pool's pre-ping on every
              checkout), transactions, and round trips (queries + BEGIN + COMMIT). Not counted
              on the server: pg_stat_statements needs shared_preload_libraries, and
              pg_stat_database's transaction counter also counts autovacuum workers visiting
              the database, which swamps an idle agent.

    python bench/queue_bench.py                      # local server, about 2 minutes
    python bench/queue_bench.py --backend sqlite     # a SQLite file, about 2 minutes
    python bench/queue_bench.py --url postgresql://postgres@db:5432/postgres --json out.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, insert, select, text
from sqlalchemy.engine import make_url

from visionyard.db.engine import make_engine, make_session_factory, normalise_url
from visionyard.db.migrate import upgrade
from visionyard.db.models import Project, Run, RunState
from visionyard.runqueue import (
    CHANNEL,
    SQLITE_POLL_INTERVAL,
    WorkWaiter,
    agent_heartbeat,
    claim_next,
    enqueue,
    finish_run,
    register_agent,
)

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
HEARTBEAT_S = 5.0
#: SQLite: the waiter's change-counter poll (--sqlite-poll-ms; spawned children read it from
#: the environment)
POLL_S = float(os.environ.get("VY_BENCH_SQLITE_POLL_MS", SQLITE_POLL_INTERVAL * 1000)) / 1000

# ---- database set-up --------------------------------------------------------------------------


@contextmanager
def bench_database(admin_url: str, backend: str) -> Iterator[str]:
    """A fresh, migrated database; dropped on exit."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="vy-queue-bench-") as folder:
            url = f"sqlite:///{folder}/queue.db"
            engine = make_engine(url)
            upgrade(engine)
            engine.dispose()
            yield url
        return
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


# ---- profile of one transaction ------------------------------------------------------------------


@dataclass
class Timeline:
    """Where one queue call's time goes, from engine events: `start()` before the call, `done()`
    after it. checkout = pool checkout including the pre-ping (PostgreSQL); statements = the
    cursor executions (the first includes psycopg's BEGIN round trip); commit = from the commit
    event to the call's return (the COMMIT round trip with its WAL flush); other = the rest
    (SQLAlchemy and Python)."""

    t0: float = 0.0
    checkout_at: float = 0.0
    commit_at: float = 0.0
    stmt_start: float = 0.0
    stmt_s: float = 0.0
    statements: int = 0
    rows: list[dict[str, float]] = field(default_factory=list)

    def attach(self, engine: Engine) -> None:
        event.listen(engine.pool, "checkout", self._checkout)
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        event.listen(engine, "commit", self._commit)

    def _checkout(self, *_args: Any) -> None:
        if not self.checkout_at:
            self.checkout_at = time.perf_counter()

    def _before(self, *_args: Any) -> None:
        self.stmt_start = time.perf_counter()

    def _after(self, *_args: Any) -> None:
        self.stmt_s += time.perf_counter() - self.stmt_start
        self.statements += 1

    def _commit(self, *_args: Any) -> None:
        self.commit_at = time.perf_counter()

    def start(self) -> None:
        self.t0 = time.perf_counter()
        self.checkout_at = self.commit_at = self.stmt_s = 0.0
        self.statements = 0

    def done(self) -> dict[str, float]:
        end = time.perf_counter()
        checkout = (self.checkout_at or self.t0) - self.t0
        commit = end - self.commit_at if self.commit_at else 0.0
        row = {
            "total_ms": (end - self.t0) * 1000,
            "checkout_ms": checkout * 1000,
            "statements": self.statements,
            "statements_ms": self.stmt_s * 1000,
            "commit_ms": commit * 1000,
            "other_ms": (end - self.t0 - checkout - self.stmt_s - commit) * 1000,
        }
        self.rows.append(row)
        return row


def profile_summary(rows: list[dict[str, float]]) -> dict[str, float]:
    """p50 of each part (the parts' p50s need not add up to the total's)."""
    if not rows:
        return {}
    return {key: percentile([r[key] for r in rows], 0.5) for key in rows[0]}


# ---- claimer processes (module level: spawned children import them) ---------------------------


def latency_claimer(
    url: str, agent_id: int, mode: str, phase: float, ready: Any, stop: Any, out: Any
) -> None:
    """Claim (and finish) runs as they come; report [(run_id, claimed_at)]. A polling claimer
    starts its 1 s cycle `phase` seconds late."""
    engine = make_engine(url)
    timeline = Timeline()
    timeline.attach(engine)
    claims: list[tuple[int, float, float, dict[str, float]]] = []
    waiter = WorkWaiter(engine, poll_interval=POLL_S) if mode == "notify" else None
    # SQLite claimers have no NOTIFY to stop them: a short wait lets them see `stop` soon.
    wait_s = HEARTBEAT_S if url.startswith("postgresql") else 1.0
    try:
        ready.wait(timeout=60)
        if waiter is None:
            stop.wait(phase)
        woke = time.time()
        while not stop.is_set():
            timeline.start()
            run = claim_next(engine, agent_id=agent_id, capacity=0)
            if run is not None:
                claimed = time.time()
                claims.append((run.id, woke, claimed, timeline.done()))
                finish_run(engine, run.id, run.attempt, agent_id, "succeeded")
                woke = time.time()
                continue
            if waiter is not None:
                waiter.wait_for_work(timeout=wait_s)
            else:
                stop.wait(1.0)
            woke = time.time()
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
    timeline = Timeline()
    timeline.attach(engine)
    with engine.connect():
        pass  # connect and initialise the dialect before the first timed enqueue
    enqueued: dict[int, float] = {}
    returned: dict[int, float] = {}
    enqueue_ms: list[float] = []
    for i in range(runs):
        time.sleep(rng.uniform(0.05, 0.25))
        started = time.time()
        timeline.start()
        run_id = enqueue(
            engine,
            project_id=project_id,
            name=f"lat-{mode}-{i}",
            config_snapshot={"i": i},
            config_hash="0" * 64,
        )
        timeline.done()
        returned[run_id] = time.time()
        enqueue_ms.append((returned[run_id] - started) * 1000)
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
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_notify(:c, 'stop')"), {"c": CHANNEL})
            conn.commit()
    engine.dispose()
    claims = [c for _ in procs for c in out.get(timeout=60)]
    for p in procs:
        p.join(timeout=30)
    ids = [c[0] for c in claims]
    latencies = [(c[2] - enqueued[c[0]]) * 1000 for c in claims if c[0] in enqueued]
    # Wake-up: from the enqueue's return to the claim attempt that got the run (negative when
    # the notification overtook the enqueue's own return).
    wake_ms = [(c[1] - returned[c[0]]) * 1000 for c in claims if c[0] in returned]
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
        "enqueue_profile": profile_summary(timeline.rows),
        "wake_p50_ms": percentile(wake_ms, 0.5),
        "claim_profile": profile_summary([c[3] for c in claims]),
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
    waiter = WorkWaiter(engine, poll_interval=POLL_S) if mode == "notify" else None
    counter = StatementCounter()
    counter.attach(engine)
    claims = heartbeats = 0
    cpu_start = time.process_time()
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
    cpu = time.process_time() - cpu_start
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
        "cpu_ms_per_s": cpu * 1000 / elapsed,
    }


# ---- report -----------------------------------------------------------------------------------


def print_report(results: dict[str, Any]) -> None:
    env = results["environment"]
    print(f"\nQueue benchmark — {env['database']}, {env['cpus']} CPUs, Python {env['python']}")
    print("\nEnqueue -> claim latency")
    print(
        f"{'claimers':<18}{'runs':>6}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'dup':>5}"
        f"{'enqueue p50 ms':>16}"
    )
    for r in results["latency"]:
        label = f"{r['claimers']} x " + ("waiter" if r["mode"] == "notify" else "poll 1 s")
        print(
            f"{label:<18}{r['runs']:>6}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}"
            f"{r['max_ms']:>9.1f}{r['duplicates']:>5}{r['enqueue_p50_ms']:>16.1f}"
        )
    print("\nProfile, p50 ms (waiter rows): checkout / statements (count) / commit / other")
    for r in results["latency"]:
        if r["mode"] != "notify":
            continue
        parts = []
        for name in ("enqueue", "claim"):
            pr = r[f"{name}_profile"]
            parts.append(
                f"{name} {pr['total_ms']:.1f} = {pr['checkout_ms']:.2f} / "
                f"{pr['statements_ms']:.2f} ({pr['statements']:.0f}) / {pr['commit_ms']:.2f} / "
                f"{pr['other_ms']:.2f}"
            )
        print(f"{r['claimers']} x waiter: {parts[0]}; wake-up {r['wake_p50_ms']:.1f}; {parts[1]}")
    print("\nClaim throughput")
    print(f"{'processes':<12}{'runs':>6}{'seconds':>10}{'claims/s':>10}{'dup':>6}  per process")
    for r in results["throughput"]:
        print(
            f"{r['claimers']:<12}{r['runs']:>6}{r['seconds']:>10.2f}{r['claims_per_s']:>10.0f}"
            f"{r['duplicates']:>6}  {r['per_process']}"
        )
    print("\nIdle agent (heartbeat every 5 s, claim attempt after every wake-up)")
    print(
        f"{'mode':<20}{'seconds':>8}{'claims':>8}{'queries/s':>11}{'xacts/s':>9}{'trips/s':>9}"
        f"{'CPU ms/s':>10}"
    )
    for r in results["idle"]:
        label = "waiter + 5 s poll" if r["mode"] == "notify" else "poll every 1 s"
        print(
            f"{label:<20}{r['seconds']:>8.1f}{r['claim_attempts']:>8}"
            f"{r['queries_per_s']:>11.2f}{r['transactions_per_s']:>9.2f}"
            f"{r['round_trips_per_s']:>9.2f}{r['cpu_ms_per_s']:>10.2f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--url", default=DEFAULT_URL, help="PostgreSQL server (any database)")
    parser.add_argument("--latency-runs", type=int, default=40)
    parser.add_argument("--latency-claimers", default="1,4", help="claimer process counts")
    parser.add_argument("--runs", type=int, default=400, help="runs per throughput setting")
    parser.add_argument("--claimers", default="1,2,4,8", help="throughput process counts")
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--sqlite-poll-ms", type=float, help="SQLite waiter's change-counter poll (default 5)"
    )
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)

    if args.sqlite_poll_ms is not None:
        global POLL_S
        POLL_S = args.sqlite_poll_ms / 1000
        os.environ["VY_BENCH_SQLITE_POLL_MS"] = str(args.sqlite_poll_ms)
    started = time.monotonic()
    results: dict[str, Any] = {"latency": [], "throughput": [], "idle": []}
    with bench_database(args.url, args.backend) as url:
        engine = make_engine(url)
        with engine.connect() as conn:
            if args.backend == "sqlite":
                version = "SQLite " + conn.execute(text("SELECT sqlite_version()")).scalar_one()
            else:
                version = "PostgreSQL " + conn.execute(text("SHOW server_version")).scalar_one()
        engine.dispose()
        results["environment"] = {
            "database": version,
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
