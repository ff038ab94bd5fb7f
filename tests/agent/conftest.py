"""Agent test fixtures: a whole platform (database, storage, token) per backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.agent.platform import HEARTBEAT, LEASE_SECONDS, Platform, make_platform
from visionyard.dashboard.app import create_app
from visionyard.settings import load_settings
from visionyard.training.demo import write_tiny_model


@pytest.fixture
def platform(db_url: str, tmp_path: Path, digits_root: Path) -> Iterator[Platform]:
    yield from make_platform(db_url, tmp_path / "p", digits_root, _resnet)


@pytest.fixture
def sqlite_platform(sqlite_url: str, tmp_path: Path, digits_root: Path) -> Iterator[Platform]:
    yield from make_platform(sqlite_url, tmp_path / "p", digits_root, _resnet)


def _resnet(path: Path) -> Path:
    return write_tiny_model(path, arch="resnet")


@pytest.fixture
def pg_platform(pg_url: str, tmp_path: Path, digits_root: Path) -> Iterator[Platform]:
    yield from make_platform(pg_url, tmp_path / "p", digits_root, _resnet)


@pytest.fixture
def api(platform: Platform) -> Iterator[TestClient]:
    """The dashboard app in-process on the platform's database and folders, with its lease, and
    the heartbeat of agents started with `HEARTBEAT_ENV`."""
    p = platform
    settings = load_settings(
        db_url=p.url,
        data_dir=p.data_dir,
        datasets_dir=p.datasets,
        runs_dir=p.runs,
        models_dir=p.models,
        lease_seconds=LEASE_SECONDS,
        heartbeat_interval=HEARTBEAT,
        allowed_hosts="testserver",
    )
    headers = {"Authorization": f"Bearer {p.api_token}"}
    with TestClient(create_app(settings), headers=headers, base_url="http://testserver") as c:
        yield c
