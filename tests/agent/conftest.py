"""Agent test fixtures: a whole platform (database, storage, token) per backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.platform import Platform, make_platform
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
