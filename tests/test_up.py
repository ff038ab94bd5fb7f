"""`visionyard up`: one command brings up the dashboard and a local agent (with `--demo` it seeds
the demo through the API and the demo run succeeds: what `make demo` runs, minus staying up), and
keeps them up: a killed agent is logged and started again, and the run it held resumes from its
checkpoint; a dead dashboard stops the platform with its own exit code."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import psutil
import pytest

from tests.agent.platform import copy_digits
from tests.liveserver import free_port
from visionyard.dashboard.webui import DEFAULT_WEB_UI_DIR, is_built
from visionyard.exitcodes import EXIT_DASHBOARD_DIED

T = TypeVar("T")

pytestmark = pytest.mark.slow


def _platform_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VISIONYARD_", "DASHBOARD_"))}
    env.update(VISIONYARD_DATA_DIR=str(data_dir), HF_HUB_OFFLINE="1")
    return env


def _up(data_dir: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "visionyard.cli", "up", "--cpu", *args],
        env=_platform_env(data_dir),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_up_demo_runs_the_demo_on_the_whole_platform(tmp_path: Path) -> None:
    port = free_port()
    done = _up(tmp_path / "vy", "--demo", "--exit-after-demo", "--port", str(port))
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    assert f"Visionyard is up: http://127.0.0.1:{port}/" in out
    password_file = tmp_path / "vy" / "initial-admin-password"
    password = password_file.read_text().strip()
    assert f"password {password}" in out
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert "demo run 1 succeeded" in out and "acc@1" in out
    assert (tmp_path / "vy" / "runs" / "1-demo" / "model" / "model.safetensors").is_file()
    leftovers = [
        p
        for p in psutil.process_iter(["cmdline"])
        if any(str(tmp_path) in part for part in p.info["cmdline"] or [])
    ]
    assert not leftovers  # no agent, trainer or server left behind


def test_restarting_the_demo_reuses_the_earlier_demo_run(tmp_path: Path) -> None:
    """Every `make demo` start used to queue another run named "demo"."""
    first = _up(tmp_path / "vy", "--demo", "--exit-after-demo", "--port", str(free_port()))
    assert first.returncode == 0, (first.stdout + first.stderr)[-4000:]
    port = free_port()
    again = _up(tmp_path / "vy", "--demo", "--exit-after-demo", "--port", str(port))
    out = again.stdout + again.stderr
    # the finished run is reported (with its result), and nothing new is queued
    assert again.returncode == 0, out[-4000:]
    # the run's page where the web UI is built (as under `make test`), else its API resource
    where = "run/?id=1" if is_built(DEFAULT_WEB_UI_DIR) else "api/v1/runs/1"
    assert f"earlier demo run 1 exists (succeeded): http://127.0.0.1:{port}/{where}" in out
    assert "demo run 1 succeeded" in out and "acc@1" in out
    assert "not queuing another" in out and "queued; watch it" not in out
    assert sorted(p.name for p in (tmp_path / "vy" / "runs").iterdir()) == ["1-demo"]
    with sqlite3.connect(tmp_path / "vy" / "visionyard.db") as db:
        assert db.execute("SELECT count(*) FROM runs").fetchone() == (1,)


def test_up_on_a_port_in_use_says_so_before_the_banner(tmp_path: Path) -> None:
    """A taken port used to print the banner, then [Errno 98], and exit 3 ("stopped on request")."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _up(tmp_path / "vy", "--port", str(port), timeout=120)
    out = done.stdout + done.stderr
    assert done.returncode == 2, out[-4000:]
    assert "Visionyard is up" not in out
    assert f"port {port} on 127.0.0.1 is already in use" in out
    assert 'make demo DEMO_ARGS="--port' in out and "--port" in out


# ---- a platform that stays up: its children are watched ----------------------------------------

#: the agents' heartbeat (the default is a third of the 30 s lease): liveness follows within 2 s
HEARTBEAT = "1"


class Up:
    """A `visionyard up --cpu` process that stays up, its output in a file."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir
        self.url = f"http://127.0.0.1:{port}"
        self.log = data_dir.parent / "up.log"
        env = _platform_env(data_dir) | {
            "VISIONYARD_HEARTBEAT_INTERVAL": HEARTBEAT,
            "VISIONYARD_AGENT_IDLE_WAIT": "0.5",
            "OMP_NUM_THREADS": "1",
        }
        with open(self.log, "ab") as out:  # the child keeps its copy
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "visionyard.cli", "up", "--cpu", "--port", str(port)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, what: str, probe: Callable[[], T], timeout: float = 120.0) -> T:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = probe()
            if value:
                return value
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"no {what} after {timeout:.0f} s\n{self.output()[-4000:]}")

    def child(self, role: str) -> psutil.Process | None:
        """The live child whose command is `visionyard.cli <role>` (serve, agent)."""
        for proc in psutil.Process(self.proc.pid).children():
            try:
                cmdline = proc.cmdline()
            except psutil.NoSuchProcess:
                continue
            if role in cmdline and proc.status() != psutil.STATUS_ZOMBIE:
                return proc
        return None

    def api(self) -> httpx.Client:
        password = (self.data_dir / "initial-admin-password").read_text().strip()
        client = httpx.Client(base_url=f"{self.url}/api/v1", timeout=30)
        login = client.post("/auth/login", json={"username": "admin", "password": password})
        login.raise_for_status()
        client.headers["X-CSRF-Token"] = login.cookies["vy_csrf"]
        return client

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(90)


@pytest.fixture
def up_platform(tmp_path: Path) -> Iterator[Up]:
    up = Up(tmp_path / "vy", free_port())
    try:
        up.wait_for("banner", lambda: "Visionyard is up" in up.output(), timeout=90)
        yield up
    finally:
        if up.proc.poll() is None:
            up.proc.send_signal(signal.SIGINT)
            try:
                up.proc.wait(90)
            except subprocess.TimeoutExpired:
                up.proc.kill()
                up.proc.wait()


def test_a_killed_agent_is_restarted_and_its_run_resumes_from_its_checkpoint(
    up_platform: Up, digits_root: Path, tiny_model: Callable[[str], Path]
) -> None:
    """`up` used to start its agents and never look at them again: after a `kill -9` nothing
    was logged, the agent stayed dead and the run it held never trained again."""
    up = up_platform
    copy_digits(digits_root, up.data_dir / "datasets" / "digits")
    shutil.copytree(tiny_model("resnet"), up.data_dir / "models" / "tiny-resnet")
    api = up.api()
    try:
        _train_kill_the_agent_and_resume(up, api)
    finally:
        api.close()
    assert up.stop() == 0


def _train_kill_the_agent_and_resume(up: Up, api: httpx.Client) -> None:
    project = api.post("/projects", json={"name": "p"}).json()
    assert api.post("/datasets", json={"name": "digits", "path": "digits"}).status_code == 201
    data = {
        "root": "digits",
        "model_flavour": str(up.data_dir / "models" / "tiny-resnet"),
        "epochs": 5,  # 125 steps: seconds to act after the step-20 checkpoint, a short rest
        "checkpoint_every_steps": 20,
        "batch_size": 16,
        "lr": 2e-3,
        "num_workers": 0,
        "eval_topk": [1],
        "train_preset": "light",
        "seed": 0,
    }
    config = api.post(f"/projects/{project['id']}/configs", json={"name": "c", "data": data})
    assert config.status_code == 201, config.text
    run = api.post(f"/configs/{config.json()['id']}/runs", json={}).json()  # every default
    run_id = run["id"]
    up.wait_for(
        "checkpoint at step 20",
        lambda: api.get(f"/runs/{run_id}/checkpoints").json()["total"],
    )

    agent = up.child("agent")
    assert agent is not None
    name = agent.cmdline()[-1]
    agent.send_signal(signal.SIGKILL)
    up.wait_for(
        "log line about the dead agent",
        lambda: (
            f"agent {name} (pid {agent.pid}) died: killed by SIGKILL; starting it again in 1 s"
            in up.output()
        ),
        timeout=30,
    )
    again = up.wait_for(
        "new agent",
        lambda: (child := up.child("agent")) is not None and child.pid != agent.pid and child,
        timeout=30,
    )
    assert f"agent {name} started again (pid {again.pid})" in up.output()

    def alive() -> bool:
        agents = api.get("/agents").json()["items"]
        return [(a["name"], a["alive"]) for a in agents] == [(name, True)]

    up.wait_for("the restarted agent to be alive", alive, timeout=60)
    finished = up.wait_for(
        "run to finish",
        lambda: (r := api.get(f"/runs/{run_id}").json())["state"] in ("succeeded", "failed") and r,
        timeout=240,
    )
    assert finished["state"] == "succeeded", finished["error"]
    assert (finished["attempt"], finished["restarts"]) == (2, 1)
    # the second attempt resumed from the checkpoint the first one left
    (folder,) = (up.data_dir / "runs").glob(f"{run_id}-*")
    events = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    resumed = [e for e in events if e["type"] == "state" and e["state"] == "resumed"]
    assert len(resumed) == 1 and resumed[0]["step"] >= 20, resumed


def test_a_dead_dashboard_stops_up_and_its_agents(up_platform: Up) -> None:
    """The dashboard used to run inside `up`, where its death could not be told from up's."""
    up = up_platform
    up.wait_for("agent ready", lambda: "ready (token of admin)" in up.output(), timeout=60)
    dashboard, agent = up.child("serve"), up.child("agent")
    assert dashboard is not None and agent is not None
    dashboard.send_signal(signal.SIGKILL)
    assert up.proc.wait(90) == EXIT_DASHBOARD_DIED, up.output()[-4000:]
    out = up.output()
    assert f"the dashboard (pid {dashboard.pid}) died while running: killed by SIGKILL" in out
    assert not agent.is_running(), "the agent outlived up"
    # stopped, not killed: the agent drained on up's SIGTERM (its run, had it one, re-queued)
    assert "stopped" in out.split("died while running")[1]
