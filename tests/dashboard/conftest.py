"""Dashboard fixtures: a real app on a real database (SQLite file and PostgreSQL), driven
in-process through Starlette's TestClient (real HTTP semantics, real middleware)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from visionyard.dashboard.app import create_app
from visionyard.settings import Settings, load_settings

ADMIN_PASSWORD = "admin-password-for-tests"
ADMIN_TOKEN = "vy_admin-token-for-tests-0123456789"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def log_in(client: TestClient, username: str = "admin", password: str = ADMIN_PASSWORD) -> None:
    """Log `client` in with a session cookie and have it send the session's CSRF token with
    every request, as the web UI does."""
    response = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    client.headers["X-CSRF-Token"] = response.cookies["vy_csrf"]


@pytest.fixture
def tiny_model(tiny_model: Callable[[str], Path], models_dir: Path) -> Callable[[str], Path]:
    """The session's tiny models, copied under this test's models root (the dashboard refuses
    local model folders outside VISIONYARD_MODELS_DIR)."""

    def make(arch: str) -> Path:
        folder = models_dir / f"tiny-{arch}"
        if not folder.exists():
            shutil.copytree(tiny_model(arch), folder)
        return folder

    return make


@pytest.fixture
def settings_factory(tmp_path: Path, models_dir: Path) -> Callable[..., Settings]:
    def make(db_url: str, **overrides) -> Settings:
        values = {
            "data_dir": tmp_path / "data",
            "datasets_dir": tmp_path / "datasets",
            "runs_dir": tmp_path / "runs",
            "models_dir": models_dir,
            "db_url": db_url,
            "admin_password": ADMIN_PASSWORD,
            "admin_token": ADMIN_TOKEN,
            "allowed_hosts": "testserver,127.0.0.1,localhost",
            "events_poll_interval": 0.05,
        } | overrides
        return load_settings(**values)

    return make


@pytest.fixture
def app(db_url: str, settings_factory: Callable[..., Settings]) -> Iterator[FastAPI]:
    """The app on each backend (the `db_url` fixture is parametrized sqlite/postgresql)."""
    application = create_app(settings_factory(db_url))
    yield application
    # The lifespan disposes the engine, but a test that never starts the app (no `with
    # TestClient`) would leave pooled PostgreSQL connections for the garbage collector, which
    # then warns at some random later test.
    application.state.vy.engine.dispose()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """An admin-authenticated client (Bearer token)."""
    with TestClient(app, headers=AUTH) as c:
        yield c


@pytest.fixture
def anon(app: FastAPI) -> Iterator[TestClient]:
    """A client with no credentials."""
    with TestClient(app) as c:
        yield c
