"""Run metric series benchmark: `metric_series` (reads when each point was logged and its
epoch only for the points shown) vs the reference that reads every column of every point
(`metric_series_reading_every_column` in tests/dashboard/series_reference.py, the code
before), in one process, on SQLite and
PostgreSQL.

Seeds one run with --points steps of two metrics ("train/step_loss", "train/lr": 2 x --points
rows, each with an epoch in its payload), then times the run page's first chart request (both
names, max_points=1000, no window) and a zoomed window, --repeat times each, and prints the
median per (database, request, implementation) and the old/new ratio. Also checks that both
return identical series. The PostgreSQL database is created for the run and dropped after.

    PYTHONPATH=src python bench/series_bench.py
    PYTHONPATH=src python bench/series_bench.py --points 100000 --repeat 5 \\
        --pg-url postgresql://postgres@127.0.0.1:5432/postgres     # --pg-url '' skips PG
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The reference lives with the tests, out of the product; the PostgreSQL set-up with the queue
# bench.
sys.path[:0] = [str(REPO / "src"), str(REPO), str(REPO / "bench")]

from queue_bench import bench_database  # noqa: E402
from sqlalchemy import insert  # noqa: E402
from tests.dashboard.series_reference import metric_series_reading_every_column  # noqa: E402

from visionyard.dashboard.services import run_metrics  # noqa: E402
from visionyard.db.engine import make_engine, make_session_factory  # noqa: E402
from visionyard.db.migrate import upgrade  # noqa: E402
from visionyard.db.models import Project, Run, RunEvent, RunState  # noqa: E402

NAMES = ["train/step_loss", "train/lr"]
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url


def seed(url: str, points: int) -> int:
    """One run with `points` steps of each of NAMES (a NaN-free noisy loss with spikes)."""
    engine = make_engine(url)
    with make_session_factory(engine)() as session, session.begin():
        project = Project(name="series-bench")
        session.add(project)
        session.flush()
        run = Run(
            project_id=project.id,
            name="long",
            config_snapshot={},
            config_hash="0" * 64,
            state=RunState.queued,
            progress={},
        )
        session.add(run)
        session.flush()
        run_id = run.id
    rows = [
        {
            "run_id": run_id,
            "attempt": 1,
            "kind": "metric",
            "name": name,
            "step": step,
            "value": (2.0 / math.sqrt(step) + 0.01 * ((step * 7919) % 97) / 97)
            if name == NAMES[0]
            else 0.1 * (1 - step / points),
            "payload": {"epoch": step // 1000},
            "dedupe_key": f"1:m:{step}:{name}",
            "created_at": 1_700_000_000.0 + step * 0.05,
        }
        for name in NAMES
        for step in range(1, points + 1)
    ]
    with engine.begin() as conn:
        for start in range(0, len(rows), 10_000):
            conn.execute(insert(RunEvent), rows[start : start + 10_000])
    engine.dispose()
    return run_id


def median_ms(call: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def bench(label: str, url: str, points: int, repeat: int) -> list[tuple[str, str, float, float]]:
    run_id = seed(url, points)
    engine = make_engine(url)
    sessions = make_session_factory(engine, read_only=True)
    requests = {
        "first chart": {},
        "window 10%": {"step_min": points // 2, "step_max": points // 2 + points // 10},
    }
    results = []
    for request, window in requests.items():

        def new(window: dict[str, int] = window) -> list[run_metrics.Series]:
            with sessions() as session:
                return run_metrics.metric_series(session, run_id, NAMES, 1000, **window)

        def old(window: dict[str, int] = window) -> list[run_metrics.Series]:
            with sessions() as session:
                return metric_series_reading_every_column(session, run_id, NAMES, 1000, **window)

        assert new() == old(), f"{label} {request}: the series differ"
        results.append((label, request, median_ms(old, repeat), median_ms(new, repeat)))
    engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=100_000, help="steps per metric")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="'' skips PostgreSQL")
    args = parser.parse_args()
    results = []
    with sqlite_database() as url:
        results += bench("SQLite", url, args.points, args.repeat)
    if args.pg_url:
        with bench_database(args.pg_url) as url:
            results += bench("PostgreSQL", url, args.points, args.repeat)
    print(f"{args.points} steps x {len(NAMES)} metrics, max_points=1000, median of {args.repeat}")
    print(f"{'database':<11} {'request':<12} {'old ms':>9} {'new ms':>9} {'old/new':>8}")
    for label, request, old_ms, new_ms in results:
        print(f"{label:<11} {request:<12} {old_ms:>9.1f} {new_ms:>9.1f} {old_ms / new_ms:>7.2f}x")


if __name__ == "__main__":
    main()
