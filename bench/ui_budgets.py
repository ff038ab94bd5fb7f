"""The web UI's performance budgets, measured on the real build against a real dashboard:

  js          JS per page, gzipped, from the build (web_ui/out): for each route's index.html, the
              sum of the gzip sizes (zlib level 6, what a web server sends) of the <script src>
              chunks it loads (nomodule polyfills excluded: a current browser skips them). Chunks
              a page imports later (a dynamic import) are not in its HTML and not counted here;
              `loaded` counts every script the browser actually fetched for the page, for those.
              Budget: 300 KB per page.
  first chart the run page of a run holding a 100,000-point loss series (seeded through the run
              queue, as an agent writes it): from navigation start to the first uPlot canvas
              drawn with a non-zero size (a probe polls for it every animation frame; where the
              run page sets a performance mark "vy:chart-drawn" that is used instead). Side by
              side, the same page for a run of 1,000 points: the ratio says what the series
              length costs. Budget: 1 s.
  live append the same run page while the run is live: a batch of 25 training steps (50 metric
              points, one agent relay batch) is written to the database; the page gets it over
              the WebSocket and appends it. Measured: the main thread's busy time (Chrome's
              Performance.getMetrics TaskDuration) over the 400 ms after the batch arrived, minus
              the same window with nothing arriving (measured alternately, so a busy moment of a
              shared machine hits both; the frame recorder runs in both, so its own cost
              cancels), and the longest frame in the window. Budget: one frame (16.7 ms) of
              main-thread work per batch.
  table       a project with 1,000 runs: the runs table filtered by typing into its search box
              (time from the last keystroke to the filtered rows shown) and scrolled from top to
              bottom and back in 40 px steps, one per animation frame. Measured during the scroll:
              frame intervals (p50, p95, max), long tasks (over 50 ms) from PerformanceObserver.
              Budget: no long task, p95 frame at most 1.5 frames (25 ms).

    python bench/ui_budgets.py                  # the build in web_ui/out, about 2 minutes
    python bench/ui_budgets.py --rounds 9 --json /tmp/ui.json

Needs the build (`make ui`), Playwright and a Chromium (`apt-get install chromium`, or
VISIONYARD_CHROMIUM). Everything is written to a temporary folder (--workdir keeps it). Prints one
table; exits 1 when a budget is exceeded.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src"), str(REPO)]

from sqlalchemy import Engine  # noqa: E402
from tests.browser import browser_env, find_chromium  # noqa: E402

from visionyard import runqueue  # noqa: E402
from visionyard.db.engine import make_engine  # noqa: E402

API = "/api/v1"
ADMIN_PASSWORD = "ui-budgets-password"
ADMIN_TOKEN = "vy_ui-budgets-admin-token-0123456789"
FRAME_MS = 1000 / 60
JS_BUDGET_KB = 300
FIRST_CHART_BUDGET_MS = 1000
APPEND_BUDGET_MS = FRAME_MS
SCROLL_P95_BUDGET_MS = 1.5 * FRAME_MS
BATCH_STEPS = 25  # steps per live batch: about what an agent relays each second on a GPU
LOSS = "train/step_loss"


# ---- (a) JS per page, from the build -----------------------------------------------------------


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script" and named.get("src") and "nomodule" not in named:
            self.sources.append(str(named["src"]))


def gzip_size(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=6, mtime=0))


def js_per_page(out: Path) -> list[tuple[str, int, int]]:
    """(route, gzipped bytes of the scripts its HTML loads, how many) for every exported page."""
    pages = []
    for html in sorted(out.rglob("index.html")):
        route = "/" + str(html.parent.relative_to(out)).replace(".", "").strip("/")
        parser = _Scripts()
        parser.feed(html.read_text(encoding="utf-8"))
        files = [out / src.split("?")[0].lstrip("/") for src in dict.fromkeys(parser.sources)]
        pages.append(
            (
                route.rstrip("/") + "/" if route != "/" else "/",
                sum(map(gzip_size, files)),
                len(files),
            )
        )
    return pages


# ---- the platform: a real dashboard on a seeded SQLite database --------------------------------


@dataclass
class Platform:
    workdir: Path
    web_ui: Path
    port: int = 0
    proc: subprocess.Popen | None = None
    engine: Engine | None = None
    log: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.workdir / 'data' / 'visionyard.db'}"

    def env(self) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("VISIONYARD_", "DASHBOARD_"))
        }
        env.update(
            VISIONYARD_DATA_DIR=str(self.workdir / "data"),
            VISIONYARD_WEB_UI_DIR=str(self.web_ui),
            VISIONYARD_ADMIN_PASSWORD=ADMIN_PASSWORD,
            VISIONYARD_ADMIN_TOKEN=ADMIN_TOKEN,
            # the seeded live run is held by no real agent: its lease must outlast the bench
            VISIONYARD_LEASE_SECONDS="3600",
            VISIONYARD_EVENTS_POLL_INTERVAL="0.1",
            HF_HUB_OFFLINE="1",
            PYTHONPATH=os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")]),
        )
        return env

    def start(self) -> None:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        log = open(self.workdir / "serve.log", "ab")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "visionyard.cli", "serve", "--port", str(self.port)]
            + ["--log-level", "warning"],
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"visionyard serve exited: {(self.workdir / 'serve.log').read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}{API}/health", timeout=2):
                    break
            except (urllib.error.URLError, OSError):
                time.sleep(0.25)
        self.engine = make_engine(self.db_url)

    def stop(self) -> None:
        if self.engine is not None:
            self.engine.dispose()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            f"{self.url}{API}{path}",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"null")


@dataclass
class LiveRun:
    """A running run held by the bench acting as its agent: events are written as an agent's."""

    id: int
    attempt: int
    agent_id: int
    next_step: int
    next_seq: int = 1


def train_steps(first: int, count: int, total: int) -> list[dict[str, Any]]:
    """`count` train_step events from step `first`: a noisy, decreasing loss and a cosine lr."""
    events = []
    for step in range(first, first + count):
        progress = step / max(total, 1)
        loss = 2.3 * math.exp(-3 * progress) + 0.05 * math.sin(step * 0.37) + 0.1
        lr = 1e-3 * 0.5 * (1 + math.cos(math.pi * min(progress, 1)))
        events.append(
            {"type": "train_step", "step": step, "epoch": 1, "loss": loss, "lr": lr, "time": 0}
        )
    return events


def seed_live_run(p: Platform, project_id: int, agent_name: str, points: int) -> LiveRun:
    """A running run with `points` training steps stored (each a loss and an lr point)."""
    assert p.engine is not None
    run_id = runqueue.enqueue(
        p.engine,
        project_id=project_id,
        name=f"series-{points}",
        config_snapshot={"root": "digits", "model_flavour": "tiny-resnet", "epochs": 1},
        config_hash=uuid.uuid4().hex,
    )
    agent_id = runqueue.register_agent(
        p.engine, name=agent_name, hostname="bench", device="cpu", gpus=[], version="bench"
    )
    claimed = runqueue.claim_next(p.engine, agent_id=agent_id, capacity=0, lease_seconds=3600)
    assert claimed is not None and claimed.id == run_id, claimed
    now = time.time()
    for first in range(0, points, 5000):
        batch = train_steps(first, min(5000, points - first), points)
        for event in batch:
            event["time"] = now - (points - event["step"]) * 0.01
        runqueue.write_events(p.engine, run_id, claimed.attempt, batch, agent_id=agent_id)
    return LiveRun(run_id, claimed.attempt, agent_id, next_step=points)


def seed_table(p: Platform, project_id: int, runs: int) -> None:
    """`runs` runs in the project: most finished with a validation accuracy, some failed,
    canceled, or still queued, with assorted names and tags."""
    assert p.engine is not None
    agent_id = runqueue.register_agent(
        p.engine, name="bench-table", hostname="bench", device="cpu", gpus=[], version="bench"
    )
    archs = ("resnet", "vit", "convnext")
    for i in range(runs):
        arch = archs[i % 3]
        runqueue.enqueue(
            p.engine,
            project_id=project_id,
            name=f"{arch}-lr{10 ** -(2 + i % 3):g}-{i:04d}",
            config_snapshot={"root": "digits", "model_flavour": arch, "lr": 10 ** -(2 + i % 3)},
            config_hash=uuid.uuid4().hex,
            tags=[arch, f"sweep-{i // 100}"],
        )
    for i in range(runs * 9 // 10):  # claimed oldest first; the newest tenth stays queued
        claimed = runqueue.claim_next(p.engine, agent_id=agent_id, capacity=0)
        assert claimed is not None
        outcome = ("succeeded", "succeeded", "succeeded", "failed", "canceled")[i % 5]
        if outcome == "succeeded":
            acc = 0.5 + 0.45 * ((i * 7919) % 1000) / 1000
            runqueue.write_events(
                p.engine,
                claimed.id,
                claimed.attempt,
                [
                    {
                        "type": "metrics",
                        "split": "val",
                        "step": 10,
                        "epoch": 1,
                        "values": {"acc@1": acc, "loss": 1 - acc},
                    }
                ],
                agent_id=agent_id,
            )
        runqueue.finish_run(
            p.engine,
            claimed.id,
            claimed.attempt,
            agent_id,
            outcome,
            error="seeded failure" if outcome == "failed" else None,
        )


# ---- the browser ---------------------------------------------------------------------------

#: records, from navigation start, when the first chart canvas is drawn; counts live events
PROBES = """
(() => {
  window.__vy = { chartAt: null, liveEvents: 0, frames: [], longTasks: [] };
  const look = () => {
    if (window.__vy.chartAt === null) {
      const canvas = document.querySelector('.uplot canvas');
      if (canvas && canvas.width > 0 && canvas.height > 0) {
        window.__vy.chartAt = performance.now();
        return;
      }
      requestAnimationFrame(look);
    }
  };
  requestAnimationFrame(look);
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (m) => {
        try { if (JSON.parse(m.data).type === 'event') window.__vy.liveEvents += 1; } catch {}
      });
    }
  };
})();
"""

#: starts recording frame intervals and long tasks; window.__vy.stop() ends it
RECORD = """
() => {
  const vy = window.__vy;
  vy.frames = []; vy.longTasks = [];
  let last = null, on = true;
  const tick = (t) => {
    if (last !== null) vy.frames.push(t - last);
    last = t;
    if (on) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) vy.longTasks.push(e.duration);
  });
  observer.observe({ type: 'longtask' });
  vy.stop = () => { on = false; observer.disconnect(); };
}
"""


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


@contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = find_chromium()
    if executable is None:
        sys.exit("no Chromium: apt-get install chromium, or set VISIONYARD_CHROMIUM")
    env = browser_env()
    for folder in env.values():
        Path(folder).mkdir(parents=True, exist_ok=True)
    os.environ.update(env)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, env={**os.environ, **env}
        )
        try:
            yield browser
        finally:
            browser.close()


def logged_in_context(browser: Any, p: Platform) -> Any:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    response = context.request.post(
        f"{p.url}{API}/auth/login", data={"username": "admin", "password": ADMIN_PASSWORD}
    )
    assert response.ok, response.text()
    context.add_init_script(PROBES)
    return context


def first_chart_ms(context: Any, url: str) -> tuple[float, list[str]]:
    """Milliseconds from navigation start to the first chart drawn; and the paths of the
    scripts the page had loaded by then: its own chunks and any dynamic import it needed. The
    routes its links prefetch (their RSC payloads, then their chunks) are kept out: they are
    the next pages' JavaScript, not this one's."""
    page = context.new_page()
    page.route(re.compile(r"[?&]_rsc="), lambda route: route.abort())
    try:
        page.goto(url)
        page.wait_for_function("window.__vy.chartAt !== null", timeout=60_000)
        mark = page.evaluate(
            "(() => { const m = performance.getEntriesByName('vy:chart-drawn');"
            " return m.length ? m[0].startTime : null; })()"
        )
        at = mark if mark is not None else page.evaluate("window.__vy.chartAt")
        scripts = page.evaluate(
            "(at) => performance.getEntriesByType('resource')"
            ".filter((e) => e.initiatorType === 'script' && e.responseEnd <= at)"
            ".map((e) => new URL(e.name).pathname)",
            at,
        )
        return float(at), scripts
    finally:
        page.close()


def series_api_ms(p: Platform, run: LiveRun, rounds: int) -> float:
    """The run page's first request for its charts, timed from here (the server's share)."""
    query = f"/runs/{run.id}/metrics/series?names={LOSS}&names=train/lr&max_points=2000"
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        p.api("GET", query)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main_thread_ms(cdp: Any) -> float:
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return metrics["TaskDuration"] * 1000


def live_append(context: Any, p: Platform, live: LiveRun, rounds: int) -> dict[str, list[float]]:
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Performance.enable")
    out: dict[str, list[float]] = {"append": [], "idle": [], "frame": []}
    try:
        page.goto(f"{p.url}/run/?id={live.id}")
        page.wait_for_function("window.__vy.chartAt !== null", timeout=60_000)
        page.wait_for_timeout(1500)  # the page's own start-up work settles
        window = 0.4
        for _ in range(rounds):
            # idle: the same window, nothing arriving. The frame recorder runs in both windows:
            # its animation frames cost the main thread about a millisecond each here, which
            # is the probe's cost, not the page's.
            page.evaluate(RECORD)
            page.wait_for_timeout(50)
            before = main_thread_ms(cdp)
            page.wait_for_timeout(window * 1000)
            out["idle"].append(main_thread_ms(cdp) - before)
            page.evaluate("window.__vy.stop()")
            # append: one relay batch, timed from the browser receiving it
            seen = page.evaluate("window.__vy.liveEvents")
            page.evaluate(RECORD)
            runqueue.write_events(
                p.engine,
                live.id,
                live.attempt,
                train_steps(live.next_step, BATCH_STEPS, live.next_step + 1000),
                agent_id=live.agent_id,
            )
            live.next_step += BATCH_STEPS
            page.wait_for_function(f"window.__vy.liveEvents > {seen}", timeout=10_000)
            before = main_thread_ms(cdp)
            page.wait_for_timeout(window * 1000)
            out["append"].append(main_thread_ms(cdp) - before)
            page.evaluate("window.__vy.stop()")
            out["frame"].append(max(page.evaluate("window.__vy.frames") or [0]))
        return out
    finally:
        page.close()


SCROLL = """
async () => {
  const rows = document.querySelectorAll('tbody tr, [role="row"]');
  let box = rows.length ? rows[rows.length - 1].parentElement : null;
  while (box && !(box.scrollHeight > box.clientHeight + 10 &&
                  /(auto|scroll)/.test(getComputedStyle(box).overflowY))) box = box.parentElement;
  box = box || document.scrollingElement;
  const frame = () => new Promise((r) => requestAnimationFrame(r));
  const height = box.scrollHeight - box.clientHeight;
  for (let y = 0; y <= height; y += 40) { box.scrollTop = y; await frame(); }
  for (let y = height; y >= 0; y -= 40) { box.scrollTop = y; await frame(); }
  return { height, steps: Math.ceil(height / 40) * 2 };
}
"""


ROWS_WITH = (
    "(text) => [...document.querySelectorAll('[role=\"row\"], tbody tr')]"
    ".filter((r) => r.textContent.includes(text)).length"
)


def table(context: Any, p: Platform, project_id: int) -> dict[str, Any]:
    """The runs table of a project of many runs: search by name, a filter expression, a scroll."""
    page = context.new_page()
    try:
        page.goto(f"{p.url}/project/?id={project_id}")
        shown = f"({ROWS_WITH})('resnet-') > 5"  # the unfiltered table, newest runs first
        page.wait_for_function(shown, timeout=60_000)
        page.wait_for_timeout(1000)

        search = page.get_by_label("Search runs")
        started = time.perf_counter()
        search.fill("convnext-lr0.0001-09")
        page.wait_for_function(
            f"({ROWS_WITH})('convnext-lr0.0001-09') > 0 && ({ROWS_WITH})('resnet-') === 0",
            timeout=20_000,
        )
        search_ms = (time.perf_counter() - started) * 1000
        search.fill("")
        page.wait_for_function(shown, timeout=20_000)

        expression = page.get_by_label("Filter runs")
        expression.fill("val/acc@1 >= 0.9")
        started = time.perf_counter()
        expression.press("Enter")
        page.wait_for_function(  # only succeeded runs have an accuracy
            '!document.querySelector(\'[data-state="queued"], [data-state="failed"]\')'
            " && !!document.querySelector('[data-state=\"succeeded\"]')",
            timeout=20_000,
        )
        filter_ms = (time.perf_counter() - started) * 1000
        page.get_by_label("Clear the filter").click()
        page.wait_for_function(  # the newest runs, queued, are back on top
            "!!document.querySelector('[data-state=\"queued\"]')", timeout=20_000
        )
        page.wait_for_timeout(500)

        page.evaluate(RECORD)
        scrolled = page.evaluate(SCROLL)
        page.evaluate("window.__vy.stop()")
        return {
            "search_ms": search_ms,
            "filter_ms": filter_ms,
            "scroll_px": scrolled["height"],
            "frames": page.evaluate("window.__vy.frames"),
            "long_tasks": page.evaluate("window.__vy.longTasks"),
        }
    finally:
        page.close()


def plain_table(context: Any, p: Platform, project_id: int) -> dict[str, Any]:
    """The yardstick: the same runs as a plain static HTML table (no script, every row in the
    page) in a box of the same height, scrolled the same way in the same browser."""
    runs = []
    offset = 0
    while True:
        page_of = p.api("GET", f"/projects/{project_id}/runs?limit=200&offset={offset}")
        runs += page_of["items"]
        offset += 200
        if offset >= page_of["total"]:
            break
    cells = "".join(
        f"<tr><td>{r['id']}</td><td>{r['name']}</td><td>{r['state']}</td>"
        f"<td>{', '.join(r.get('tags') or [])}</td><td>{r.get('created_at', '')}</td></tr>"
        for r in runs
    )
    page = context.new_page()
    try:
        page.set_content(
            "<style>body{font:14px system-ui;margin:0}"
            ".box{max-height:calc(100vh - 19rem);overflow:auto;margin:2rem}"
            "td{padding:8px 12px;border-bottom:1px solid #ddd;white-space:nowrap}</style>"
            f"<div class=box><table><tbody>{cells}</tbody></table></div>"
        )
        page.add_script_tag(content=PROBES)
        page.evaluate(RECORD)
        scrolled = page.evaluate(SCROLL)
        page.evaluate("window.__vy.stop()")
        return {
            "rows": len(runs),
            "scroll_px": scrolled["height"],
            "frames": page.evaluate("window.__vy.frames"),
            "long_tasks": page.evaluate("window.__vy.longTasks"),
        }
    finally:
        page.close()


# ---- the report ----------------------------------------------------------------------------


def row(name: str, value: str, budget: str, ok: bool | None) -> tuple[str, str, str, str]:
    return (name, value, budget, "-" if ok is None else ("ok" if ok else "OVER"))


def print_table(rows: list[tuple[str, str, str, str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)))


PARTS = ("js", "chart", "append", "table")


def measure_charts(context: Any, p: Platform, big: LiveRun, small: LiveRun, args: Any) -> list:
    rows = []
    first: dict[str, list[float]] = {"big": [], "small": []}
    scripts: list[str] = []
    for _ in range(args.rounds):  # alternated: a busy moment hits both alike
        for key, run in (("small", small), ("big", big)):
            ms, scripts = first_chart_ms(context, f"{p.url}/run/?id={run.id}")
            first[key].append(ms)
    big_ms, small_ms = statistics.median(first["big"]), statistics.median(first["small"])
    loaded = sum(gzip_size(args.out / path.lstrip("/")) for path in dict.fromkeys(scripts))
    rows.append(
        row(
            f"JS /run/ loaded by its first chart ({len(set(scripts))} scripts, gzipped)",
            f"{loaded / 1024:.0f} KB",
            f"{JS_BUDGET_KB} KB",
            loaded <= JS_BUDGET_KB * 1024,
        )
    )
    rows.append(
        row(
            f"first chart, {args.points:,} points (median of {args.rounds})",
            f"{big_ms:.0f} ms",
            f"{FIRST_CHART_BUDGET_MS} ms",
            big_ms <= FIRST_CHART_BUDGET_MS,
        )
    )
    rows.append(
        row(
            "first chart, 1,000 points (same page, alternated)",
            f"{small_ms:.0f} ms  (x{big_ms / small_ms:.2f})",
            "-",
            None,
        )
    )
    big_api, small_api = series_api_ms(p, big, args.rounds), series_api_ms(p, small, args.rounds)
    rows.append(
        row(
            "of which the series request (2 metrics, max_points 2000): 100k / 1k points",
            f"{big_api:.0f} / {small_api:.0f} ms",
            "-",
            None,
        )
    )
    return rows, first


def measure_append(context: Any, p: Platform, big: LiveRun, args: Any) -> list:
    append = live_append(context, p, big, args.rounds * 2)
    costs = [a - i for a, i in zip(append["append"], append["idle"], strict=True)]
    cost = statistics.median(costs)
    rows = [
        row(
            f"live batch of {BATCH_STEPS} steps: main thread (median, idle subtracted)",
            f"{cost:.1f} ms  (max {max(costs):.1f}, idle {statistics.median(append['idle']):.1f})",
            f"{APPEND_BUDGET_MS:.1f} ms",
            cost <= APPEND_BUDGET_MS,
        ),
        row(
            "live batch: longest frame in the window (median)",
            f"{statistics.median(append['frame']):.1f} ms",
            "-",
            None,
        ),
    ]
    return rows, append


def measure_table(context: Any, p: Platform, project_id: int, args: Any) -> list:
    scrolled = table(context, p, project_id)
    plain = plain_table(context, p, project_id)
    scrolled["plain"] = plain
    frames = scrolled["frames"]
    p95 = percentile(frames, 0.95)
    long_tasks = scrolled["long_tasks"]
    rows = [
        row(
            f"{args.runs:,}-run table: name search typed -> rows shown",
            f"{scrolled['search_ms']:.0f} ms",
            "-",
            None,
        ),
        row(
            f"{args.runs:,}-run table: filter val/acc@1 >= 0.9 applied -> rows shown",
            f"{scrolled['filter_ms']:.0f} ms",
            "-",
            None,
        ),
        row(
            f"{args.runs:,}-run table scroll ({scrolled['scroll_px']} px, "
            f"{len(frames)} frames): p50 / p95 / max frame",
            f"{percentile(frames, 0.5):.1f} / {p95:.1f} / {max(frames or [0]):.1f} ms",
            f"p95 {SCROLL_P95_BUDGET_MS:.0f} ms",
            p95 <= SCROLL_P95_BUDGET_MS,
        ),
        row(
            f"yardstick: a plain HTML table of the same {plain['rows']:,} runs "
            f"({plain['scroll_px']} px): p50 / p95 / max frame",
            f"{percentile(plain['frames'], 0.5):.1f} / {percentile(plain['frames'], 0.95):.1f}"
            f" / {max(plain['frames'] or [0]):.1f} ms",
            "-",
            None,
        ),
        row(
            "table scroll: long tasks (> 50 ms), app / plain table",
            f"{len(long_tasks)} ({sum(long_tasks):.0f} ms) / {len(plain['long_tasks'])} "
            f"({sum(plain['long_tasks']):.0f} ms)",
            "0",
            not long_tasks,
        ),
    ]
    return rows, scrolled


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=REPO / "web_ui" / "out", help="the build")
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--parts", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}"
    )
    parser.add_argument("--workdir", type=Path, help="keep the platform's files here")
    parser.add_argument("--json", type=Path, help="write the raw measurements here")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    if not parts <= set(PARTS):
        sys.exit(f"--parts: unknown {', '.join(sorted(parts - set(PARTS)))}")
    if not (args.out / "index.html").is_file():
        sys.exit(f"no build in {args.out}: run `make ui`")

    rows = [("measure", "value", "budget", "")]
    raw: dict[str, Any] = {}
    if "js" in parts:
        raw["js"] = js_per_page(args.out)
        for route, size, count in raw["js"]:
            if route in ("/", "/404/", "/_not-found/"):
                continue
            rows.append(
                row(
                    f"JS {route} ({count} chunks, gzipped)",
                    f"{size / 1024:.0f} KB",
                    f"{JS_BUDGET_KB} KB",
                    size <= JS_BUDGET_KB * 1024,
                )
            )
    if parts & {"chart", "append", "table"}:
        workdir = args.workdir or Path(tempfile.mkdtemp(prefix="vy-ui-budgets-"))
        workdir.mkdir(parents=True, exist_ok=True)
        p = Platform(workdir, args.out.resolve())
        p.start()
        try:
            t = time.perf_counter()
            if parts & {"chart", "append"}:
                series_project = p.api("POST", "/projects", {"name": "series"})["id"]
                big = seed_live_run(p, series_project, "bench-big", args.points)
                small = seed_live_run(p, series_project, "bench-small", 1000)
            if "table" in parts:
                table_project = p.api("POST", "/projects", {"name": f"table-{args.runs}"})["id"]
                seed_table(p, table_project, args.runs)
            print(f"seeded in {time.perf_counter() - t:.0f} s", file=sys.stderr)
            with chromium() as browser:
                context = logged_in_context(browser, p)
                if "chart" in parts:
                    measured, raw["first_chart_ms"] = measure_charts(context, p, big, small, args)
                    rows += measured
                if "append" in parts:
                    measured, raw["append"] = measure_append(context, p, big, args)
                    rows += measured
                if "table" in parts:
                    measured, raw["table"] = measure_table(context, p, table_project, args)
                    rows += measured
                context.close()
        finally:
            p.stop()
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps(raw, indent=1))
    return 0 if all(r[3] != "OVER" for r in rows[1:]) else 1


if __name__ == "__main__":
    sys.exit(main())
