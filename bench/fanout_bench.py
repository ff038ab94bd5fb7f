"""Live fan-out benchmark: a real dashboard, live runs written as agents write them, 200
WebSocket subscribers, slow clients, and a run whose trainer floods its output.

Starts `visionyard serve` as a subprocess on its own database (PostgreSQL: a fresh database on
--url, dropped at the end; SQLite: a file in a temporary folder), queues and claims --runs runs
(one registered agent each) and measures, phase by phase:

  steady      a writer process stores each run's events through the agent's write path
              (`runqueue.write_events`, fenced, one transaction per batch: a `train_step` = two
              metric rows and a `log` row) every --batch-interval seconds; --clients WebSocket
              clients each follow ONE run (client i follows run i mod --runs: 10 clients per
              run by default). Delivery latency = the client's receive time minus the event's
              own time (set by the writer just before the write; same host clock). Server CPU
              (process CPU time / wall) and RSS are read with psutil.
  slow        the same, plus --slow-clients clients that subscribe to EVERY run (live only) and
              then stop reading (a 4 KiB receive buffer, nothing read): the others' latency
              must not move, and the server must tell each slow client `lagged` (bounded
              outbox) or close it. Log lines are --log-bytes long (4,000: long lines fill the
              kernel's socket buffers, up to 4 MiB on Linux, within the phase; only then does
              the outbox fill).
  resume      the slow clients read again: for each `lagged` they resubscribe with `after` = the
              last sequence number they got, as the protocol says (and reconnect the same way when
              the server closed them); at the end every client (the slow ones included, from
              their first event on) must hold exactly the `log` events the database holds for
              its runs (metric points are packed into chunks that later writes may merge under
              a newer id, so they are not compared by id).
  log flood   (--flood-mb, default 100; 1000 for the 1 GB case, ~7 minutes on 2 busy cores)
              a run supervised by the real agent code (`Supervision`: process, output capture,
              relay) whose stand-in trainer prints --flood-mb MB of output, while HTTP clients
              time `GET /health` and `GET /runs` (p50/p99) next to a window without it; the run's
              stored log volume is read back (capped by the agent's max_log_bytes).

    python bench/fanout_bench.py                         # PostgreSQL on localhost, ~2 minutes
    python bench/fanout_bench.py --backend sqlite --json /tmp/fanout.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import multiprocessing
import os
import platform
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil
import websockets
from queue_bench import bench_database, make_agents, make_project, percentile
from sqlalchemy import func, select

from visionyard.agent.launch import AgentDevices, prepare_launch
from visionyard.agent.supervisor import Control, Supervision, SupervisionOptions
from visionyard.db.engine import make_engine
from visionyard.db.models import RunEvent
from visionyard.runqueue import claim_next, enqueue, write_events

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REPO = Path(__file__).resolve().parents[1]
API = "/api/v1"

# ---- the server -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def dashboard(db_url: str, data_dir: Path, token: str) -> Iterator[tuple[str, int]]:
    """`visionyard serve` on a free port: (base URL, pid) once it answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VISIONYARD_", "DASHBOARD_"))}
    env.update(
        VISIONYARD_DATA_DIR=str(data_dir),
        DASHBOARD_DB_URL=db_url,
        VISIONYARD_ADMIN_PASSWORD=secrets.token_urlsafe(16),
        VISIONYARD_ADMIN_TOKEN=token,
        HF_HUB_OFFLINE="1",
        PYTHONPATH=os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")]),
    )
    log = (data_dir / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "visionyard.cli", "serve", "--port", str(port)]
        + ["--log-level", "warning"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError((data_dir / "serve.log").read_text())
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}{API}/health", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("visionyard serve did not answer within 120 s")
            time.sleep(0.25)
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


class ServerMeter:
    """Server CPU time / wall and RSS over a phase (RSS sampled every 0.25 s)."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.rss_max = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.25):
            with contextlib.suppress(psutil.Error):
                self.rss_max = max(self.rss_max, self.proc.memory_info().rss)

    def start(self) -> None:
        times = self.proc.cpu_times()
        self._cpu0, self._t0 = times.user + times.system, time.monotonic()
        self.rss_max = self.proc.memory_info().rss

    def stop(self) -> dict[str, float]:
        times = self.proc.cpu_times()
        wall = time.monotonic() - self._t0
        return {
            "server_cpu_pct": (times.user + times.system - self._cpu0) / wall * 100,
            "server_rss_mb": self.proc.memory_info().rss / 2**20,
            "server_rss_max_mb": self.rss_max / 2**20,
        }

    def close(self) -> None:
        self._stop.set()


# ---- the writer (a separate process, as agents are) --------------------------------------------


def writer(
    url: str, runs: list[tuple[int, int]], interval: float, log_bytes: int, stop: Any, out: Any
) -> None:
    """Every `interval` s, one batch per run through the agent's fenced write path; each log
    line is padded to `log_bytes` (a long line: a config dump, a progress bar)."""
    pad = "." * max(0, log_bytes - 30)
    engine = make_engine(url)
    step = 0
    written = 0
    next_at = time.monotonic()
    while not stop.is_set():
        step += 1
        for run_id, agent_id in runs:
            now = time.time()
            batch = [
                {"type": "train_step", "step": step, "loss": 1.0 / step, "lr": 1e-3, "time": now},
                {
                    "type": "log",
                    "seq": step,
                    "time": now,
                    "level": "info",
                    "message": f"step {step}: loss {1.0 / step:.5f} {pad}",
                    "source": "output",
                },
            ]
            written += write_events(engine, run_id, 1, batch, agent_id=agent_id)
        next_at += interval
        stop.wait(max(0.0, next_at - time.monotonic()))
    engine.dispose()
    out.put(written)


# ---- WebSocket clients --------------------------------------------------------------------------


@dataclasses.dataclass
class Client:
    name: str
    runs: list[int]
    slow: bool = False
    phase: str = "warmup"
    #: per topic: the sequence numbers received (events), in order
    seqs: dict[str, list[int]] = dataclasses.field(default_factory=lambda: defaultdict(list))
    latencies: dict[str, list[float]] = dataclasses.field(default_factory=lambda: defaultdict(list))
    #: per topic: the sequence numbers of the `log` events received, in order
    logs: dict[str, list[int]] = dataclasses.field(default_factory=lambda: defaultdict(list))
    lagged: int = 0
    first_lagged_at: float | None = None
    #: how the server ended each connection: a close code, or why there was none
    closes: list[int | str] = dataclasses.field(default_factory=list)
    reading: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)


def _small_buffer_socket(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    return sock


async def follow(client: Client, ws_url: str, port: int, token: str, done: asyncio.Event) -> None:
    """Subscribe to the client's runs and read until `done`. A slow client pauses until its
    `reading` event is set; then it resumes as the protocol says: after `lagged` it
    resubscribes with `after` = the last sequence number it got, and when the server closed
    the connection it reconnects and does the same for every topic."""
    headers = {"Authorization": f"Bearer {token}"}
    if not client.slow:
        client.reading.set()
    first = True
    while not done.is_set():
        kwargs: dict[str, Any] = {"additional_headers": headers}
        if client.slow and first:
            # No client keepalive either: its unanswered pings would end the connection from
            # this side (1011) before the server's bound is reached.
            kwargs.update(sock=_small_buffer_socket(port), max_queue=1, ping_interval=None)
        async with websockets.connect(ws_url, proxy=None, open_timeout=60, **kwargs) as ws:
            for run_id in client.runs:
                topic = f"run:{run_id}"
                got = client.seqs.get(topic)
                # Followers want each run from its start; slow clients join live (no backfill
                # burst); a reconnect resumes after the last event received.
                after = got[-1] if got else (None if client.slow else 0)
                await ws.send(json.dumps({"op": "subscribe", "topic": topic, "after": after}))
            first = False
            await client.reading.wait()
            if await _read(client, ws, done):
                return


async def _read(client: Client, ws: Any, done: asyncio.Event) -> bool:
    """Read until `done` (True) or until the server closes the connection (False)."""
    while not done.is_set():
        try:
            text = await asyncio.wait_for(ws.recv(), timeout=0.5)
        except TimeoutError:
            continue
        except websockets.ConnectionClosed as exc:
            client.closes.append(exc.rcvd.code if exc.rcvd else f"no close frame: {exc}"[:80])
            return False
        received = time.time()
        message = json.loads(text)
        kind = message["type"]
        if kind == "event":
            topic = message["topic"]
            if message["data"].get("kind") == "log":
                # Log rows keep their ids; metric points are packed into chunks that later
                # batches may merge under a newer id, so they are not compared by id.
                client.logs[topic].append(message["seq"])
            client.seqs[topic].append(message["seq"])
            client.latencies[client.phase].append((received - message["ts"]) * 1000)
        elif kind == "lagged":
            client.lagged += 1
            client.first_lagged_at = client.first_lagged_at or received
            after = message["seq"]
            await ws.send(
                json.dumps({"op": "subscribe", "topic": message["topic"], "after": after})
            )
    return True


# ---- the log flood ----------------------------------------------------------------------------

FLOOD = (
    "import sys\n"
    "line = 'x' * 99 + '\\n'\n"
    "block = line * 10000\n"
    "for _ in range({blocks}): sys.stdout.write(block)\n"
    "sys.stdout.flush()\n"
)


def flood_run(url: str, data_dir: Path, project_id: int, megabytes: int, out: Any) -> None:
    """One claimed run supervised by the agent's real code, its trainer printing `megabytes` MB."""
    engine = make_engine(url)
    (agent_id,) = make_agents(url, ["flood"])
    # A valid training config (the launch checks it); the stand-in trainer never reads it.
    dataset = data_dir / "datasets" / "none"
    dataset.mkdir(parents=True, exist_ok=True)
    config = {"root": str(dataset), "model_flavour": "none", "epochs": 1}
    run_id = enqueue(
        engine, project_id=project_id, name="flood", config_snapshot=config, config_hash="0" * 64
    )
    claimed = claim_next(engine, agent_id=agent_id, capacity=0, lease_seconds=600)
    assert claimed is not None and claimed.id == run_id
    launch = prepare_launch(
        run_id=claimed.id,
        attempt=claimed.attempt,
        run_dir=claimed.run_dir,
        gpu_count=0,
        snapshot=claimed.config_snapshot,
        runs_root=data_dir / "runs",
        datasets_root=data_dir / "datasets",
        models_root=data_dir / "models",
        devices=AgentDevices(),
        agent_env={"PATH": "/usr/bin:/bin"},
        supervisor_timeout=5,
        liveness_dir=data_dir / "alive",
        hf_token=None,
    )
    script = FLOOD.format(blocks=megabytes)  # a block is 10,000 lines of 100 bytes: 1 MB
    launch = dataclasses.replace(launch, argv=[sys.executable, "-c", script])
    options = SupervisionOptions(lease_seconds=600)
    started = time.monotonic()
    outcome = Supervision(
        engine, agent_id=agent_id, launch=launch, options=options, control=Control()
    ).run()
    seconds = time.monotonic() - started
    with engine.connect() as conn:
        message = RunEvent.payload["message"].as_string()
        rows, stored = conn.execute(
            select(func.count(), func.coalesce(func.sum(func.length(message)), 0)).where(
                RunEvent.run_id == run_id, RunEvent.kind == "log"
            )
        ).one()
        markers = conn.execute(
            select(func.count()).where(
                RunEvent.run_id == run_id,
                RunEvent.kind == "log",
                message.like("[visionyard]%"),
            )
        ).scalar_one()
    engine.dispose()
    log_file = launch.output_path
    out.put(
        {
            "printed_mb": megabytes,
            "seconds": seconds,
            "outcome": outcome.kind,
            "stored_log_rows": rows,
            "stored_log_mb": stored / 1e6,
            "marker_rows": markers,
            "cap_mb": options.max_log_bytes / 1e6,
            "on_disk_mb": log_file.stat().st_size / 1e6 if log_file.exists() else 0.0,
        }
    )


# ---- HTTP responsiveness ----------------------------------------------------------------------


def http_probe(base: str, token: str, seconds: float, stop: threading.Event | None = None) -> dict:
    """`GET /health` and `GET /runs` back to back (one client, 20 ms apart) for `seconds`."""
    times: dict[str, list[float]] = {"health": [], "runs": []}
    errors = 0
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"{base}{API}", headers=headers, timeout=30) as client:
        end = time.monotonic() + seconds
        while time.monotonic() < end and not (stop and stop.is_set()):
            for name, path in (("health", "/health"), ("runs", "/runs?limit=50")):
                started = time.perf_counter()
                response = client.get(path)
                times[name].append((time.perf_counter() - started) * 1000)
                errors += response.status_code != 200
            time.sleep(0.02)
    return {
        "requests": sum(len(v) for v in times.values()),
        "errors": errors,
        **{f"{k}_p50_ms": percentile(v, 0.5) for k, v in times.items()},
        **{f"{k}_p99_ms": percentile(v, 0.99) for k, v in times.items()},
    }


# ---- orchestration ----------------------------------------------------------------------------


def summarise(clients: list[Client], phase: str) -> dict[str, float]:
    values = [v for c in clients if not c.slow for v in c.latencies.get(phase, [])]
    if not values:
        return {"messages": 0}
    return {
        "messages": len(values),
        "p50_ms": percentile(values, 0.5),
        "p99_ms": percentile(values, 0.99),
        "max_ms": max(values),
    }


def stored_logs(url: str, run_ids: list[int]) -> dict[str, list[int]]:
    """The ids of each run's stored `log` rows."""
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(RunEvent.run_id, RunEvent.id)
            .where(RunEvent.run_id.in_(run_ids), RunEvent.kind == "log")
            .order_by(RunEvent.id)
        ).all()
    engine.dispose()
    seqs: dict[str, list[int]] = defaultdict(list)
    for run_id, seq in rows:
        seqs[f"run:{run_id}"].append(seq)
    return seqs


async def fan_out(args: argparse.Namespace, url: str, base: str, pid: int, token: str) -> dict:
    ctx = multiprocessing.get_context("spawn")
    project_id = make_project(url)
    engine = make_engine(url)
    agents = make_agents(url, [f"live-{i}" for i in range(args.runs)])
    runs: list[tuple[int, int]] = []
    for i, agent_id in enumerate(agents):
        run_id = enqueue(
            engine,
            project_id=project_id,
            name=f"live-{i}",
            config_snapshot={},
            config_hash="0" * 64,
        )
        # A lease longer than the bench: these agents send no heartbeats, and the dashboard's
        # reaper would re-queue their runs (and fence the writer out) after the default 60 s.
        claimed = claim_next(engine, agent_id=agent_id, capacity=0, lease_seconds=3600)
        assert claimed is not None and claimed.id == run_id
        runs.append((run_id, agent_id))
    engine.dispose()
    run_ids = [r for r, _ in runs]
    port = int(base.rsplit(":", 1)[1])
    ws_url = f"ws://127.0.0.1:{port}{API}/ws"
    clients = [Client(f"c{i}", [run_ids[i % len(run_ids)]]) for i in range(args.clients)]
    slow = [Client(f"slow{i}", list(run_ids), slow=True) for i in range(args.slow_clients)]
    done = asyncio.Event()
    meter = ServerMeter(pid)
    results: dict[str, Any] = {"phases": {}}

    tasks = []
    for client in clients:  # connect in small groups: 200 handshakes at once on 2 cores time out
        tasks.append(asyncio.create_task(follow(client, ws_url, port, token, done)))
        await asyncio.sleep(0.01)
    stop, out = ctx.Event(), ctx.Queue()
    proc = ctx.Process(
        target=writer, args=(url, runs, args.batch_interval, args.log_bytes, stop, out)
    )
    proc.start()
    await asyncio.sleep(args.warmup)

    async def phase(name: str, seconds: float) -> None:
        for c in clients + slow:
            c.phase = name
        meter.start()
        await asyncio.sleep(seconds)
        results["phases"][name] = {**summarise(clients, name), **meter.stop()}
        print(f"  {name}: {results['phases'][name]}", file=sys.stderr, flush=True)

    await phase("steady", args.phase_seconds)
    for client in slow:
        client.phase = "join"
        tasks.append(asyncio.create_task(follow(client, ws_url, port, token, done)))
    await asyncio.sleep(3.0)  # the slow clients connect and subscribe: not measured
    slow_since = time.time()
    await phase("slow", args.slow_seconds)
    for client in slow:
        client.reading.set()
    await phase("resume", args.resume_seconds)
    stop.set()
    written = await asyncio.to_thread(out.get, True, 60)
    await asyncio.to_thread(proc.join, 30)
    await asyncio.sleep(3.0)  # the last events reach every client
    done.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    meter.close()

    expected = stored_logs(url, run_ids)
    incomplete = []
    for c in clients + slow:
        for run_id in c.runs:
            topic = f"run:{run_id}"
            got = c.logs.get(topic, [])
            # A live-only subscriber must have everything from its first event on.
            want = [s for s in expected[topic] if not c.slow or (got and s >= min(got))]
            if not got or sorted(set(got)) != want or len(got) != len(set(got)):
                incomplete.append(c.name)
                break
    results.update(
        written_rows=written,
        stored_log_events=sum(len(v) for v in expected.values()),
        clients=len(clients),
        slow_clients=len(slow),
        slow_lagged=[c.lagged for c in slow],
        slow_first_lagged_s=[
            round(c.first_lagged_at - slow_since, 1) if c.first_lagged_at else None for c in slow
        ],
        slow_closes=[c.closes for c in slow],
        normal_closes=sum(len(c.closes) for c in clients),
        normal_lagged=sum(c.lagged for c in clients),
        incomplete_clients=incomplete,
    )
    return results


def flood_phase(args: argparse.Namespace, url: str, base: str, data: Path, token: str) -> dict:
    project_id = make_project(url)
    quiet = http_probe(base, token, args.probe_seconds)
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=flood_run, args=(url, data, project_id, args.flood_mb, out))
    proc.start()
    samples = []
    while proc.is_alive() and out.empty():
        samples.append(http_probe(base, token, 2.0))
    proc.join(30)
    if out.empty():
        raise RuntimeError(f"the flood run failed (exit code {proc.exitcode}); see above")
    report = out.get(timeout=5)
    merged = {
        "requests": sum(s["requests"] for s in samples),
        "errors": sum(s["errors"] for s in samples),
    }
    for key in ("health_p50_ms", "health_p99_ms", "runs_p50_ms", "runs_p99_ms"):
        # p99 over the whole flood: the worst 2 s window's p99 (conservative)
        merged[key] = max((s[key] for s in samples), default=0.0)
    return {"quiet": quiet, "flooded": merged, "flood": report}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--url", default=DEFAULT_URL, help="PostgreSQL server (any database)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--slow-clients", type=int, default=10)
    parser.add_argument("--batch-interval", type=float, default=0.5, help="s between batches")
    parser.add_argument("--warmup", type=float, default=8.0)
    parser.add_argument("--phase-seconds", type=float, default=20.0)
    parser.add_argument("--slow-seconds", type=float, default=40.0)
    parser.add_argument("--resume-seconds", type=float, default=10.0)
    parser.add_argument("--log-bytes", type=int, default=4000, help="bytes of each log line")
    parser.add_argument("--probe-seconds", type=float, default=8.0)
    parser.add_argument(
        "--flood-mb", type=int, default=100, help="MB the flood run prints (0: no flood)"
    )
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)

    started = time.monotonic()
    token = secrets.token_urlsafe(24)
    results: dict[str, Any] = {
        "environment": {
            "backend": args.backend,
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_before": os.getloadavg(),
        }
    }
    with tempfile.TemporaryDirectory(prefix="vy-fanout-") as folder:
        data = Path(folder)
        with (
            bench_database(args.url, args.backend) as url,
            dashboard(url, data, token) as (base, pid),
        ):
            print("fan-out ...", file=sys.stderr, flush=True)
            results["fanout"] = asyncio.run(fan_out(args, url, base, pid, token))
            if args.flood_mb:
                print("log flood ...", file=sys.stderr, flush=True)
                results["log_flood"] = flood_phase(args, url, base, data, token)
    results["environment"]["load_after"] = os.getloadavg()
    results["total_seconds"] = time.monotonic() - started
    print(json.dumps(results, indent=2, default=str))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    fan = results["fanout"]
    ok = not fan["incomplete_clients"] and fan["normal_lagged"] == 0
    if "log_flood" in results:
        flood = results["log_flood"]["flood"]
        ok = ok and flood["stored_log_mb"] <= flood["cap_mb"] * 1.1 and flood["marker_rows"] >= 1
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
