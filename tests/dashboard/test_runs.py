"""Runs API: queueing snapshots, list filters, cancel/requeue/delete/tags, the per-user queue
limit, metric series (latest attempt wins, downsampling bounds), logs, checkpoints, results and
path-safe file access. Agents are driven through the real run queue."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, insert, select

from tests.dashboard import test_configs
from tests.dashboard.conftest import ADMIN_TOKEN, AUTH
from tests.dashboard.series_reference import downsample, reference_series
from tests.dashboard.test_configs import (
    API,
    assert_routes_need_auth,
    create,
    make_project,
    runs_dir,
)
from visionyard import runqueue
from visionyard.dashboard.app import create_app
from visionyard.dashboard.routers import run_outputs as run_outputs_router
from visionyard.dashboard.routers import runs as runs_router
from visionyard.dashboard.services import auth as auth_service
from visionyard.dashboard.services.run_metrics import (
    coarse_series,
    current_mask,
    downsample_indices,
    metric_series,
)
from visionyard.db.models import Run, RunEvent, RunTag
from visionyard.runqueue.metric_chunks import Points, chunk_rows, read_chunk_infos
from visionyard.runqueue.metric_summary import current_points
from visionyard.settings import Settings

# Fixtures shared with the configs tests (a real dataset under DATASETS_DIR, valid configs).
dataset = test_configs.dataset
make_data = test_configs.make_data


@pytest.fixture
def project(client: TestClient) -> int:
    return make_project(client)


@pytest.fixture
def config_id(client: TestClient, project: int, make_data: Callable[..., dict]) -> int:
    response = create(client, project, make_data())
    assert response.status_code == 201, response.text
    return response.json()["id"]


def queue(client: TestClient, config_id: int, **body: Any) -> dict:
    response = client.post(f"{API}/configs/{config_id}/runs", json={"gpu_count": 0} | body)
    assert response.status_code == 201, response.text
    return response.json()


class FakeAgent:
    """A real agent registration claiming and reporting through the real queue functions."""

    def __init__(self, app: FastAPI, name: str = "agent-1") -> None:
        self.db = app.state.vy.engine
        self.id = runqueue.register_agent(
            self.db, name=name, hostname="host", device="cpu", gpus=[], version="t"
        )

    def claim(self, run_id: int) -> runqueue.ClaimedRun:
        claimed = runqueue.claim_next(self.db, agent_id=self.id, capacity=8)
        assert claimed is not None and claimed.id == run_id
        return claimed

    def events(self, run: runqueue.ClaimedRun, events: list[dict]) -> None:
        runqueue.write_events(self.db, run.id, run.attempt, events, agent_id=self.id)

    def finish(self, run: runqueue.ClaimedRun, outcome: str = "succeeded", error=None) -> None:
        runqueue.finish_run(self.db, run.id, run.attempt, self.id, outcome, error)


def user_token(app: FastAPI, username: str) -> str:
    """An API token of a new non-admin user (one TestClient per app: see the report)."""
    with app.state.vy.sessions() as session, session.begin():
        user = auth_service.create_user(session, username, "long-password", is_admin=False)
        return auth_service.create_token(session, user, "tests")[1]


def make_folder(app: FastAPI, run: dict) -> Path:
    folder = runs_dir(app) / run["run_dir"]
    (folder / "checkpoints" / "last").mkdir(parents=True)
    (folder / "checkpoints" / "last" / "model.safetensors").write_bytes(b"\0" * 16)
    (folder / "config.json").write_text(json.dumps(run["config_snapshot"]))
    (folder / "sub").mkdir()
    (folder / "sub" / "notes.txt").write_text("notes")
    (folder / "report.html").write_text("<script>alert(1)</script>")
    return folder


# ---- queueing: snapshots that never change -------------------------------------------------------


def test_queue_snapshots_the_version_and_later_edits_never_change_it(
    client: TestClient, config_id: int, make_data
) -> None:
    v1 = client.get(f"{API}/configs/{config_id}/versions/1").json()
    run = queue(client, config_id, tags=["b", "a", "b"])
    assert run["state"] == "queued" and run["attempt"] == 1 and run["restarts"] == 0
    assert run["config_snapshot"] == v1["data"] and run["config_hash"] == v1["config_hash"]
    assert (run["config_id"], run["config_version"]) == (config_id, 1)
    assert run["name"] == "baseline-v1" and run["tags"] == ["a", "b"]
    assert run["run_dir"] == f"{run['id']}-baseline-v1" and run["created_by"] == 1
    assert run["created_at"].endswith(("Z", "+00:00"))
    defaults = client.post(f"{API}/configs/{config_id}/runs", json={}).json()
    # no GPU agent registered: a CPU run (test_run_gpus has the whole rule)
    assert (defaults["gpu_count"], defaults["max_restarts"], defaults["priority"]) == (0, 3, 0)

    # A later edit: the queued run keeps its snapshot; new runs default to the new version.
    client.put(f"{API}/configs/{config_id}", json={"data": make_data(lr=0.05, epochs=3)})
    again = client.get(f"{API}/runs/{run['id']}").json()
    assert again["config_snapshot"] == v1["data"] and again["config_hash"] == v1["config_hash"]
    newer = queue(client, config_id, name="second")
    assert newer["config_snapshot"]["lr"] == 0.05 and newer["config_version"] == 2
    assert newer["config_hash"] != v1["config_hash"]
    pinned = queue(client, config_id, version=1)
    assert pinned["config_snapshot"] == v1["data"] and pinned["config_version"] == 1

    # Deleting the config: runs keep their snapshot, the link becomes null.
    assert client.delete(f"{API}/configs/{config_id}").status_code == 204
    orphan = client.get(f"{API}/runs/{run['id']}").json()
    assert orphan["config_snapshot"] == v1["data"] and orphan["config_hash"] == v1["config_hash"]
    assert orphan["config_id"] is None and orphan["config_version_id"] is None


def test_queue_errors(client: TestClient, app: FastAPI, config_id: int, project: int) -> None:
    assert client.post(f"{API}/configs/999/runs", json={}).status_code == 404
    missing = client.post(f"{API}/configs/{config_id}/runs", json={"version": 5})
    assert missing.status_code == 404 and "versions 1..1" in missing.json()["error"]["message"]
    other = make_project(client, "other")
    foreign = client.post(f"{API}/projects/{other}/groups", json={"name": "g"}).json()["id"]
    wrong_group = client.post(f"{API}/configs/{config_id}/runs", json={"group_id": foreign})
    assert wrong_group.status_code == 404 and "group" in wrong_group.json()["error"]["message"]
    for body in (
        {"gpu_count": -1},
        {"gpu_count": 1000},
        {"priority": 2**40},
        {"max_restarts": -1},
        {"version": 0},
        {"name": ""},
        {"name": "x\x00"},
        {"tags": ["ok", "bad\nline"]},
        {"tags": [" padded"]},
        {"tags": ["x" * 65]},
        {"tags": [f"t{i}" for i in range(33)]},
        {"target_agent": "a" * 200},
    ):
        response = client.post(f"{API}/configs/{config_id}/runs", json=body)
        assert response.status_code == 422, body
    # A lone surrogate (legal in JSON, storable by no database); httpx will not encode it.
    raw = json.dumps({"tags": ["\ud800"]})
    headers = {"Content-Type": "application/json"}
    response = client.post(f"{API}/configs/{config_id}/runs", content=raw, headers=headers)
    assert response.status_code == 422
    with app.state.vy.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Run)) == 0


def test_queued_runs_per_user_are_limited(
    client: TestClient, app: FastAPI, config_id: int, project: int
) -> None:
    first = queue(client, config_id)
    agent = FakeAgent(app)
    agent.finish(agent.claim(first["id"]), "succeeded")
    me = client.get(f"{API}/auth/me").json()["id"]
    snapshot = client.get(f"{API}/runs/{first['id']}").json()["config_snapshot"]
    limit = 1000
    with app.state.vy.sessions() as session, session.begin():
        session.execute(
            insert(Run),
            [
                {
                    "project_id": project,
                    "name": f"bulk-{i}",
                    "config_snapshot": snapshot,
                    "config_hash": "0" * 64,
                    "created_by": me,
                }
                for i in range(limit)
            ],
        )
    refused = client.post(f"{API}/configs/{config_id}/runs", json={"gpu_count": 0})
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert "1000 queued runs" in refused.json()["error"]["message"]
    assert client.post(f"{API}/runs/{first['id']}/requeue").status_code == 429

    # Per user: someone else may still queue.
    ana = {"Authorization": f"Bearer {user_token(app, 'ana')}"}
    joined = {"username": "ana", "role": "editor"}
    assert client.put(f"{API}/projects/{project}/members", json=joined).status_code == 200
    assert client.post(f"{API}/configs/{config_id}/runs", json={}, headers=ana).status_code == 201

    # Canceling one frees a slot.
    bulk = client.get(f"{API}/runs", params={"q": "bulk-", "limit": 1}).json()["items"][0]
    assert client.post(f"{API}/runs/{bulk['id']}/cancel").status_code == 200
    assert client.post(f"{API}/configs/{config_id}/runs", json={"gpu_count": 0}).status_code == 201


def test_queued_runs_limit_is_the_max_queued_runs_per_user_setting(
    client: TestClient,
    config_id: int,
    db_url: str,
    settings_factory: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """S15's limit comes from VISIONYARD_MAX_QUEUED_RUNS_PER_USER (default 1000, above): a
    dashboard started with 2 on the same database answers the third queued run with a 429 that
    says the limit and what to do, for a new run and for a re-queue alike."""
    monkeypatch.setenv("VISIONYARD_MAX_QUEUED_RUNS_PER_USER", "2")
    limited = create_app(settings_factory(db_url))
    try:
        assert limited.state.vy.settings.max_queued_runs_per_user == 2
        with TestClient(limited, headers=AUTH) as api:
            first = queue(api, config_id)
            queue(api, config_id)
            refused = api.post(f"{API}/configs/{config_id}/runs", json={"gpu_count": 0})
            assert refused.status_code == 429
            error = refused.json()["error"]
            assert error["code"] == "rate_limited"
            assert "you already have 2 queued runs (the limit is 2)" in error["message"]
            assert "cancel some" in error["message"]

            assert api.post(f"{API}/runs/{first['id']}/cancel").status_code == 200
            assert api.post(f"{API}/runs/{first['id']}/requeue").status_code == 201
            requeue = api.post(f"{API}/runs/{first['id']}/requeue")
            assert requeue.status_code == 429, requeue.text
            assert "the limit is 2" in requeue.json()["error"]["message"]
    finally:
        limited.state.vy.engine.dispose()
    # The default dashboard on the same database still takes more.
    assert client.post(f"{API}/configs/{config_id}/runs", json={"gpu_count": 0}).status_code == 201


# ---- lists ---------------------------------------------------------------------------------------


def test_list_filters_sorts_and_pages(
    client: TestClient, app: FastAPI, config_id: int, project: int, make_data
) -> None:
    group = client.post(f"{API}/projects/{project}/groups", json={"name": "seeds"}).json()["id"]
    a = queue(client, config_id, name="alpha", priority=5, tags=["seed"], group_id=group)
    b = queue(client, config_id, name="beta", priority=1, tags=["seed", "x"])
    c = queue(client, config_id, name="gamma_1", priority=9)
    other = make_project(client, "other")
    other_config = create(client, other, make_data()).json()["id"]
    d = queue(client, other_config, name="delta")
    client.post(f"{API}/runs/{c['id']}/cancel")

    def names(path: str = "/runs", **params: Any) -> list[str]:
        response = client.get(API + path, params=params)
        assert response.status_code == 200, response.text
        return [r["name"] for r in response.json()["items"]]

    assert names() == ["delta", "gamma_1", "beta", "alpha"]  # newest first
    assert names(sort="priority", order="desc") == ["gamma_1", "alpha", "beta", "delta"]
    assert names(sort="name", order="asc") == ["alpha", "beta", "delta", "gamma_1"]
    assert names(project_id=project, sort="name", order="asc") == ["alpha", "beta", "gamma_1"]
    assert names(state="canceled") == ["gamma_1"]
    assert names(group_id=group) == ["alpha"]
    assert names(tag="seed", sort="name", order="asc") == ["alpha", "beta"]
    assert names(q="_") == ["gamma_1"]  # '_' is literal, not a wildcard
    assert names(q="ELT") == ["delta"]
    assert names(f"/projects/{other}/runs") == ["delta"]
    assert names(f"/projects/{project}/runs", tag="x") == ["beta"]
    assert names(config_id=other_config) == ["delta"]  # the runs of one config
    assert names(config_id=config_id, sort="name", order="asc") == ["alpha", "beta", "gamma_1"]
    assert names(config_id=2**31 - 1) == []  # no such config: no runs, not a 404
    paged = client.get(f"{API}/runs", params={"limit": 2, "offset": 1}).json()
    assert paged["total"] == 4 and [r["id"] for r in paged["items"]] == [c["id"], b["id"]]
    listed = client.get(f"{API}/runs", params={"limit": 1}).json()["items"][0]
    assert "config_snapshot" not in listed and listed["id"] == d["id"]
    assert a["group_id"] == group

    assert client.get(f"{API}/projects/999/runs").status_code == 404
    # On /runs, project_id is a filter, not a lookup: no 404, and the document declares none.
    assert names(project_id=999) == []
    assert "404" not in app.openapi()["paths"][f"{API}/runs"]["get"]["responses"]
    for params in (
        {"state": "bogus"},
        {"sort": "id"},
        {"project_id": 0},
        {"config_id": 0},
        {"limit": 1000},
    ):
        assert client.get(f"{API}/runs", params=params).status_code == 422, params
    assert client.get(f"{API}/runs", params={"q": "a\x00"}).status_code == 422


# ---- lifecycle: cancel, requeue, delete, tags ----------------------------------------------------


def test_cancel_queued_and_running_runs(client: TestClient, app: FastAPI, config_id: int) -> None:
    queued = queue(client, config_id)
    response = client.post(f"{API}/runs/{queued['id']}/cancel")
    assert response.status_code == 200
    assert response.json()["run"]["state"] == "canceled"
    assert response.json()["run"]["finished_at"] is not None
    again = client.post(f"{API}/runs/{queued['id']}/cancel")
    assert again.status_code == 409 and "already canceled" in again.json()["error"]["message"]

    running = queue(client, config_id)
    agent = FakeAgent(app)
    claimed = agent.claim(running["id"])
    view = client.get(f"{API}/runs/{running['id']}").json()
    assert view["state"] == "running" and view["agent_name"] == "agent-1"
    asked = client.post(f"{API}/runs/{running['id']}/cancel").json()
    assert asked["run"]["state"] == "running" and asked["run"]["cancel_requested"] is True
    assert "within about a second" in asked["message"]
    repeat = client.post(f"{API}/runs/{running['id']}/cancel")
    assert repeat.status_code == 200 and "already requested" in repeat.json()["message"]
    # The agent sees the request on its next lease renewal and reports the cancel.
    assert runqueue.renew_lease(agent.db, claimed.id, claimed.attempt, agent.id, 30) is True
    agent.finish(claimed, "canceled")
    assert client.get(f"{API}/runs/{running['id']}").json()["state"] == "canceled"
    assert client.post(f"{API}/runs/999/cancel").status_code == 404


def test_requeue_reproduces_finished_runs_only(
    client: TestClient, app: FastAPI, config_id: int, make_data
) -> None:
    original = queue(client, config_id, tags=["keep"], priority=4, max_restarts=1)
    assert client.post(f"{API}/runs/{original['id']}/requeue").status_code == 409  # queued
    agent = FakeAgent(app)
    claimed = agent.claim(original["id"])
    refused = client.post(f"{API}/runs/{original['id']}/requeue")
    assert refused.status_code == 409 and "only finished runs" in refused.json()["error"]["message"]
    agent.finish(claimed, "failed", "bad data")
    failed = client.get(f"{API}/runs/{original['id']}").json()
    assert failed["state"] == "failed" and failed["error"] == "bad data"

    client.put(f"{API}/configs/{config_id}", json={"data": make_data(lr=0.07)})  # irrelevant
    copy = client.post(f"{API}/runs/{original['id']}/requeue")
    assert copy.status_code == 201
    run = copy.json()
    assert run["id"] != original["id"] and run["state"] == "queued" and run["attempt"] == 1
    assert run["config_snapshot"] == original["config_snapshot"]
    assert run["config_hash"] == original["config_hash"]
    assert run["requeued_from"] == original["id"]
    assert run["tags"] == ["keep", f"requeue-of:{original['id']}"]
    assert (run["priority"], run["max_restarts"], run["gpu_count"]) == (4, 1, 0)
    assert run["run_dir"] != original["run_dir"] and run["name"] == original["name"]

    client.post(f"{API}/runs/{run['id']}/cancel")
    second = client.post(f"{API}/runs/{run['id']}/requeue", json={"name": "n2", "priority": 0})
    assert second.json()["tags"] == ["keep", f"requeue-of:{run['id']}"]
    assert (second.json()["name"], second.json()["priority"]) == ("n2", 0)
    assert client.post(f"{API}/runs/999/requeue").status_code == 404


def test_delete_removes_the_row_and_its_folder(
    client: TestClient, app: FastAPI, config_id: int, tmp_path: Path
) -> None:
    run = queue(client, config_id)
    folder = make_folder(app, run)
    secret = tmp_path / "keep-me.txt"
    secret.write_text("outside")
    (folder / "link-out").symlink_to(secret)
    assert client.delete(f"{API}/runs/{run['id']}").status_code == 409  # queued
    agent = FakeAgent(app)
    claimed = agent.claim(run["id"])
    agent.events(claimed, [{"type": "log", "seq": 1, "level": "info", "message": "hi"}])
    deleting_running = client.delete(f"{API}/runs/{run['id']}")
    assert deleting_running.status_code == 409
    assert "cancel it" in deleting_running.json()["error"]["message"]
    agent.finish(claimed, "succeeded")

    assert client.delete(f"{API}/runs/{run['id']}").status_code == 204
    assert not folder.exists() and secret.read_text() == "outside"
    assert client.get(f"{API}/runs/{run['id']}").status_code == 404
    assert client.delete(f"{API}/runs/{run['id']}").status_code == 404
    with app.state.vy.sessions() as session:
        for model in (RunEvent, RunTag):
            count = session.scalar(select(func.count()).select_from(model))
            assert count == 0, model


def test_tags_are_replaced(client: TestClient, config_id: int) -> None:
    run = queue(client, config_id, tags=["old"])
    response = client.put(f"{API}/runs/{run['id']}/tags", json={"tags": ["z", "a", "z", "é x"]})
    assert response.status_code == 200 and response.json()["tags"] == ["a", "z", "é x"]
    assert client.get(f"{API}/runs", params={"tag": "old"}).json()["total"] == 0
    assert client.get(f"{API}/runs", params={"tag": "é x"}).json()["total"] == 1
    assert client.put(f"{API}/runs/{run['id']}/tags", json={"tags": []}).json()["tags"] == []
    assert client.put(f"{API}/runs/{run['id']}/tags", json={"tags": ["a\x00"]}).status_code == 422
    assert client.put(f"{API}/runs/999/tags", json={"tags": []}).status_code == 404


# ---- metrics, logs, checkpoints ------------------------------------------------------------------


def test_series_keep_the_latest_attempts_points(
    client: TestClient, app: FastAPI, config_id: int
) -> None:
    run = queue(client, config_id, max_restarts=2)
    agent = FakeAgent(app)
    first = agent.claim(run["id"])
    agent.events(
        first,
        [{"type": "train_step", "step": s, "loss": 1.0, "lr": 0.1} for s in range(10, 101, 10)]
        + [
            {"type": "metrics", "split": "val", "step": s, "values": {"acc@1": s / 100}}
            for s in (50, 100)
        ]
        + [{"type": "progress", "seq": 7, "epoch": 2, "epochs": 4, "step": 100}],
    )
    # The agent dies: the reaper re-queues the run as attempt 2, which resumes from step 50.
    reaped = runqueue.reap_expired(agent.db, now=time.time() + 3600)
    assert reaped.requeued == [run["id"]]
    second = agent.claim(run["id"])
    assert second.attempt == 2
    agent.events(
        second,
        [{"type": "train_step", "step": s, "loss": 2.0, "lr": 0.2} for s in (60, 70, 80)],
    )

    names = client.get(f"{API}/runs/{run['id']}/metrics").json()["names"]
    assert names == ["train/lr", "train/step_loss", "val/acc@1"]
    response = client.get(
        f"{API}/runs/{run['id']}/metrics/series",
        params={"names": ["train/step_loss", "val/acc@1"]},
    )
    assert response.status_code == 200
    loss, acc = response.json()["series"]
    # Steps 60-80 come from attempt 2; attempt 1's 90 and 100 were redone (stale tail dropped).
    assert loss["steps"] == [10, 20, 30, 40, 50, 60, 70, 80]
    assert loss["values"] == [1.0] * 5 + [2.0] * 3
    assert loss["total"] == 8 and loss["downsampled"] is False
    # Attempt 2 has not logged val/acc@1 yet: attempt 1's points are still the current ones.
    assert acc["steps"] == [50, 100] and acc["values"] == [0.5, 1.0]
    # A name the trainer reports but attempt 2 has not logged yet: empty, not an error.
    test_acc = client.get(
        f"{API}/runs/{run['id']}/metrics/series", params={"names": "test/acc@1"}
    ).json()["series"]
    assert test_acc == [
        {
            "name": "test/acc@1",
            "steps": [],
            "values": [],
            "times": [],
            "epochs": [],
            "total": 0,
            "downsampled": False,
        }
    ]

    view = client.get(f"{API}/runs/{run['id']}").json()
    assert (view["attempt"], view["restarts"], view["state"]) == (2, 1, "running")
    assert view["progress"]["epoch"] == 2
    # The running attempt 2 has no error of its own; attempt 1's is kept, named by attempt.
    assert view["error"] is None
    assert [e["attempt"] for e in view["earlier_errors"]] == [1]
    assert "lease expired" in view["earlier_errors"][0]["error"]

    for params in ({}, {"names": "x", "max_points": 5}, {"names": "x", "max_points": 10**6}):
        bad = client.get(f"{API}/runs/{run['id']}/metrics/series", params=params)
        assert bad.status_code == 422, params
    too_many = {"names": [f"m{i}" for i in range(21)]}
    assert client.get(f"{API}/runs/{run['id']}/metrics/series", params=too_many).status_code == 422
    assert client.get(f"{API}/runs/999/metrics").status_code == 404
    assert client.get(f"{API}/runs/999/metrics/series", params={"names": "x"}).status_code == 404


def test_unknown_metric_names_are_404_naming_the_runs_metrics(
    client: TestClient, app: FastAPI, config_id: int
) -> None:
    """A misspelt name used to answer 200 with an empty series, indistinguishable from a metric
    not logged yet."""
    run = queue(client, config_id)
    url = f"{API}/runs/{run['id']}/metrics/series"
    # Queued, nothing logged: what the trainer and the agent will report draws empty charts.
    live = ["train/step_loss", "train/lr", "val/acc@1", "test/acc@5", "system/cpu_percent"]
    before = client.get(url, params={"names": live})
    assert before.status_code == 200
    assert [s["total"] for s in before.json()["series"]] == [0] * len(live)
    # ...but a name no run can have is refused, before and after points arrive.
    assert client.get(url, params={"names": "val/accuracy"}).status_code == 404

    agent = FakeAgent(app)
    claimed = agent.claim(run["id"])
    agent.events(
        claimed,
        [{"type": "train_step", "step": 1, "loss": 1.0, "lr": 0.1}]
        + [{"type": "metrics", "split": "val", "step": 1, "values": {"custom_score": 0.5}}],
    )
    # A name outside the registry that the run did log is served like any other.
    custom = client.get(url, params={"names": "val/custom_score"})
    assert custom.status_code == 200 and custom.json()["series"][0]["values"] == [0.5]

    response = client.get(url, params={"names": ["train/step_loss", "nope", "val/acc"]})
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_found"
    message = error["message"]
    assert "'nope'" in message and "'val/acc'" in message and "'train/step_loss'" not in message
    assert "train/lr, train/step_loss, val/custom_score" in message
    assert f"/runs/{run['id']}/metrics" in message
    assert client.get(f"{API}/runs/{run['id']}/metrics").json()["names"] == [
        "train/lr",
        "train/step_loss",
        "val/custom_score",
    ]


def test_unknown_metric_message_caps_the_list_of_names(
    client: TestClient, app: FastAPI, config_id: int
) -> None:
    run = queue(client, config_id)
    agent = FakeAgent(app)
    claimed = agent.claim(run["id"])
    values = {f"extra_{i:02d}": float(i) for i in range(40)}
    agent.events(claimed, [{"type": "metrics", "split": "val", "step": 1, "values": values}])
    response = client.get(f"{API}/runs/{run['id']}/metrics/series", params={"names": "nope"})
    assert response.status_code == 404
    message = response.json()["error"]["message"]
    assert "val/extra_00" in message and "val/extra_39" not in message
    assert "and 20 more" in message


def test_long_series_are_downsampled_within_bounds(
    client: TestClient, app: FastAPI, config_id: int
) -> None:
    run = queue(client, config_id)
    agent = FakeAgent(app)
    claimed = agent.claim(run["id"])
    steps = range(1, 3001)
    losses = {s: 1.0 + 0.001 * (s % 7) for s in steps}
    losses[1234], losses[2345] = 50.0, -3.0  # a spike and a dip must survive downsampling
    agent.events(
        claimed, [{"type": "train_step", "step": s, "loss": losses[s], "lr": 0.1} for s in steps]
    )
    url = f"{API}/runs/{run['id']}/metrics/series"
    for max_points in (10, 11, 100, 999):
        body = client.get(url, params={"names": "train/step_loss", "max_points": max_points})
        series = body.json()["series"][0]
        assert len(series["steps"]) <= max_points and series["downsampled"] is True
        assert series["total"] == 3000
        assert series["steps"] == sorted(set(series["steps"]))
        assert all(losses[s] == v for s, v in zip(series["steps"], series["values"], strict=True))
        assert max(series["values"]) == 50.0 and min(series["values"]) == -3.0
        assert (series["steps"][-1], series["values"][-1]) == (3000, losses[3000])
    full = client.get(url, params={"names": "train/step_loss", "max_points": 3000}).json()
    assert full["series"][0]["steps"] == list(steps) and not full["series"][0]["downsampled"]


def test_current_points_latest_attempt_wins_per_step() -> None:
    rows = [(0, 1, 1.0), (1, 1, 1.1), (2, 1, 1.2), (3, 1, 1.3), (2, 2, 2.2), (3, 2, 2.3)]
    assert current_points(rows) == [(0, 1.0), (1, 1.1), (2, 2.2), (3, 2.3)]
    # Attempt 3 restarted from scratch: everything earlier is superseded.
    assert current_points(rows + [(0, 3, 3.0)]) == [(0, 3.0)]
    # Order of the rows does not matter.
    assert current_points(list(reversed(rows))) == current_points(rows)
    assert current_points([]) == []


def test_downsample_keeps_gaps_and_extremes() -> None:
    points = [(i, None if 40 <= i < 90 else float(i % 10)) for i in range(201)]
    out = downsample(points, 20)
    assert len(out) <= 20
    assert any(v is None for _, v in out)  # a bucket of only gaps keeps one gap
    assert {v for _, v in out if v is not None} >= {0.0, 9.0}
    # The last point is kept though its bucket keeps another (its first 0, at 180): a chart
    # ends where the series does.
    assert out[-1] == (200, 0.0)
    assert downsample(points[:20], 20) == points[:20]


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(
        st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False)), min_size=0, max_size=400
    ),
    max_points=st.integers(min_value=10, max_value=120),
)
def test_downsample_bounds_property(values: list[float | None], max_points: int) -> None:
    points = [(step * 3, value) for step, value in enumerate(values)]
    out = downsample(points, max_points)
    assert len(out) <= max_points
    assert [s for s, _ in out] == sorted({s for s, _ in out})
    assert set(out) <= set(points)
    finite = [v for _, v in points if v is not None]
    if finite:
        shown = [v for _, v in out if v is not None]
        assert max(shown) == max(finite) and min(shown) == min(finite)


def test_logs_tail_and_pages(client: TestClient, app: FastAPI, config_id: int) -> None:
    run = queue(client, config_id)
    agent = FakeAgent(app)
    claimed = agent.claim(run["id"])
    agent.events(
        claimed,
        [
            {"type": "log", "seq": i, "time": 1000.0 + i, "level": "info", "message": f"line {i}"}
            for i in range(1, 8)
        ]
        + [{"type": "log", "seq": 8, "level": "error", "message": "boom"}],
    )
    url = f"{API}/runs/{run['id']}/logs"
    everything = client.get(url).json()
    assert [line["message"] for line in everything["items"]] == [
        f"line {i}" for i in range(1, 8)
    ] + ["boom"]
    assert everything["items"][0]["time"] == 1001.0 and everything["items"][-1]["level"] == "error"
    tail = client.get(url, params={"tail": 2}).json()
    assert [line["message"] for line in tail["items"]] == ["line 7", "boom"]
    first = client.get(url, params={"after_id": 0, "limit": 3}).json()
    assert [line["message"] for line in first["items"]] == ["line 1", "line 2", "line 3"]
    rest = client.get(url, params={"after_id": first["last_id"], "limit": 100}).json()
    assert len(rest["items"]) == 5 and rest["items"][0]["message"] == "line 4"
    empty = client.get(url, params={"after_id": rest["last_id"]}).json()
    assert empty == {"items": [], "last_id": rest["last_id"], "has_earlier": None}
    for params in ({"tail": 0}, {"limit": 5000}, {"after_id": -1}, {"after_id": 2**63}):
        assert client.get(url, params=params).status_code == 422, params
    assert client.get(f"{API}/runs/999/logs").status_code == 404


def test_logs_page_upwards_from_the_end(client: TestClient, app: FastAPI, config_id: int) -> None:
    """A long log opens at its end and loads the pages above it as the viewer scrolls up."""
    run = queue(client, config_id)
    agent = FakeAgent(app)
    claimed = agent.claim(run["id"])
    agent.events(
        claimed,
        [{"type": "log", "seq": i, "level": "info", "message": f"line {i}"} for i in range(1, 11)],
    )
    url = f"{API}/runs/{run['id']}/logs"
    last = client.get(url, params={"tail": 4}).json()
    assert [line["message"] for line in last["items"]] == [f"line {i}" for i in range(7, 11)]
    assert last["has_earlier"] is True
    above = client.get(url, params={"tail": 4, "before_id": last["items"][0]["id"]}).json()
    assert [line["message"] for line in above["items"]] == [f"line {i}" for i in range(3, 7)]
    assert above["has_earlier"] is True
    top = client.get(url, params={"tail": 4, "before_id": above["items"][0]["id"]}).json()
    assert [line["message"] for line in top["items"]] == ["line 1", "line 2"]
    assert top["has_earlier"] is False
    assert client.get(url, params={"tail": 10}).json()["has_earlier"] is False
    # Both bounds: the lines between them (a gap a viewer fills), none when they cross.
    ids = [line["id"] for line in client.get(url, params={"tail": 10}).json()["items"]]
    between = client.get(url, params={"after_id": ids[1], "before_id": ids[5]}).json()
    assert [line["message"] for line in between["items"]] == ["line 3", "line 4", "line 5"]
    crossed = client.get(url, params={"after_id": ids[5], "before_id": ids[1]})
    assert crossed.status_code == 200 and crossed.json()["items"] == []
    assert client.get(url, params={"before_id": 0}).status_code == 422


def test_checkpoints_are_listed_one_row_per_checkpoint_folder(
    client: TestClient, app: FastAPI, config_id: int
) -> None:
    """Each save rewrites `last` (and `best` when it improves): the list has one row per
    folder, at its newest save (it had one per save: 14 rows for 2 folders)."""
    run = queue(client, config_id)
    agent = FakeAgent(app)
    claimed = agent.claim(run["id"])
    saves = [("last", 10, None), ("best", 10, 0.9), ("last", 20, None), ("epoch_001", 10, None)]
    saves += [("last", step, None) for step in (30, 40)] + [("best", 40, 0.95)]
    for name, step, metric in saves:
        runqueue.record_checkpoint(
            agent.db, run["id"], claimed.attempt, name, f"checkpoints/{name}", 1, step, metric
        )
    url = f"{API}/runs/{run['id']}/checkpoints"
    page = client.get(url, params={"order": "asc"}).json()
    listed = page["items"]
    assert [(c["name"], c["step"], c["metric"]) for c in listed] == [
        ("epoch_001", 10, None),
        ("last", 40, None),
        ("best", 40, 0.95),
    ]
    assert (page["total"], page["limit"], page["offset"]) == (3, 50, 0)
    assert listed[2]["attempt"] == 1 and listed[2]["path"] == "checkpoints/best"
    # The shared pagination: newest step first by default, and pages of `limit`.
    newest = client.get(url).json()["items"]
    assert [(c["name"], c["step"]) for c in newest] == [
        ("best", 40),
        ("last", 40),
        ("epoch_001", 10),
    ]
    second = client.get(url, params={"order": "asc", "limit": 2, "offset": 2}).json()
    assert [(c["name"], c["step"]) for c in second["items"]] == [("best", 40)]
    assert second["total"] == 3
    assert client.get(f"{API}/runs/999/checkpoints").status_code == 404


# ---- results and files ---------------------------------------------------------------------------


def test_results_json(client: TestClient, app: FastAPI, config_id: int, tmp_path: Path) -> None:
    run = queue(client, config_id)
    url = f"{API}/runs/{run['id']}/results"
    no_folder = client.get(url)
    assert no_folder.status_code == 404 and "no files yet" in no_folder.json()["error"]["message"]
    folder = make_folder(app, run)
    missing = client.get(url)
    assert (
        missing.status_code == 404 and "no results.json yet" in missing.json()["error"]["message"]
    )
    results = {"val": {"acc@1": 0.9}, "test": {"acc@1": 0.88}, "per_class": [{"class": "0"}]}
    (folder / "results.json").write_text(json.dumps(results))
    assert client.get(url).json() == results
    (folder / "results.json").write_text("{torn")
    assert client.get(url).status_code == 409
    (folder / "results.json").unlink()
    outside = tmp_path / "results.json"
    outside.write_text(json.dumps({"secret": 1}))
    (folder / "results.json").symlink_to(outside)
    assert client.get(url).status_code == 400
    assert client.get(f"{API}/runs/999/results").status_code == 404


def test_files_list_and_download_inside_the_run_folder_only(
    client: TestClient, app: FastAPI, config_id: int, tmp_path: Path
) -> None:
    run = queue(client, config_id)
    sibling = queue(client, config_id, name="sibling")
    url = f"{API}/runs/{run['id']}/files"
    assert client.get(url).status_code == 404  # no folder yet
    folder = make_folder(app, run)
    sibling_folder = make_folder(app, sibling)
    (sibling_folder / "secret.txt").write_text("TOP-SECRET sibling")
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET outside")
    (folder / "link-out").symlink_to(secret)
    (folder / "dir-out").symlink_to(tmp_path, target_is_directory=True)
    (folder / "to-sibling").symlink_to(sibling_folder, target_is_directory=True)
    (folder / "dangling").symlink_to(tmp_path / "nothing-here")
    (folder / "inside-link").symlink_to(folder / "sub" / "notes.txt")

    root = client.get(url).json()
    assert root["path"] == "" and root["truncated"] is False
    entries = {e["name"]: e for e in root["entries"]}
    # Links leading out of the run folder are neither listed nor served.
    assert set(entries) == {
        "checkpoints",
        "sub",
        "config.json",
        "inside-link",
        "report.html",
    }
    assert entries["sub"]["is_dir"] and entries["sub"]["size"] is None
    assert entries["config.json"]["size"] == (folder / "config.json").stat().st_size
    nested = client.get(url, params={"path": "checkpoints/last"}).json()
    assert [e["path"] for e in nested["entries"]] == ["checkpoints/last/model.safetensors"]

    download = client.get(url, params={"path": "sub/notes.txt"})
    assert download.status_code == 200 and download.text == "notes"
    assert download.headers["content-disposition"].startswith("attachment")
    assert download.headers["x-content-type-options"] == "nosniff"
    html = client.get(url, params={"path": "report.html"})
    assert html.headers["content-disposition"].startswith("attachment")
    assert client.get(url, params={"path": "inside-link"}).text == "notes"
    assert client.get(url, params={"path": "no/such/file"}).status_code == 404
    assert client.get(url, params={"path": "dangling"}).status_code == 400

    run_dir = run["run_dir"]
    payloads = [
        "..",
        "../",
        "../secret.txt",
        "../../secret.txt",
        "../../../../../../etc/passwd",
        "sub/../../secret.txt",
        "./../secret.txt",
        "sub/./../../secret.txt",
        "/etc/passwd",
        "//etc/passwd",
        str(secret),
        str(sibling_folder / "secret.txt"),
        "..\\secret.txt",
        "sub\\..\\..\\secret.txt",
        "results.json\x00.png",
        "\x00",
        "sub/notes.txt\x00",
        "\uff0e\uff0e/secret.txt",
        f"../{run_dir}/config.json",
        f"../{run_dir}-evil/x",
        f"../{sibling['run_dir']}/secret.txt",
        "link-out",
        "dir-out",
        "dir-out/secret.txt",
        "to-sibling",
        "to-sibling/secret.txt",
        "sub/\n../../secret.txt",
    ]
    for payload in payloads:
        response = client.get(url, params={"path": payload})
        assert response.status_code == 400, (payload, response.status_code)
        assert response.json()["error"]["code"] == "path_outside_root"
        assert "TOP-SECRET" not in response.text
    # Encoded forms decode to the same traversal (400) or to a literal, absent name (404).
    for raw, expected in (
        ("%2e%2e%2fsecret.txt", 400),
        ("%2E%2E/%2E%2E/secret.txt", 400),
        ("..%2F..%2Fsecret.txt", 400),
        ("%252e%252e%252fsecret.txt", 404),
        ("....//secret.txt", 404),
        ("~/secret.txt", 404),
    ):
        response = client.get(f"{url}?path={raw}")
        assert response.status_code == expected, (raw, response.status_code)
        assert "TOP-SECRET" not in response.text
    assert client.get(url, params={"path": "a/" * 600}).status_code == 422
    assert client.get(f"{API}/runs/999/files").status_code == 404


def test_run_routes_need_authentication(anon: TestClient) -> None:
    assert assert_routes_need_auth(anon, runs_router.router) == 11
    assert assert_routes_need_auth(anon, run_outputs_router.router) == 6


def test_bearer_token_header_is_what_authenticates(app: FastAPI) -> None:
    # The `client` fixture's token reaches these routes; the same client without it does not.
    with TestClient(app) as plain:
        assert plain.get(f"{API}/runs").status_code == 401
        ok = plain.get(f"{API}/runs", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert ok.status_code == 200


@settings(max_examples=80, deadline=None)
@given(
    starts=st.lists(st.integers(0, 30), min_size=1, max_size=4),
    window=st.tuples(st.integers(0, 40), st.integers(0, 40)).map(sorted),
)
def test_current_points_of_a_window_match_the_whole_series(
    starts: list[int], window: list[int]
) -> None:
    """Attempt i (1-based) logs steps starts[i-1]..39; in a window, the current points are the
    whole series' current points that fall in it, wherever the attempts began."""
    rows = [
        (step, attempt, f"{attempt}:{step}")
        for attempt, start in enumerate(starts, 1)
        for step in range(start, 40)
    ]
    low, high = window
    inside = sorted((r for r in rows if low <= r[0] <= high), key=lambda r: (r[0], r[1]))
    points = Points(
        np.array([r[0] for r in inside], np.int64),
        np.array([r[1] for r in inside], np.int64),
        np.zeros(len(inside)),
        np.zeros(len(inside)),
        np.zeros(len(inside), np.int32),
    )
    firsts = {attempt: start for attempt, start in enumerate(starts, 1)}
    kept = np.flatnonzero(current_mask(points, firsts)) if inside else []
    expected = [p for p in current_points(rows) if low <= p[0] <= high]
    assert [(inside[i][0], inside[i][2]) for i in kept] == expected


def test_series_step_window_is_full_resolution(
    client: TestClient, app: FastAPI, config_id: int
) -> None:
    """A chart zoomed into a step window re-fetches just that window, at full resolution."""
    run = queue(client, config_id, max_restarts=1)
    agent = FakeAgent(app)
    first = agent.claim(run["id"])
    agent.events(
        first,
        [
            {"type": "train_step", "step": s, "epoch": s // 100, "loss": 1.0, "lr": 0.1, "time": s}
            for s in range(1, 1001)
        ],
    )
    url = f"{API}/runs/{run['id']}/metrics/series"
    overview = client.get(url, params={"names": "train/step_loss", "max_points": 100}).json()
    assert overview["series"][0]["downsampled"] is True
    window = client.get(
        url,
        params={"names": "train/step_loss", "max_points": 100, "step_min": 400, "step_max": 460},
    ).json()
    assert (window["step_min"], window["step_max"]) == (400, 460)
    series = window["series"][0]
    assert series["steps"] == list(range(400, 461)) and series["downsampled"] is False
    assert series["total"] == 61
    # When each point was logged and its epoch come along, for time and epoch axes.
    assert series["times"] == [float(s) for s in range(400, 461)]
    assert series["epochs"][0] == 4 and series["epochs"][-1] == 4
    # Either end alone.
    tail = client.get(url, params={"names": "train/step_loss", "step_min": 990}).json()
    assert tail["series"][0]["steps"] == list(range(990, 1001))
    head = client.get(url, params={"names": "train/step_loss", "step_max": 3}).json()
    assert head["series"][0]["steps"] == [1, 2, 3]

    # Attempt 2 resumes at step 300: inside the window only its points are current, even when
    # the window starts after the step it resumed from.
    reaped = runqueue.reap_expired(agent.db, now=time.time() + 3600)
    assert reaped.requeued == [run["id"]]
    second = agent.claim(run["id"])
    agent.events(
        second, [{"type": "train_step", "step": s, "loss": 2.0, "lr": 0.1} for s in (300, 420)]
    )
    resumed = client.get(
        url, params={"names": "train/step_loss", "step_min": 400, "step_max": 460}
    ).json()["series"][0]
    assert resumed["steps"] == [420] and resumed["values"] == [2.0]

    # A window that ends before it starts is empty (a valid request with nothing in it).
    backwards = client.get(url, params={"names": "train/step_loss", "step_min": 9, "step_max": 3})
    assert backwards.status_code == 200
    assert (
        backwards.json()["series"][0]["steps"] == [] and backwards.json()["series"][0]["total"] == 0
    )
    assert client.get(url, params={"names": "train/lr", "step_min": -1}).status_code == 422


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(
        # What a point can hold: a gap, or a finite value (the write path makes the others
        # gaps); ties are frequent among the sampled ones.
        st.one_of(
            st.none(),
            st.sampled_from([0.0, 1.0, -1.0]),
            st.floats(allow_nan=False, allow_infinity=False),
        ),
        max_size=120,
    ),
    max_points=st.integers(2, 50),
)
def test_downsample_indices_pick_what_downsample_keeps(
    values: list[float | None], max_points: int
) -> None:
    points = [(step, (value, step)) for step, value in enumerate(values)]
    array = np.array([np.nan if v is None else v for v in values], dtype=float)
    picked = [points[i] for i in downsample_indices(array, max_points)]
    assert picked == downsample(points, max_points)


def test_series_match_the_reference_computed_from_the_points(
    client: TestClient, app: FastAPI, config_id: int
) -> None:
    """Shaped series (spikes, ties, gaps, odd sizes, resumed attempts, a long one), stored in
    chunks of odd sizes, read by `metric_series` equal the plain computation on the points
    themselves, at any size and in any window, long series of one attempt included (buckets of
    whole chunks, from the chunks' stored extremes)."""
    run_id = queue(client, config_id)["id"]
    shapes: dict[str, list[tuple[int, int, float | None]]] = {
        "spiky": [(1, s, 50.0 if s == 404 else -3.0 if s == 808 else s % 7) for s in range(997)],
        "gaps": [
            (1, s, None if 100 <= s < 260 or s % 31 == 0 else float(s % 3)) for s in range(1, 613)
        ],
        "resumed": [(1, s, s / 10) for s in range(600)]
        + [(2, s, 1000.0 - s) for s in range(300, 901)]
        + [(3, s, None if s % 2 else 0.5) for s in range(700, 751)],
        "redone_below": [(1, s, float(s)) for s in range(200, 500)] + [(2, 50, 7.0)],
        "short": [(1, s, float(-s)) for s in (3, 5, 8, 13, 21)],
        # long enough to be drawn from its chunks' extremes at the smaller max_points
        "long": [
            (1, s, None if 3000 <= s < 3400 else float((s * 7919) % 1009)) for s in range(7000)
        ],
    }
    points = [
        (name, attempt, step, value, 1000.0 + attempt * 10_000 + step,
         step // 10 if step % 4 else None)
        for name, shape in shapes.items()
        for attempt, step, value in shape
    ]  # fmt: skip
    point_rows = [
        {"attempt": attempt, "name": name, "step": step, "value": value, "created_at": time,
         "payload": {} if epoch is None else {"epoch": epoch}}
        for name, attempt, step, value, time, epoch in points
    ]  # fmt: skip
    # As the agent stores them: a chunk per batch (37 points here), so windows cut chunks.
    by_series = sorted(point_rows, key=lambda r: (r["name"], r["attempt"], r["step"]))
    chunks = [
        row
        for start in range(0, len(by_series), 37)
        for row in chunk_rows(run_id, by_series[start : start + 37])
    ]
    with app.state.vy.engine.begin() as conn:
        conn.execute(insert(RunEvent), chunks)
    bounds: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for chunk in chunks:
        bounds[chunk["name"]].append((chunk["step"], chunk["last_step"]))
    names = [*shapes, "train/lr"]  # the last one never logged
    windows = [(None, None), (100, 650), (320, None), (None, 310), (700, 720), (9, 3)]
    sessions = app.state.vy.sessions
    with sessions() as session:
        for max_points in (10, 11, 100, 999, 5000):
            for step_min, step_max in windows:
                window = {"step_min": step_min, "step_max": step_max}
                stored = metric_series(session, run_id, names, max_points, **window)
                reference = reference_series(points, names, max_points, **window, chunks=bounds)
                assert stored == reference, (max_points, window)
        # Both rules were exercised: the long series is drawn from chunk extremes at 100 points,
        # the resumed one (several attempts) never is.
        infos = read_chunk_infos(session, run_id, ["long", "resumed"])
        assert coarse_series(session, "long", infos["long"], 100, None, None) is not None
        assert coarse_series(session, "long", infos["long"], 999, None, None) is None
