"""Fixtures for the run-queue tests: the queue on a migrated SQLite file and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .queuedb import QueueDB, open_queue_db


@pytest.fixture
def q(db_url: str) -> Iterator[QueueDB]:
    """The queue on each backend."""
    yield from open_queue_db(db_url)


@pytest.fixture
def pg_q(pg_url: str) -> Iterator[QueueDB]:
    yield from open_queue_db(pg_url)


@pytest.fixture
def sqlite_q(sqlite_url: str) -> Iterator[QueueDB]:
    yield from open_queue_db(sqlite_url)
