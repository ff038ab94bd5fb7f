"""Acting as the agent and the user around the CLI under test: queueing runs through the API
and driving them with the real run-queue functions, on the dashboard's own database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

from tests.client.conftest import Dashboard
from visionyard import runqueue
from visionyard.db.engine import make_engine


def tiny_config(dashboard: Dashboard) -> dict:
    return {
        "root": "digits",
        "model_flavour": str(dashboard.settings.models_root / "tiny-resnet"),
        "epochs": 1,
        "batch_size": 8,
    }


def queue_run(dashboard: Dashboard, project_id: int, **body) -> dict:
    """A queued CPU run of a fresh config in `project_id`."""
    config = dashboard.api(
        "POST",
        f"/projects/{project_id}/configs",
        json={"name": f"c-{uuid.uuid4().hex[:8]}", "data": tiny_config(dashboard)},
    )
    assert config.status_code == 201, config.text
    run = dashboard.api(
        "POST", f"/configs/{config.json()['id']}/runs", json={"gpu_count": 0, **body}
    )
    assert run.status_code == 201, run.text
    return run.json()


@contextmanager
def database(dashboard: Dashboard) -> Iterator[Engine]:
    engine = make_engine(dashboard.db_url)
    try:
        yield engine
    finally:
        engine.dispose()


def claim(engine: Engine, run_id: int) -> tuple[int, int]:
    """Claim `run_id` as a fresh agent (it must be queued with the highest priority);
    returns (agent id, attempt)."""
    agent = runqueue.register_agent(
        engine,
        name=f"a-{uuid.uuid4().hex[:8]}",
        hostname="test",
        device="cpu",
        gpus=[],
        version="t",
    )
    claimed = runqueue.claim_next(engine, agent_id=agent, capacity=0)
    assert claimed is not None and claimed.id == run_id, claimed
    return agent, claimed.attempt


def log_events(messages: list[str], first_seq: int) -> list[dict]:
    return [
        {"type": "log", "seq": first_seq + i, "level": "info", "message": m}
        for i, m in enumerate(messages)
    ]
