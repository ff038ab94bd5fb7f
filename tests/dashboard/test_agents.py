"""Agents API: liveness from heartbeats, current run, filters, drain/undrain (admin only) with
their real effect on claiming."""

from __future__ import annotations

import time

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.dashboard import test_configs
from tests.dashboard.test_configs import (
    API,
    assert_routes_need_auth,
    create,
    make_project,
)
from tests.dashboard.test_runs import user_token
from visionyard import runqueue
from visionyard.dashboard.routers import agents as agents_router

# Fixtures shared with the configs tests (a real dataset under DATASETS_DIR, valid configs).
dataset = test_configs.dataset
make_data = test_configs.make_data


def register(app: FastAPI, name: str, *, age: float = 0.0, gpus: list | None = None) -> int:
    """Register an agent whose last heartbeat was `age` seconds ago."""
    return runqueue.register_agent(
        app.state.vy.engine,
        name=name,
        hostname=f"{name}.local",
        device="cuda:0" if gpus else "cpu",
        gpus=gpus or [],
        version="1.0",
        now=time.time() - age,
    )


def test_list_shows_liveness_gpus_and_current_run(
    client: TestClient, app: FastAPI, make_data
) -> None:
    heartbeat = app.state.vy.settings.heartbeat_seconds  # a third of the lease by default
    gpus = [{"index": 0, "name": "H100", "memory_mb": 81559}]
    busy = register(app, "gpu-box", gpus=gpus)
    register(app, "late", age=1.5 * heartbeat)  # one heartbeat late: still alive
    register(app, "gone", age=2.5 * heartbeat)  # two missed: gone
    project = make_project(client)
    config_id = create(client, project, make_data()).json()["id"]
    run = client.post(f"{API}/configs/{config_id}/runs", json={"name": "r1"}).json()
    claimed = runqueue.claim_next(app.state.vy.engine, agent_id=busy, capacity=1)
    assert claimed is not None and claimed.id == run["id"]

    listed = client.get(f"{API}/agents").json()
    assert listed["total"] == 3
    agents = {a["name"]: a for a in listed["items"]}
    assert [a["name"] for a in listed["items"]] == ["late", "gpu-box", "gone"]  # name, desc
    assert agents["gpu-box"]["alive"] and agents["late"]["alive"] and not agents["gone"]["alive"]
    assert agents["gone"]["seconds_since_heartbeat"] >= 2.5 * heartbeat
    assert agents["gpu-box"]["gpus"] == gpus and agents["gpu-box"]["device"] == "cuda:0"
    assert agents["gpu-box"]["current_run"] == {
        "id": run["id"],
        "name": "r1",
        "state": "running",
        "attempt": 1,
    }
    assert agents["late"]["current_run"] is None
    assert agents["gpu-box"]["last_heartbeat_at"].endswith(("Z", "+00:00"))

    def names(**params) -> list[str]:
        response = client.get(f"{API}/agents", params={"order": "asc"} | params)
        assert response.status_code == 200, response.text
        return [a["name"] for a in response.json()["items"]]

    assert names(alive=True) == ["gpu-box", "late"]
    assert names(alive=False) == ["gone"]
    assert names(q="BOX") == ["gpu-box"]
    assert names(sort="last_heartbeat_at") == ["gone", "late", "gpu-box"]
    assert names(drained=True) == []
    assert client.get(f"{API}/agents", params={"sort": "id"}).status_code == 422

    one = client.get(f"{API}/agents/{busy}").json()
    assert one["name"] == "gpu-box" and one["hostname"] == "gpu-box.local"
    assert client.get(f"{API}/agents/999").status_code == 404
    assert client.get(f"{API}/agents/{2**31}").status_code == 422


def test_drain_stops_claims_and_undrain_restores_them(
    client: TestClient, app: FastAPI, make_data
) -> None:
    agent_id = register(app, "worker")
    project = make_project(client)
    config_id = create(client, project, make_data()).json()["id"]
    run = client.post(f"{API}/configs/{config_id}/runs", json={"gpu_count": 0}).json()

    drained = client.post(f"{API}/agents/{agent_id}/drain")
    assert drained.status_code == 200 and drained.json()["drained"] is True
    assert client.get(f"{API}/agents", params={"drained": True}).json()["total"] == 1
    engine = app.state.vy.engine
    assert runqueue.claim_next(engine, agent_id=agent_id, capacity=0) is None
    assert runqueue.agent_heartbeat(engine, agent_id) is True  # the agent sees the flag

    undrained = client.post(f"{API}/agents/{agent_id}/undrain")
    assert undrained.status_code == 200 and undrained.json()["drained"] is False
    claimed = runqueue.claim_next(engine, agent_id=agent_id, capacity=0)
    assert claimed is not None and claimed.id == run["id"]

    # Non-admins may look but not drain.
    user = {"Authorization": f"Bearer {user_token(app, 'ana')}"}
    assert client.get(f"{API}/agents", headers=user).status_code == 200
    for action in ("drain", "undrain"):
        refused = client.post(f"{API}/agents/{agent_id}/{action}", headers=user)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert client.post(f"{API}/agents/999/drain").status_code == 404
    assert client.post(f"{API}/agents/999/undrain").status_code == 404


def test_agent_routes_need_authentication(anon: TestClient) -> None:
    assert assert_routes_need_auth(anon, agents_router.router) == 4
