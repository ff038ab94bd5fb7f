"""`waiting_for` on a queued run: the API says why nothing claims it, and agrees with the real
claim query (a run it calls claimable is claimed; one it calls blocked is not)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.dashboard import test_configs
from tests.dashboard.test_agents import register
from tests.dashboard.test_configs import API, create, make_project
from visionyard import runqueue

dataset = test_configs.dataset
make_data = test_configs.make_data

GPU = [{"index": 0, "name": "H100", "memory_mb": 81559}]


def _waiting(client: TestClient, run_id: int) -> str | None:
    response = client.get(f"{API}/runs/{run_id}")
    assert response.status_code == 200, response.text
    return response.json()["waiting_for"]


def _queue(client: TestClient, config_id: int, **body) -> dict:
    response = client.post(f"{API}/configs/{config_id}/runs", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_an_untargeted_run_waits_for_an_online_undrained_agent_with_enough_gpus(
    client: TestClient, app: FastAPI, make_data
) -> None:
    engine = app.state.vy.engine
    heartbeat = app.state.vy.settings.heartbeat_seconds
    config_id = create(client, make_project(client), make_data()).json()["id"]
    run = _queue(client, config_id, gpu_count=1)
    assert run["waiting_for"].startswith("no agent is online: start one with `visionyard agent`")

    register(app, "gone", age=2.5 * heartbeat, gpus=GPU)  # registered, but not heartbeating
    assert _waiting(client, run["id"]).startswith("no agent is online")

    cpu = register(app, "cpu")
    message = _waiting(client, run["id"])
    assert message == (
        "it needs 1 GPU but the online agents serve at most 0 GPUs (CPU agents only take runs "
        "with gpu_count=0): cancel it and queue the config again with gpu_count=0, or start an "
        "agent with more GPUs"
    )
    assert runqueue.claim_next(engine, agent_id=cpu, capacity=0) is None

    # The list says the same as the detail, for every run on the page.
    listed = client.get(f"{API}/runs").json()["items"]
    assert [r["waiting_for"] for r in listed] == [message]

    gpu = register(app, "gpu", gpus=GPU)
    assert client.post(f"{API}/agents/{gpu}/drain").status_code == 200
    assert _waiting(client, run["id"]) == message  # a drained agent serves nothing
    assert client.post(f"{API}/agents/{cpu}/drain").status_code == 200
    assert _waiting(client, run["id"]) == (
        "every online agent is drained: un-drain one (POST /api/v1/agents/{id}/undrain) "
        "or start another"
    )
    assert runqueue.claim_next(engine, agent_id=gpu, capacity=1) is None

    assert client.post(f"{API}/agents/{gpu}/undrain").status_code == 200
    assert _waiting(client, run["id"]) is None
    claimed = runqueue.claim_next(engine, agent_id=gpu, capacity=1)
    assert claimed is not None and claimed.id == run["id"]
    assert _waiting(client, run["id"]) is None  # running: nothing to wait for


def test_a_targeted_run_waits_for_its_own_agent(
    client: TestClient, app: FastAPI, make_data
) -> None:
    engine = app.state.vy.engine
    lease = app.state.vy.settings.lease_seconds
    config_id = create(client, make_project(client), make_data()).json()["id"]
    register(app, "other", gpus=GPU)  # online and able, but not the target

    nobody = _queue(client, config_id, target_agent="nobody", gpu_count=0)
    assert nobody["waiting_for"] == (
        "it targets agent 'nobody', which has never registered: start it with "
        "`visionyard agent --name nobody`, or cancel the run and queue it without one"
    )

    asleep = register(app, "asleep", age=10 * lease)
    to_asleep = _queue(client, config_id, target_agent="asleep", gpu_count=0)
    assert to_asleep["waiting_for"].startswith("it targets agent 'asleep', which is offline")
    assert "last heartbeat" in to_asleep["waiting_for"]

    small = register(app, "small")
    too_big = _queue(client, config_id, target_agent="small", gpu_count=2)
    assert too_big["waiting_for"] == (
        "it needs 2 GPUs but its target agent 'small' serves 0 GPUs: cancel it and queue the "
        "config again with gpu_count=0 or without a target agent"
    )
    fits = _queue(client, config_id, target_agent="small", gpu_count=0)
    assert fits["waiting_for"] is None

    assert client.post(f"{API}/agents/{small}/drain").status_code == 200
    assert _waiting(client, fits["id"]) == (
        f"it targets agent 'small', which is drained: un-drain it "
        f"(POST /api/v1/agents/{small}/undrain)"
    )
    assert runqueue.claim_next(engine, agent_id=small, capacity=0) is None
    assert client.post(f"{API}/agents/{small}/undrain").status_code == 200
    claimed = runqueue.claim_next(engine, agent_id=small, capacity=0)
    assert claimed is not None and claimed.id == fits["id"]
    # The targeted runs the API calls blocked are still queued: no agent took them.
    for run in (nobody, to_asleep, too_big):
        assert client.get(f"{API}/runs/{run['id']}").json()["state"] == "queued"
    drained = runqueue.agent_heartbeat(engine, asleep)  # back online ...
    assert drained is False
    assert _waiting(client, to_asleep["id"]) is None  # ... so its run is claimable now
