"""The dashboard's background reaper re-queues runs whose lease expired (R4, end to end)."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from sqlalchemy import update

from visionyard.dashboard.app import create_app
from visionyard.db.engine import make_engine, make_session_factory
from visionyard.db.models import Project, Run, RunState
from visionyard.runqueue import claim_next, enqueue, register_agent


def test_expired_lease_is_requeued_by_the_running_dashboard(db_url: str, settings_factory) -> None:
    app = create_app(settings_factory(db_url, reaper_interval=0.05))
    sessions = make_session_factory(make_engine(db_url))
    with sessions() as s, s.begin():
        project = Project(name="p")
        s.add(project)
        s.flush()
        project_id = project.id
    run_id = enqueue(
        sessions, project_id=project_id, name="r", config_snapshot={}, config_hash="h" * 64
    )
    agent = register_agent(sessions, name="a1", hostname="h", device="cpu", gpus=[], version="t")
    claimed = claim_next(sessions, agent_id=agent, capacity=0, lease_seconds=3600)
    assert claimed is not None and claimed.id == run_id
    with TestClient(app):
        # Time travel: the lease ran out an hour ago.
        with sessions() as s, s.begin():
            s.execute(update(Run).where(Run.id == run_id).values(lease_expires_at=time.time() - 1))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with sessions() as s:
                run = s.get(Run, run_id)
                if run.state == RunState.queued:
                    break
            time.sleep(0.05)
    assert run.state == RunState.queued and run.attempt == 2 and run.restarts == 1
    # The reason belongs to attempt 1: kept with it, not shown as the retry's error.
    assert run.error is None and "lease expired" in run.earlier_errors[0]["error"]
    sessions.kw["bind"].dispose()
