"""The web UI at the sizes its peers' users report breaking: many long runs overlaid, and a very
long log. Measured in headless Chromium on the real build against a real `visionyard serve`
(SQLite), like bench/ui_budgets.py, whose platform and probes it reuses.

  compare  20 finished runs of 100,000 steps each (a step loss with one spike per run at a
           different step, and a learning rate), opened on the compare page: time from
           navigation to the step-loss chart drawn with all 20 lines; that every run's spike
           is in the chart's data (min/max downsampling keeps it); then the pointer swept
           across that chart, one move per animation frame, with hover highlighting each
           nearest line: frame intervals (p50, p95, max) and long tasks. Smooth = p95 frame
           at most 1.5 frames (25 ms) and no long task.
  log      a run with a 200,000-line log (a training log's mix, with carriage-return progress
           lines), its log tab opened: time from navigation to the last line shown; then a
           search typed: time to the first highlighted match; then the view scrolled up
           through the loaded lines in 40 px steps, one per frame: frames and long tasks.

    make ui && .venv/bin/python bench/ui_scale.py                 # about 3 minutes
    .venv/bin/python bench/ui_scale.py --parts log --rounds 5

The runs' points are inserted as the agent's rows would be (`event_rows`), in bulk: writing
2 million points through the relay one batch at a time would take most of an hour here.
Prints one table; exits 1 when a smoothness budget is exceeded.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src"), str(REPO / "bench"), str(REPO)]

from sqlalchemy import insert  # noqa: E402
from ui_budgets import (  # noqa: E402
    ADMIN_TOKEN,
    API,
    RECORD,
    SCROLL_P95_BUDGET_MS,
    Platform,
    chromium,
    logged_in_context,
    percentile,
    print_table,
    row,
)

from visionyard import runqueue  # noqa: E402
from visionyard.db.models import RunEvent  # noqa: E402
from visionyard.runqueue.events import event_rows  # noqa: E402
from visionyard.runqueue.metric_chunks import chunk_rows  # noqa: E402

LOSS = "train/step_loss"
PARTS = ("compare", "log")
ROWS_PER_INSERT = 20_000


def spike_step(index: int, steps: int) -> int:
    return steps // 7 + index * (steps // 29)


def spike_value(index: int) -> float:
    return 50.0 + index


def bulk_insert(p: Platform, rows: list[dict[str, Any]]) -> None:
    """`event_rows` output stored as the agent stores it: events a row each, metric points in
    chunks (without the agent's per-batch merging: these runs arrive in one go)."""
    assert p.engine is not None
    points = [r for r in rows if r["kind"] == "metric"]
    stored = [r for r in rows if r["kind"] != "metric"]
    if points:
        stored += chunk_rows(points[0]["run_id"], points)
    with p.engine.begin() as conn:
        for start in range(0, len(stored), ROWS_PER_INSERT):
            conn.execute(insert(RunEvent), stored[start : start + ROWS_PER_INSERT])


def finished_run(p: Platform, project_id: int, name: str) -> tuple[int, int]:
    """A run claimed by a bench agent (so it has an attempt) and then marked succeeded:
    (run id, attempt)."""
    assert p.engine is not None
    run_id = runqueue.enqueue(
        p.engine,
        project_id=project_id,
        name=name,
        config_snapshot={"root": "digits", "model_flavour": "tiny-vit", "lr": 1e-3},
        config_hash=uuid.uuid4().hex,
    )
    agent_id = runqueue.register_agent(
        p.engine, name=f"a-{name}", hostname="bench", device="cpu", gpus=[], version="bench"
    )
    claimed = runqueue.claim_next(p.engine, agent_id=agent_id, capacity=0)
    assert claimed is not None and claimed.id == run_id
    runqueue.write_events(
        p.engine,
        run_id,
        claimed.attempt,
        [
            {
                "type": "metrics",
                "split": "val",
                "step": 100 * e,
                "epoch": e,
                "values": {"acc@1": 0.5 + 0.04 * e, "loss": 1.0 / e},
            }
            for e in range(1, 11)
        ],  # fmt: skip
        agent_id=agent_id,
    )
    runqueue.finish_run(p.engine, run_id, claimed.attempt, agent_id, "succeeded")
    return run_id, claimed.attempt


def seed_compare(p: Platform, project_id: int, runs: int, steps: int) -> list[int]:
    ids = []
    now = time.time()
    for index in range(runs):
        run_id, attempt = finished_run(p, project_id, f"long-{index:02d}")
        events = []
        for step in range(1, steps + 1):
            progress = step / steps
            loss = (2.3 - 0.02 * index) * math.exp(-3 * progress) + 0.03 * math.sin(step * 0.37)
            if step == spike_step(index, steps):
                loss = spike_value(index)
            lr = 1e-3 * 0.5 * (1 + math.cos(math.pi * progress))
            events.append(
                {"type": "train_step", "step": step, "epoch": step * 10 // steps + 1,
                 "loss": loss, "lr": lr, "time": now - (steps - step) * 0.01}
            )  # fmt: skip
        bulk_insert(p, event_rows(run_id, attempt, events, now=now))
        ids.append(run_id)
    return ids


def log_message(i: int) -> str:
    if i % 997 == 0:
        return f"WARNING: slow batch {i}: data loader waited 1.{i % 10} s"
    if i % 50 < 40:  # a progress bar redrawn in place
        bar = "#" * (i % 50 // 4)
        return f"\rEpoch {i // 5000 + 1}: {i % 50 * 2.5:5.1f}%|{bar:<10}| {i}/200000"
    return f"step {i}: loss={2.3 * math.exp(-i / 60000):.4f} lr=0.0010 throughput=512 img/s"


def seed_log(p: Platform, project_id: int, lines: int) -> int:
    run_id, attempt = finished_run(p, project_id, "long-log")
    now = time.time()
    events = [
        {"type": "log", "seq": i + 1, "level": "warning" if i % 997 == 0 else "info",
         "message": log_message(i), "time": now - (lines - i) * 0.001}
        for i in range(lines)
    ]  # fmt: skip
    bulk_insert(p, event_rows(run_id, attempt, events, now=now))
    return run_id


def sweep_frames(page: Any, steps: int, move: str) -> dict[str, Any]:
    """Run `move` (JS taking the step index) once per animation frame, recording frames."""
    page.evaluate(RECORD)
    page.evaluate(
        """([steps, move]) => new Promise((done) => {
            const step = new Function('i', move);
            let i = 0;
            const tick = () => {
                step(i);
                i += 1;
                if (i < steps) requestAnimationFrame(tick); else done();
            };
            requestAnimationFrame(tick);
        })""",
        [steps, move],
    )
    page.wait_for_timeout(200)
    page.evaluate("window.__vy.stop()")
    return {
        "frames": page.evaluate("window.__vy.frames"),
        "long_tasks": page.evaluate("window.__vy.longTasks"),
    }


def smoothness_row(label: str, sweeps: list[dict[str, Any]]) -> tuple[str, str, str, str]:
    """One row for every sweep's frames together: p50 / p95 / max frame and long tasks."""
    frames = [f for s in sweeps for f in s["frames"]]
    long_tasks = [t for s in sweeps for t in s["long_tasks"]]
    p95 = percentile(frames, 0.95)
    return row(
        f"{label}: p50 / p95 / max frame; long tasks",
        f"{percentile(frames, 0.5):.1f} / {p95:.1f} / {max(frames or [0]):.1f} ms; "
        f"{len(long_tasks)}",
        f"p95 {SCROLL_P95_BUDGET_MS:.0f} ms, 0",
        p95 <= SCROLL_P95_BUDGET_MS and not long_tasks,
    )


def measure_compare(context: Any, p: Platform, ids: list[int], steps: int, rounds: int) -> list:
    url = f"{p.url}/compare/?runs={','.join(map(str, ids))}&metrics={LOSS}&x=step"
    figure = f'[role="figure"][aria-label="{LOSS}: line chart of {len(ids)} series"]'
    opened, sweeps = [], []
    for _ in range(rounds):
        page = context.new_page()
        try:
            started = time.perf_counter()
            page.goto(url)
            page.wait_for_selector(figure, timeout=120_000)
            page.wait_for_function(
                "(sel) => Number(document.querySelector(sel)?.dataset.points) > 0", arg=figure
            )
            opened.append((time.perf_counter() - started) * 1000)
            points = int(page.get_attribute(figure, "data-points") or 0)
            box = page.locator(f"{figure} .u-over").bounding_box()
            assert box is not None
            # Left to right across the plot, zig-zagging in height, so the focus changes lines.
            move = (
                f"const x = {box['x']} + {box['width']} * ((i % 120) / 120);"
                f"const y = {box['y']} + {box['height']} * (0.1 + 0.8 * ((i * 7) % 40) / 40);"
                "const over = document.querySelector('" + figure + " .u-over');"
                "over.dispatchEvent(new MouseEvent('mousemove',"
                " {clientX: x, clientY: y, bubbles: true}));"
            )
            sweeps.append(sweep_frames(page, 240, move))
        finally:
            page.close()
    return [
        row(
            f"compare {len(ids)} runs x {steps:,} steps: navigation -> step-loss chart drawn "
            f"(median of {rounds})",
            f"{statistics.median(opened):,.0f} ms  ({points:,} points drawn)",
            "-",
            None,
        ),
        smoothness_row("compare: pointer swept over the chart", sweeps),
    ]


def spikes_kept(p: Platform, ids: list[int], steps: int) -> list:
    """Every run's spike survives the downsampling the compare chart asks for."""
    kept = 0
    for index, run_id in enumerate(ids):
        request = urllib.request.Request(
            f"{p.url}{API}/runs/{run_id}/metrics/series?names={LOSS}&max_points=2000",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            series = json.load(response)["series"][0]
        kept += spike_value(index) in series["values"]
    return [row("compare: runs whose spike is in their drawn line", f"{kept} / {len(ids)}",
                f"{len(ids)}", kept == len(ids))]  # fmt: skip


def measure_log(context: Any, p: Platform, run_id: int, lines: int, rounds: int) -> list:
    last = log_message(lines - 1).strip()
    opened, searched, scrolls = [], [], []
    for _ in range(rounds):
        page = context.new_page()
        try:
            started = time.perf_counter()
            page.goto(f"{p.url}/run/?id={run_id}&tab=logs")
            page.get_by_role("log", name="Run log").get_by_text(last, exact=False).wait_for(
                timeout=120_000
            )
            opened.append((time.perf_counter() - started) * 1000)
            search = page.get_by_label("Search the log")
            started = time.perf_counter()
            search.fill("WARNING")
            page.get_by_text("in the lines loaded").wait_for(timeout=60_000)  # matches counted
            search.press("Enter")  # to the first match
            page.locator("[role=log] mark").first.wait_for(timeout=60_000)
            searched.append((time.perf_counter() - started) * 1000)
            search.fill("")
            move = (
                "const log = document.querySelector('[role=log]');"
                "log.scrollTop = Math.max(0, log.scrollHeight - log.clientHeight - 40 * (i + 1));"
            )
            scrolls.append(sweep_frames(page, 300, move))
        finally:
            page.close()
    return [
        row(
            f"log of {lines:,} lines: navigation -> last line shown (median of {rounds})",
            f"{statistics.median(opened):,.0f} ms",
            "-",
            None,
        ),
        row(
            "log: search typed -> first match highlighted",
            f"{statistics.median(searched):,.0f} ms",
            "-",
            None,
        ),  # fmt: skip
        smoothness_row("log: scrolled up 12,000 px", scrolls),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=REPO / "web_ui" / "out", help="the build")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--parts", default=",".join(PARTS))
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    if not parts <= set(PARTS):
        sys.exit(f"--parts: unknown {', '.join(sorted(parts - set(PARTS)))}")
    if not (args.out / "index.html").is_file():
        sys.exit(f"no build in {args.out}: run `make ui`")
    rows = [("measure", "value", "budget", "")]
    p = Platform(Path(tempfile.mkdtemp(prefix="vy-ui-scale-")), args.out.resolve())
    p.start()
    try:
        started = time.perf_counter()
        project = p.api("POST", "/projects", {"name": "scale"})["id"]
        ids = seed_compare(p, project, args.runs, args.steps) if "compare" in parts else []
        log_run = seed_log(p, project, args.lines) if "log" in parts else 0
        print(f"seeded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        with chromium() as browser:
            context = logged_in_context(browser, p)
            if ids:
                rows += measure_compare(context, p, ids, args.steps, args.rounds)
                rows += spikes_kept(p, ids, args.steps)
            if log_run:
                rows += measure_log(context, p, log_run, args.lines, args.rounds)
            context.close()
    finally:
        p.stop()
    print_table(rows)
    return 0 if all(r[3] != "OVER" for r in rows[1:]) else 1


if __name__ == "__main__":
    sys.exit(main())
