"""`visionyard agent` refuses bad input at start with one clear line and exit code 2: no token,
an unknown or revoked token, a bad GPU index, an unreachable database."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from tests.agent.platform import Platform
from visionyard.db.models import ApiToken


def agent(p: Platform, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "visionyard.cli", "agent", *args],
        env=p.env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def refused(done: subprocess.CompletedProcess, *needles: str) -> None:
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    for needle in needles:
        assert needle in done.stderr, done.stderr[-2000:]


@pytest.mark.slow
def test_bad_start_options_are_refused_clearly(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    refused(agent(p, "--device", "cpu", VISIONYARD_AGENT_TOKEN=""), "needs an API token")
    refused(agent(p, "--device", "cpu", "--token", "vy_wrong"), "not known to this database")
    refused(agent(p, "--gpu-index", "x"), "GPU index must be a number")
    refused(agent(p, "--gpu-index", "7"), "GPU index [7] not found")
    refused(agent(p, "--device", "cpu", "--gpu-index", "0"), "not both")
    refused(agent(p, "--device", "tpu"), "--device must be")
    refused(agent(p, "--device", "cpu", "--name", "bad name!"), "invalid agent options", "name")
    refused(
        agent(p, "--device", "cpu", "--db-url", "postgresql+psycopg://nobody@127.0.0.1:1/none"),
        "cannot reach the database",
    )
    with Session(p.engine) as session, session.begin():
        session.execute(update(ApiToken).values(revoked_at=datetime.now(UTC)))
    refused(agent(p, "--device", "cpu"), "revoked or expired")
