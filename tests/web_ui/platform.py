"""A whole platform for the web UI's acceptance tests: a real dashboard (`visionyard serve`,
serving the real build) and real CPU agents (`visionyard agent`), as subprocesses on one SQLite
database, with the real digits dataset and a tiny local model in their storage folders.

Settings are the fast ones of the agent tests (a one-second heartbeat, a six-second lease, the
event feed polled every 0.1 s), so that what a user watches happens within seconds.

The dashboard can be stopped and started again on the SAME port and data while agents train
(`restart_dashboard`, or `dashboard_down()` to look at the browser while it is gone): the agents
write to the database, not to the dashboard, so a run goes on training meanwhile, and the page
that watched it is expected to catch up without losing or repeating anything.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy.orm import Session

from tests.agent.platform import copy_digits
from tests.dashboard.conftest import ADMIN_PASSWORD, ADMIN_TOKEN
from tests.liveserver import API, REPO, admin_api, free_port
from tests.web_ui.conftest import require_build
from visionyard.db.engine import make_engine
from visionyard.runqueue.metric_chunks import read_points
from visionyard.training.demo import write_tiny_model

T = TypeVar("T")

#: the dataset folder under DATASETS_DIR, and the model folder under VISIONYARD_MODELS_DIR
DATASET_FOLDER = "digits"
MODEL_FOLDER = "tiny-resnet"
#: the fast settings: what a user watches happens within a second or two
FAST_ENV = {
    "VISIONYARD_EVENTS_POLL_INTERVAL": "0.1",
    "VISIONYARD_HEARTBEAT_INTERVAL": "1",
    "VISIONYARD_LEASE_SECONDS": "6",
    "VISIONYARD_REAPER_INTERVAL": "0.5",
    "VISIONYARD_AGENT_IDLE_WAIT": "0.5",
    "VISIONYARD_AGENT_SAMPLE_INTERVAL": "1",
    "VISIONYARD_AGENT_STOP_GRACE_SECONDS": "10",
    # two cores are shared by the dashboard, the agent, its trainer and Chromium
    "OMP_NUM_THREADS": "1",
}


@dataclass
class UiPlatform:
    base: Path
    db_url: str
    web_ui_dir: Path
    port: int = field(default_factory=free_port)
    dashboard: subprocess.Popen | None = None
    agents: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def datasets(self) -> Path:
        return self.base / "datasets"

    @property
    def models(self) -> Path:
        return self.base / "models"

    @property
    def model_path(self) -> str:
        return str(self.models / MODEL_FOLDER)

    def env(self) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("VISIONYARD_", "DASHBOARD_"))
        }
        env.update(
            DASHBOARD_DB_URL=self.db_url,
            VISIONYARD_DATA_DIR=str(self.base / "data"),
            DATASETS_DIR=str(self.datasets),
            VISIONYARD_MODELS_DIR=str(self.models),
            VISIONYARD_RUNS_DIR=str(self.base / "runs"),
            VISIONYARD_WEB_UI_DIR=str(self.web_ui_dir),
            VISIONYARD_ADMIN_PASSWORD=ADMIN_PASSWORD,
            VISIONYARD_ADMIN_TOKEN=ADMIN_TOKEN,
            # an admin's token serves an agent too (the agents' own kind is for real fleets)
            VISIONYARD_AGENT_TOKEN=ADMIN_TOKEN,
            HF_HUB_OFFLINE="1",
            PYTHONPATH=os.pathsep.join([str(REPO / "src"), str(REPO), env.get("PYTHONPATH", "")]),
            **FAST_ENV,
        )
        return env

    # ---- the dashboard ------------------------------------------------------------------------

    def start_dashboard(self) -> None:
        """`visionyard serve` on this platform's port; returns once it answers."""
        assert self.dashboard is None or self.dashboard.poll() is not None, "already running"
        with open(self.base / "dashboard.log", "ab") as log:  # the child keeps its copy
            self.dashboard = subprocess.Popen(
                [sys.executable, "-m", "visionyard.cli", "serve", "--port", str(self.port)],
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.wait_for("the dashboard to answer", self._healthy, timeout=90)

    def _healthy(self) -> bool:
        assert self.dashboard is not None
        if self.dashboard.poll() is not None:
            raise AssertionError(
                f"visionyard serve exited with {self.dashboard.returncode}:\n{self.logs()}"
            )
        try:
            return httpx.get(f"{self.url}{API}/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def stop_dashboard(self) -> None:
        proc = self.dashboard
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    @contextmanager
    def dashboard_down(self) -> Iterator[None]:
        """The dashboard stopped for the body of the `with` (agents keep training), then started
        again on the same port and data."""
        self.stop_dashboard()
        try:
            yield
        finally:
            self.start_dashboard()

    def restart_dashboard(self, down_for: float = 2.0) -> None:
        with self.dashboard_down():
            time.sleep(down_for)

    # ---- agents -------------------------------------------------------------------------------

    def start_agent(self, name: str) -> subprocess.Popen:
        proc = start_cpu_agent(name, self.env(), self.base / f"agent-{name}.log")
        self.agents[name] = proc
        return proc

    def wait_agent_online(self, name: str, timeout: float = 90) -> dict[str, Any]:
        def online() -> dict[str, Any] | None:
            for agent in self.api("GET", "/agents").json()["items"]:
                if agent["name"] == name and agent["alive"]:
                    return agent
            return None

        return self.wait_for(f"agent {name} to be online", online, timeout)

    def stop_agents(self) -> None:
        stop_agents(self.agents.values())

    # ---- the API, as the admin ----------------------------------------------------------------

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        with admin_api(self.url, timeout=30) as client:
            return client.request(method, path, **kwargs)

    def run(self, run_id: int) -> dict[str, Any]:
        response = self.api("GET", f"/runs/{run_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def wait_state(self, run_id: int, *states: str, timeout: float = 180) -> dict[str, Any]:
        return self.wait_for(
            f"run {run_id} to reach {states}",
            lambda: (run := self.run(run_id))["state"] in states and run,
            timeout,
        )

    def series(self, run_id: int, name: str) -> list[int]:
        """The steps of one metric series, all of them (no downsampling)."""
        response = self.api(
            "GET",
            f"/runs/{run_id}/metrics/series",
            params={"names": name, "max_points": 10_000},
        )
        assert response.status_code == 200, response.text
        return response.json()["series"][0]["steps"]

    # ---- the database, for when the dashboard is down ------------------------------------------

    def stored_points(self, run_id: int, name: str) -> int:
        """How many points of a metric the agents have stored for the run (in the database:
        this works while the dashboard is down)."""
        engine = make_engine(self.db_url)
        try:
            with Session(engine) as session:
                found = read_points(session, [run_id], [name])
            return len(found[(run_id, name)]) if found else 0
        finally:
            engine.dispose()

    # ---- waiting, with the processes' output on failure ---------------------------------------

    def wait_for(self, what: str, probe: Callable[[], T], timeout: float = 120) -> T:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                value = probe()
            except httpx.TransportError:
                value = None
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{self.logs()}")

    def logs(self, tail: int = 3000) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-tail:]}"
            for path in sorted(self.base.glob("*.log"))
        )


def start_cpu_agent(name: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    """A real `visionyard agent --device cpu` named `name`, in its own process group, its output
    appended to `log`."""
    with log.open("ab") as out:  # the child keeps its copy
        return subprocess.Popen(
            [sys.executable, "-m", "visionyard.cli", "agent", "--device", "cpu", "--name", name],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_agents(agents: Iterable[subprocess.Popen]) -> None:
    """SIGTERM to every agent at once (they finish their runs' stop in parallel), then wait for
    each; one that does not end in 30 s is killed with its process group."""
    agents = list(agents)
    for proc in agents:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in agents:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def make_ui_platform(base: Path, db_url: str, digits_root: Path, **digits: int) -> UiPlatform:
    """The folders and the platform object; nothing started yet. `digits`: copy_digits' slice."""
    web_ui_dir = require_build()
    base.mkdir(parents=True, exist_ok=True)
    copy_digits(digits_root, base / "datasets" / DATASET_FOLDER, **digits)
    write_tiny_model(base / "models" / MODEL_FOLDER, arch="resnet")
    (base / "runs").mkdir()
    return UiPlatform(base=base, db_url=db_url, web_ui_dir=web_ui_dir)


def train_config(p: UiPlatform, **overrides: Any) -> dict[str, Any]:
    """A fast CPU config on the platform's digits and tiny model (about a second an epoch)."""
    return {
        "root": DATASET_FOLDER,
        "model_flavour": p.model_path,
        "epochs": 1,
        "batch_size": 16,
        "lr": 0.002,
        "num_workers": 0,
        "train_preset": "light",
        "log_every_steps": 1,
        "seed": 0,
    } | overrides


@dataclass(frozen=True)
class Showcase:
    """What `seed_showcase` made: every page has something real to show."""

    project_id: int
    dataset_id: int
    config_id: int
    clone_id: int
    run_ids: tuple[int, ...]
    canceled_run_id: int


def seed_showcase(p: UiPlatform) -> Showcase:
    """Through the API, as a user would: a project, the registered digits dataset, a config with
    two versions and a clone of it, a registered model, a second user and a token; two runs the
    agent trains to the end (results, confusion matrix) and a third canceled while queued."""

    def ok(response: httpx.Response) -> dict[str, Any]:
        assert response.status_code in (200, 201), response.text
        return response.json()

    project = ok(p.api("POST", "/projects", json={"name": "handwritten-digits"}))
    dataset = ok(p.api("POST", "/datasets", json={"name": "digits", "path": DATASET_FOLDER}))
    config = ok(
        p.api(
            "POST",
            f"/projects/{project['id']}/configs",
            json={
                "name": "resnet-baseline",
                "data": train_config(p, lr=0.005),
                "message": "first try",
            },
        )
    )
    ok(
        p.api(
            "PUT",
            f"/configs/{config['id']}",
            json={"data": train_config(p, epochs=2), "message": "two epochs, the default lr"},
        )
    )
    clone = ok(p.api("POST", f"/configs/{config['id']}/clone", json={"name": "resnet-fast-lr"}))
    ok(p.api("PUT", f"/configs/{clone['id']}", json={"data": train_config(p, lr=0.01)}))
    ok(
        p.api(
            "POST",
            f"/projects/{project['id']}/models",
            json={"name": "tiny-resnet", "source": MODEL_FOLDER},
        )
    )
    ok(p.api("POST", "/users", json={"username": "ada", "password": "a-long-password"}))
    ok(p.api("POST", "/tokens", json={"name": "ci-agent", "kind": "agent"}))
    runs = tuple(
        ok(p.api("POST", f"/configs/{cid}/runs", json={"gpu_count": 0}))["id"]
        for cid in (config["id"], clone["id"])
    )
    # queued behind the two (one agent trains one run at a time) and canceled before it starts
    canceled = ok(p.api("POST", f"/configs/{clone['id']}/runs", json={"gpu_count": 0}))["id"]
    ok(p.api("POST", f"/runs/{canceled}/cancel"))
    for run_id in runs:
        run = p.wait_state(run_id, "succeeded", "failed", "canceled")
        assert run["state"] == "succeeded", (run, p.logs())
    return Showcase(project["id"], dataset["id"], config["id"], clone["id"], runs, canceled)


@pytest.fixture
def ui_platform(tmp_path: Path, sqlite_url: str, digits_root: Path) -> Iterator[UiPlatform]:
    """A started dashboard and one started CPU agent ("cpu-1") on SQLite; stopped afterwards."""
    platform = make_ui_platform(tmp_path / "platform", sqlite_url, digits_root)
    try:
        platform.start_dashboard()
        platform.start_agent("cpu-1")
        yield platform
    finally:
        platform.stop_agents()
        platform.stop_dashboard()
