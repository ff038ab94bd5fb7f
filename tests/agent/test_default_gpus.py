"""On a CPU-only platform, a run queued through the API with every default is claimed by the CPU
agent and trains: its `gpu_count` defaults to what the platform can serve. It used to default to
1 GPU, which a CPU agent never claims, so such a run waited forever."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.agent.platform import Platform

pytestmark = pytest.mark.slow


def test_a_run_queued_with_defaults_starts_on_a_cpu_agent(
    platform: Platform, api: TestClient
) -> None:
    p = platform
    project = api.post("/api/v1/projects", json={"name": "cpu-only"}).json()
    dataset = api.post("/api/v1/datasets", json={"name": "digits", "path": "digits"})
    assert dataset.status_code == 201, dataset.text
    config = api.post(
        f"/api/v1/projects/{project['id']}/configs",
        json={"name": "tiny", "data": p.config(root="digits", epochs=1)},
    )
    assert config.status_code == 201, config.text
    p.start_agent("cpu-box")
    p.wait_for("the CPU agent to register", lambda: api.get("/api/v1/agents").json()["total"])

    queued = api.post(f"/api/v1/configs/{config.json()['id']}/runs", json={})
    assert queued.status_code == 201, queued.text
    assert queued.json()["gpu_count"] == 0 and queued.json()["waiting_for"] is None

    run = p.wait_state(queued.json()["id"], "succeeded", "failed", timeout=120)
    assert run.state.value == "succeeded", run.error
    assert run.attempt == 1
