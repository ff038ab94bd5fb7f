"""Revoking an agent's API token stops the agent, not only its next start: it hands its run back
the way a drain does (checkpoint, re-queued without using a restart), kills nothing it should
not, and exits non-zero with a line saying why."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from tests.agent.platform import LEASE_SECONDS, Platform
from tests.agent.test_reliability import LONG, gone, trainer_of, wait_checkpoint
from visionyard.db.models import ApiToken, RunState

pytestmark = pytest.mark.slow


def test_a_revoked_token_stops_the_agent_and_hands_its_run_back(platform: Platform) -> None:
    p = platform
    run_id = p.enqueue(p.config(**LONG))
    agent = p.start_agent("revoked")
    trainer = trainer_of(p, run_id, 1)
    wait_checkpoint(p, run_id, min_step=20)

    with Session(p.engine) as session, session.begin():
        session.execute(update(ApiToken).values(revoked_at=datetime.now(UTC)))
    # It notices within a lease (it re-checks once per lease), then drains: allow for the
    # trainer's stop and checkpoint on a loaded 2-core machine.
    assert agent.wait(timeout=LEASE_SECONDS + 60) == 2
    assert gone(trainer)
    log = p.agent_log("revoked")
    assert "revoked or expired" in log and "handing back the current run and stopping" in log
    assert "Traceback" not in log

    run = p.run(run_id)
    assert run.state == RunState.queued, run.error
    assert run.attempt == 2 and run.restarts == 0  # a hand-back, not a crash
    assert run.agent_id is None
