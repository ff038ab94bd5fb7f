"""Metric storage benchmark on PostgreSQL: ingestion against an MLflow tracking server, the
trainer's own logging cost, and the dashboard's reads once the database holds many points.

  ingest   points/s from the agent's write path (`visionyard.runqueue.write_events`: fenced,
           idempotent, summaries kept up to date, one transaction per batch, as the agent relays)
           against an MLflow tracking server on the same PostgreSQL server (`MlflowClient.
           log_batch`, 1,000 metrics per call: MLflow's own limit) and raw `COPY` of the same
           rows into Visionyard's table (the ceiling). Same points (a train/step_loss and a
           train/lr per step), same batch size, rounds interleaved; each round writes a new run.
           MLflow runs from its own virtual environment (--mlflow-python; it is not one of
           Visionyard's dependencies): its server is started once, before the rounds, and its
           client times itself in a subprocess, so neither start-up is counted.
  trainer  the trainer's per-step logging (`Tracker.train_step`: two TensorBoard scalars and an
           events.jsonl line) in microseconds, as a share of a training step of the tiny ViT
           that bench/train_throughput.py trains (batch 64, 2 threads).
  scale    --runs runs of --steps-per-run steps of two per-step metrics (plus val/accuracy
           once per 1,000 steps), and one run with --big-points points of train/step_loss,
           written into the real schema by SQL (`generate_series`, no Python per row; summaries
           by aggregate). Then, through a real `visionyard serve` on that database: the run
           list's first page, the big run's chart series downsampled to 1,000 points, and the
           compare view of 10 runs (by step, train/step_loss), each --requests times, p50/p99;
           and the database's bytes per point.

The databases are created for the run and dropped afterwards, also on failure.

    PYTHONPATH=src python bench/metric_store_bench.py --mlflow-python /tmp/mlflow/bin/python
    PYTHONPATH=src python bench/metric_store_bench.py --phases scale --runs 1000 \\
        --steps-per-run 5000 --big-points 1000000                    # 11M points
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src"), str(REPO), str(REPO / "bench")]

import httpx  # noqa: E402
import numpy as np  # noqa: E402
from queue_bench import DEFAULT_URL, bench_database, make_agents, make_project  # noqa: E402
from sqlalchemy import create_engine, insert, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from visionyard.db.engine import make_engine, normalise_url  # noqa: E402
from visionyard.db.models import Run, RunState  # noqa: E402
from visionyard.runqueue import claim_next, enqueue, event_rows, write_events  # noqa: E402
from visionyard.runqueue.metric_chunks import CHUNK_POINTS, POINT, chunk_row  # noqa: E402

MLFLOW_BATCH = 1000  # MLflow refuses more than 1,000 metrics in one log_batch


def step_events(first_step: int, steps: int, seq0: int) -> list[dict[str, Any]]:
    """`steps` train_step events (two points each), as the trainer writes them."""
    return [
        {
            "seq": seq0 + i,
            "time": 1_700_000_000.0 + step * 0.05,
            "type": "train_step",
            "step": step,
            "epoch": step // 1000,
            "loss": 2.0 / (1 + step) ** 0.5,
            "lr": 1e-3 * (1 - step / 10**7),
        }
        for i, step in enumerate(range(first_step, first_step + steps))
    ]


# -- ingest ----------------------------------------------------------------------------------


def _running_run(url: str, project_id: int, agent_id: int) -> tuple[int, int]:
    engine = make_engine(url)
    run_id = enqueue(
        engine, project_id=project_id, name="ingest", config_snapshot={}, config_hash="0" * 64
    )
    claimed = claim_next(engine, agent_id=agent_id, capacity=0)
    engine.dispose()
    assert claimed is not None and claimed.id == run_id
    return run_id, claimed.attempt


def ingest_visionyard(url: str, project_id: int, agent_id: int, points: int) -> float:
    run_id, attempt = _running_run(url, project_id, agent_id)
    engine = make_engine(url)
    per_batch = MLFLOW_BATCH // 2
    batches = [step_events(s, per_batch, s) for s in range(1, points // 2 + 1, per_batch)]
    write_events(engine, run_id, attempt, batches[0][:1], agent_id=agent_id)  # warm the pool
    started = time.perf_counter()
    stored = sum(write_events(engine, run_id, attempt, b, agent_id=agent_id) for b in batches)
    elapsed = time.perf_counter() - started
    engine.dispose()
    assert stored == points - 2, f"stored {stored} of {points} points"  # the warm-up's 2 points
    return points / elapsed


def ingest_copy(url: str, project_id: int, agent_id: int, points: int) -> float:
    """The same points by COPY, a row each, into a table without indexes or constraints: the
    cost of just moving the points into PostgreSQL (no idempotence, no summaries, no reads)."""
    import psycopg

    run_id, attempt = _running_run(url, project_id, agent_id)
    rows = [r for r in event_rows(run_id, attempt, step_events(1, points // 2, 1), now=0.0)]
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS raw_points (run_id integer, attempt integer, name text,"
            " step bigint, value float8, time float8, epoch integer)"
        )
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy("COPY raw_points FROM STDIN") as copy:
            for r in rows:
                copy.write_row((run_id, attempt, r["name"], r["step"], r["value"],
                                r["created_at"], r["payload"].get("epoch")))  # fmt: skip
        conn.commit()
        elapsed = time.perf_counter() - started
    return points / elapsed


MLFLOW_CLIENT = textwrap.dedent(
    """
    import json, sys, time
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    uri, points, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("bench") or client.get_experiment(
        client.create_experiment("bench"))
    run = client.create_run(experiment.experiment_id)
    metrics = []
    for step in range(1, points // 2 + 1):
        ts = int((1_700_000_000.0 + step * 0.05) * 1000)
        metrics.append(Metric("train/step_loss", 2.0 / (1 + step) ** 0.5, ts, step))
        metrics.append(Metric("train/lr", 1e-3 * (1 - step / 10**7), ts, step))
    client.log_batch(run.info.run_id, metrics=metrics[:1])  # warm the connection
    started = time.perf_counter()
    for start in range(0, len(metrics), batch):
        client.log_batch(run.info.run_id, metrics=metrics[start : start + batch])
    elapsed = time.perf_counter() - started
    stored = len(client.get_metric_history(run.info.run_id, "train/lr"))
    print(json.dumps({"points_per_s": points / elapsed, "stored_lr_points": stored}))
    """
)


def _server_failed(what: str, log_path: str) -> str:
    """The message for an MLflow server that failed, with the end of its output (its log is
    in the run's temporary folder, gone when the bench exits)."""
    tail = Path(log_path).read_text(errors="replace").splitlines()[-20:]
    return (
        f"mlflow server {what}; check --mlflow-python (a venv with mlflow and psycopg) and "
        "that PostgreSQL accepts --url. Its last output:\n" + "\n".join(tail)
    )


@contextmanager
def mlflow_server(python: str, pg_admin_url: str, workdir: Path) -> Iterator[str]:
    """An MLflow tracking server on its own database of the same PostgreSQL server."""
    name = f"mlflow_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(normalise_url(pg_admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    store = make_url(pg_admin_url).set(drivername="postgresql", database=name)
    port = 5000 + os.getpid() % 1000
    log = (workdir / "mlflow-server.log").open("w")
    mlflow = str(Path(python).parent / "mlflow")
    proc = subprocess.Popen(
        [mlflow, "server", "--backend-store-uri", store.render_as_string(hide_password=False)]
        + ["--default-artifact-root", str(workdir / "artifacts"), "--port", str(port)]
        + ["--host", "127.0.0.1", "--workers", "1"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(_server_failed("exited", log.name))
            try:
                if httpx.get(f"{uri}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        else:
            raise SystemExit(_server_failed("did not answer /health in 180 s", log.name))
        yield uri
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def ingest_mlflow(python: str, uri: str, points: int) -> float:
    out = subprocess.run(
        [python, "-c", MLFLOW_CLIENT, uri, str(points), str(MLFLOW_BATCH)],
        check=True,
        capture_output=True,
        text=True,
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["stored_lr_points"] == points // 2, report
    return float(report["points_per_s"])


def phase_ingest(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    results: dict[str, list[float]] = {"visionyard": [], "copy": []}
    with (
        bench_database(args.url, "postgresql") as url,
        contextmanager_or_none(args, workdir) as mlflow_uri,
    ):
        project_id = make_project(url)
        (agent_id,) = make_agents(url, ["ingest-agent"])
        if mlflow_uri:
            results["mlflow"] = []
        for round_ in range(args.rounds):
            order = list(results)
            order = order[round_ % len(order) :] + order[: round_ % len(order)]
            for variant in order:
                if variant == "visionyard":
                    rate = ingest_visionyard(url, project_id, agent_id, args.ingest_points)
                elif variant == "copy":
                    rate = ingest_copy(url, project_id, agent_id, args.ingest_points)
                else:
                    rate = ingest_mlflow(args.mlflow_python, mlflow_uri, args.ingest_points)
                results[variant].append(rate)
                print(f"  ingest round {round_ + 1} {variant:<10} {rate:>12,.0f} points/s")
    medians = {k: statistics.median(v) for k, v in results.items()}
    return {"points": args.ingest_points, "rounds": results, "median_points_per_s": medians}


@contextmanager
def contextmanager_or_none(args: argparse.Namespace, workdir: Path) -> Iterator[str | None]:
    if not args.mlflow_python:
        print("  (no --mlflow-python: MLflow is left out)")
        yield None
        return
    with mlflow_server(args.mlflow_python, args.url, workdir) as uri:
        yield uri


# -- trainer ---------------------------------------------------------------------------------


def phase_trainer(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    import torch

    from visionyard.training.demo import write_tiny_model
    from visionyard.training.modeling import build_model
    from visionyard.training.tracking import Tracker

    torch.set_num_threads(2)
    calls = 2000
    with Tracker(workdir / "trainer-run") as tracker:
        for i in range(50):
            tracker.train_step(i, 0, 1.0, 1e-3)
        started = time.perf_counter()
        for i in range(50, 50 + calls):
            tracker.train_step(i, 0, 1.0 / (i + 1), 1e-3)
        per_call_us = (time.perf_counter() - started) / calls * 1e6
    model, _ = build_model(
        str(write_tiny_model(workdir / "tiny-vit", arch="vit")),
        class_names=[str(i) for i in range(10)],
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    images, labels = torch.randn(64, 3, 32, 32), torch.randint(0, 10, (64,))
    times = []
    for i in range(12):
        started = time.perf_counter()
        loss = model(pixel_values=images, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if i >= 2:
            times.append(time.perf_counter() - started)
    step_ms = statistics.median(times) * 1000
    share = per_call_us / 1000 / step_ms
    print(f"  Tracker.train_step {per_call_us:.1f} us; tiny ViT step {step_ms:.1f} ms: {share:.3%}")
    return {"train_step_call_us": per_call_us, "tiny_vit_step_ms": step_ms, "share": share}


# -- scale -----------------------------------------------------------------------------------


def _series(run_id: int, name: str, steps: np.ndarray, values: np.ndarray) -> tuple[list, dict]:
    """One metric of one run as the agent leaves it: chunk rows and its summary row."""
    records = np.empty(len(steps), POINT)
    records["step"] = steps
    records["value"] = values
    records["time"] = 1_700_000_000.0 + steps * 0.05
    records["epoch"] = steps // 1000
    chunks = [
        chunk_row(run_id, 1, name, records[start : start + CHUNK_POINTS])
        for start in range(0, len(records), CHUNK_POINTS)
    ]
    low, high = int(np.argmin(values)), int(np.argmax(values))
    summary = {
        "run_id": run_id, "name": name, "attempt": 1, "first_step": int(steps[0]),
        "last_step": int(steps[-1]), "last_value": float(values[-1]),
        "last_epoch": int(steps[-1] // 1000), "min_value": float(values[low]),
        "min_step": int(steps[low]), "max_value": float(values[high]),
        "max_step": int(steps[high]),
    }  # fmt: skip
    return chunks, summary


def _copy_rows(url: str, chunks: list[dict[str, Any]], summaries: list[dict[str, Any]]) -> None:
    import psycopg

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    chunk_columns = ("run_id", "attempt", "kind", "name", "step", "last_step", "value",
                     "payload", "points", "extremes", "dedupe_key", "created_at")  # fmt: skip
    summary_columns = tuple(summaries[0]) if summaries else ()
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY run_events ({', '.join(chunk_columns)}) FROM STDIN") as copy:
            for row in chunks:
                copy.write_row([json.dumps(row[c]) if c == "payload" else row[c]
                                for c in chunk_columns])  # fmt: skip
        if summaries:
            names = ", ".join(summary_columns)
            with cur.copy(f"COPY run_metric_summaries ({names}) FROM STDIN") as copy:
                for row in summaries:
                    copy.write_row([row[c] for c in summary_columns])
        conn.commit()


def load_scale(url: str, runs: int, steps: int, big_points: int) -> tuple[int, list[int], int]:
    """Finished runs whose metrics are stored as the agent stores them (chunks, summaries);
    returns (project, run ids, the big run). Two metrics at every step, val/accuracy every
    1,000 steps; the big run has `big_points` points of train/step_loss."""
    project_id = make_project(url)
    engine = make_engine(url)
    template = {
        "project_id": project_id,
        "config_snapshot": {"model": "vit", "lr": 1e-3},
        "config_hash": "0" * 64,
        "state": RunState.succeeded,
        "progress": {},
    }
    with engine.begin() as conn:
        ids = list(
            conn.execute(
                insert(Run).returning(Run.id),
                [template | {"name": f"run-{i:05d}"} for i in range(runs)],
            ).scalars()
        )
        big = conn.execute(insert(Run).returning(Run.id), [template | {"name": "big"}]).scalar()
    engine.dispose()
    assert big is not None
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    every = np.arange(1, steps + 1, dtype=np.int64)
    evals = every[every % 1000 == 0]
    batch_chunks: list[dict[str, Any]] = []
    batch_summaries: list[dict[str, Any]] = []
    for done, run_id in enumerate(ids, start=1):
        for name, x, values in (
            ("train/step_loss", every, 2 / np.sqrt(every) + 0.05 * rng.random(len(every))),
            ("train/lr", every, 1e-3 * (1 - every / steps)),
            ("val/accuracy", evals, 1 - 1 / np.sqrt(evals)),
        ):
            if len(x):
                chunks, summary = _series(run_id, name, x, values)
                batch_chunks += chunks
                batch_summaries.append(summary)
        if len(batch_chunks) >= 20_000 or done == len(ids):
            _copy_rows(url, batch_chunks, batch_summaries)
            batch_chunks, batch_summaries = [], []
            print(f"  loaded {done}/{len(ids)} runs ({time.perf_counter() - started:.0f} s)",
                  flush=True)  # fmt: skip
    x = np.arange(1, big_points + 1, dtype=np.int64)
    chunks, summary = _series(big, "train/step_loss", x, 2 / np.sqrt(x) + 0.05 * rng.random(len(x)))
    _copy_rows(url, chunks, [summary])
    print(f"  points and summaries written in {time.perf_counter() - started:.0f} s", flush=True)
    engine = make_engine(url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return project_id, ids, big


def _timed(client: httpx.Client, path: str, params: Any, count: int) -> dict[str, float]:
    client.get(path, params=params).raise_for_status()  # warm: caches, first-use imports
    times = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(path, params=params)
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    times.sort()
    p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
    return {"p50_ms": statistics.median(times), "p99_ms": p99, "max_ms": times[-1]}


def phase_scale(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from tests.dashboard.conftest import ADMIN_PASSWORD, ADMIN_TOKEN, AUTH
    from tests.liveserver import API, serving

    from visionyard.settings import load_settings

    with bench_database(args.url, "postgresql") as url:
        project_id, ids, big = load_scale(url, args.runs, args.steps_per_run, args.big_points)
        points = args.runs * (2 * args.steps_per_run + args.steps_per_run // 1000)
        points += args.big_points
        engine = make_engine(url)
        with engine.connect() as conn:
            heap, total = conn.execute(
                text(
                    "SELECT pg_relation_size('run_events'), "
                    "pg_total_relation_size('run_events') "
                    "+ pg_total_relation_size('run_metric_summaries')"
                )
            ).one()
            count = conn.execute(
                text(f"SELECT sum(length(points)) / {POINT.itemsize} FROM run_events")
            ).scalar_one()
        engine.dispose()
        assert count == points, (count, points)
        settings = load_settings(
            data_dir=workdir / "data",
            datasets_dir=workdir / "datasets",
            runs_dir=workdir / "runs",
            models_dir=workdir / "models",
            db_url=url,
            admin_password=ADMIN_PASSWORD,
            admin_token=ADMIN_TOKEN,
        )
        results: dict[str, Any] = {
            "points": points,
            "runs": args.runs + 1,
            "bytes_per_point": total / points,
            "heap_bytes_per_point": heap / points,
            "database_bytes": total,
        }
        print(f"  {points:,} points, {total / 2**30:.2f} GiB: {total / points:.0f} bytes/point")
        with serving(settings, workdir / "serve.log") as base:
            client = httpx.Client(base_url=f"{base}{API}", headers=AUTH, timeout=120)
            n = args.requests
            results["run_list"] = _timed(client, f"/projects/{project_id}/runs", {}, n)
            results["series_1m_downsampled"] = _timed(
                client,
                f"/runs/{big}/metrics/series",
                {"names": "train/step_loss", "max_points": 1000},
                n,
            )
            compare = {"ids": ids[:10], "metrics": ["train/step_loss"], "by": "step"}
            results["compare_10_runs"] = _timed(client, "/runs/compare", compare, n)
            client.close()
        for key in ("run_list", "series_1m_downsampled", "compare_10_runs"):
            r = results[key]
            print(f"  {key:<24} p50 {r['p50_ms']:8.1f} ms  p99 {r['p99_ms']:8.1f} ms")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default=DEFAULT_URL, help="a PostgreSQL server (admin URL)")
    parser.add_argument("--phases", default="ingest,trainer,scale")
    parser.add_argument("--mlflow-python", help="the python of a venv with mlflow installed")
    parser.add_argument("--ingest-points", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--steps-per-run", type=int, default=5000)
    parser.add_argument("--big-points", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=50, help="timed requests per read")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.mlflow_python and not (Path(args.mlflow_python).parent / "mlflow").is_file():
        parser.error(
            f"--mlflow-python {args.mlflow_python}: no mlflow next to it; create a venv with "
            "'python3 -m venv V && V/bin/pip install mlflow psycopg[binary]' and pass V/bin/python"
        )
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    phases = {p.strip() for p in args.phases.split(",")}
    report: dict[str, Any] = {
        "machine": f"{platform.node()} {os.cpu_count()} cores, load {os.getloadavg()}",
        "argv": sys.argv[1:],
    }
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        for name, phase in (("ingest", phase_ingest), ("trainer", phase_trainer)):
            if name in phases:
                print(f"[{name}]", flush=True)
                report[name] = phase(args, workdir)
        if "scale" in phases:
            print("[scale]", flush=True)
            report["scale"] = phase_scale(args, workdir)
    if "ingest" in report:
        m = report["ingest"]["median_points_per_s"]
        for other in ("mlflow", "copy"):
            if other in m:
                print(f"visionyard / {other}: {m['visionyard'] / m[other]:.2f}x")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
