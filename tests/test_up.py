"""`visionyard up --demo`: one command brings up the dashboard and a local agent, seeds the demo
through the API, and the demo run succeeds (what `make demo` runs, minus staying up)."""

from __future__ import annotations

import os
import socket
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    assert f"earlier demo run 1 exists (succeeded): http://127.0.0.1:{port}/api/v1/runs/1" in out
    assert "demo run 1 succeeded" in out and "acc@1" in out
    assert "not queuing another" in out and "queued; follow it" not in out
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
