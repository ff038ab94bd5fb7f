"""A real `visionyard serve` process for tests that need real sockets and the real start-up path
(the schemathesis contract run, the browser tests, the terminal client)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.dashboard.conftest import ADMIN_PASSWORD, ADMIN_TOKEN, AUTH
from visionyard.settings import Settings

REPO = Path(__file__).resolve().parents[1]
API = "/api/v1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(settings: Settings) -> dict[str, str]:
    """The environment that makes `visionyard serve` use exactly these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VISIONYARD_", "DASHBOARD_"))}
    env.update(
        VISIONYARD_DATA_DIR=str(settings.data_dir),
        DATASETS_DIR=str(settings.datasets_root),
        VISIONYARD_RUNS_DIR=str(settings.runs_root),
        VISIONYARD_MODELS_DIR=str(settings.models_root),
        DASHBOARD_DB_URL=settings.database_url,
        VISIONYARD_ADMIN_PASSWORD=ADMIN_PASSWORD,
        VISIONYARD_ADMIN_TOKEN=ADMIN_TOKEN,
        HF_HUB_OFFLINE="1",
        PYTHONPATH=os.pathsep.join([str(REPO / "src"), str(REPO), env.get("PYTHONPATH", "")]),
    )
    return env


def admin_api(url: str, timeout: float = 60) -> httpx.Client:
    """A client of the API of the server at `url` (paths without the /api/v1 prefix), as the
    admin: for setting a scene the way an admin would."""
    return httpx.Client(base_url=f"{url}{API}", headers=AUTH, timeout=timeout)


def wait_until_up(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"visionyard serve exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}{API}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    pytest.fail(f"visionyard serve did not answer within {timeout}s:\n{log.read_text()}")


def start_serving(settings: Settings, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`visionyard serve` on a free port with these settings, its output in `log`: the process
    and its base URL, once it answers. The caller stops it (`serving` does)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "visionyard.cli", "serve", "--port", str(port)],
            env=server_env(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_up(url, proc, log)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc, url


@contextmanager
def serving(settings: Settings, log: Path) -> Iterator[str]:
    """`start_serving`, yielding its base URL, and stopping it afterwards."""
    proc, url = start_serving(settings, log)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
