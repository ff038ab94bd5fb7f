"""The terminal client against a real dashboard: `visionyard serve` in its own process on
SQLite and on PostgreSQL (one server per backend for the whole package: each test works in a
project of its own), and the real `visionyard` console script run as a subprocess, with a
config folder of its own per test."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.dashboard.conftest import ADMIN_PASSWORD, ADMIN_TOKEN, AUTH
from tests.dbutil import fresh_pg_database, fresh_sqlite_database, pg_admin_url
from tests.liveserver import REPO, serving
from visionyard.settings import Settings, load_settings

__all__ = ["ADMIN_PASSWORD", "ADMIN_TOKEN"]

API = "/api/v1"


@dataclass(frozen=True)
class Dashboard:
    url: str
    db_url: str
    settings: Settings
    log: Path

    def api(self, method: str, path: str, **kwargs) -> httpx.Response:
        """A direct API call as the admin (to set up, and to check what the CLI did)."""
        return httpx.request(method, f"{self.url}{API}{path}", headers=AUTH, timeout=60, **kwargs)

    def new_project(self) -> dict:
        response = self.api("POST", "/projects", json={"name": f"p-{uuid.uuid4().hex[:8]}"})
        assert response.status_code == 201, response.text
        return response.json()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def dashboard(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    digits_root: Path,
    tiny_model: Callable[[str], Path],
) -> Iterator[Dashboard]:
    """`visionyard serve` on a fresh database of each backend, with the digits dataset under
    its DATASETS_DIR (as `digits/`) and a tiny model under its models root (as `tiny-resnet/`)."""
    base = tmp_path_factory.mktemp(f"dashboard-{request.param}")
    database: AbstractContextManager[str]
    if request.param == "sqlite":
        database = fresh_sqlite_database(base / "db")
    else:
        if pg_admin_url() is None:
            pytest.skip("PostgreSQL not reachable (set VISIONYARD_TEST_PG_URL)")
        database = fresh_pg_database()
    with database as db_url:
        settings = load_settings(
            data_dir=base / "data",
            datasets_dir=base / "datasets",
            runs_dir=base / "runs",
            models_dir=base / "models",
            db_url=db_url,
            admin_password=ADMIN_PASSWORD,
            admin_token=ADMIN_TOKEN,
        )
        shutil.copytree(digits_root, settings.datasets_root / "digits")
        shutil.copytree(tiny_model("resnet"), settings.models_root / "tiny-resnet")
        log = base / "server.log"
        with serving(settings, log) as url:
            yield Dashboard(url=url, db_url=db_url, settings=settings, log=log)


def client_env(config_home: Path, **extra: str) -> dict[str, str]:
    """The environment of a client process: no VISIONYARD_*/DASHBOARD_* of the test's own,
    its config folder under `config_home`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VISIONYARD_", "DASHBOARD_"))}
    env.update(
        XDG_CONFIG_HOME=str(config_home),
        HOME=str(config_home / "home"),
        PYTHONPATH=os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")]),
        COLUMNS="200",
        **extra,
    )
    return env


@dataclass
class Cli:
    """Runs `visionyard ...` as a user would, as a subprocess."""

    env: dict[str, str]
    config_home: Path

    def __call__(
        self, *args: str, input: str | None = None, timeout: float = 120, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "visionyard.cli", *args],
            env={**self.env, **env},
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "visionyard.cli", *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


@pytest.fixture
def cli(dashboard: Dashboard, tmp_path: Path) -> Cli:
    """The CLI pointed at the dashboard with the admin token in the environment."""
    home = tmp_path / "config"
    return Cli(client_env(home, VISIONYARD_URL=dashboard.url, VISIONYARD_TOKEN=ADMIN_TOKEN), home)


@pytest.fixture
def bare_cli(tmp_path: Path) -> Cli:
    """The CLI with neither a URL nor a token in the environment and no stored credentials."""
    home = tmp_path / "config"
    return Cli(client_env(home), home)
