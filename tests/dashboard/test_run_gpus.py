"""A run queued without `gpu_count` asks for what the platform can serve (the config's device and
the registered agents decide); an explicit count is kept. The default used to be 1 GPU whatever
the platform, so on a CPU-only platform a run queued with defaults never started."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.dashboard import test_configs
from tests.dashboard.test_agents import register
from tests.dashboard.test_configs import API, create, make_project
from visionyard import runqueue
from visionyard.dashboard.services.run_gpus import gpu_count_for

dataset = test_configs.dataset
make_data = test_configs.make_data

GPU = [{"index": 0, "name": "H100", "memory_mb": 81559}]


@pytest.mark.parametrize(
    ("device", "any_gpu_agent", "expected"),
    [
        ("cpu", False, 0),
        ("cpu", True, 0),  # the config says CPU: GPU agents do not change that
        ("cuda", False, 1),  # the config asks for a GPU: kept, and waiting_for says why
        ("cuda:1", True, 1),
        ("auto", False, 0),  # a CPU-only platform: a CPU run
        ("auto", True, 1),
    ],
)
def test_the_default_follows_the_device_and_the_agents(
    device: str, any_gpu_agent: bool, expected: int
) -> None:
    assert gpu_count_for(device, any_gpu_agent) == expected


def _queue(client: TestClient, config_id: int, **body) -> dict:
    response = client.post(f"{API}/configs/{config_id}/runs", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_defaults_queue_what_the_platform_can_serve(
    client: TestClient, app: FastAPI, make_data
) -> None:
    engine = app.state.vy.engine
    project = make_project(client)
    auto = create(client, project, make_data()).json()["id"]
    cpu_config = create(client, project, make_data(device="cpu"), name="on-cpu").json()["id"]
    cuda_config = create(client, project, make_data(device="cuda"), name="on-gpu").json()["id"]

    # No agent yet, then a CPU agent: a CPU run, which the CPU agent claims.
    assert _queue(client, auto)["gpu_count"] == 0
    cpu = register(app, "cpu")
    run = _queue(client, auto)
    assert run["gpu_count"] == 0 and run["waiting_for"] is None
    assert _queue(client, cuda_config)["gpu_count"] == 1  # the config asks for a GPU

    # An explicit count is kept even where nothing can serve it, and the run says why.
    two = _queue(client, auto, gpu_count=2)
    assert two["gpu_count"] == 2
    assert two["waiting_for"].startswith("it needs 2 GPUs but the online agents serve at most 0")
    assert _queue(client, auto, gpu_count=None)["gpu_count"] == 0  # null: the default

    # Once a GPU agent is registered, device auto asks for one GPU; device cpu still for none.
    register(app, "gpu", gpus=GPU)
    assert _queue(client, auto)["gpu_count"] == 1
    assert _queue(client, cpu_config)["gpu_count"] == 0

    claimed = runqueue.claim_next(engine, agent_id=cpu, capacity=0)
    assert claimed is not None and claimed.gpu_count == 0


def test_the_api_documents_the_rule(client: TestClient) -> None:
    schema = client.get(f"{API}/openapi.json").json()["components"]["schemas"]["RunCreate"]
    described = schema["properties"]["gpu_count"]["description"]
    assert "device is cpu" in described and "registered agent serves a GPU" in described
