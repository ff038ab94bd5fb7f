"""Resume (`POST /runs/{id}/resume`): the same run goes back to the queue as its next attempt
when it ended without success and has a valid checkpoint; every other case is a 409 that says
why and points at re-queue. Runs are driven through the real run queue, checkpoints are written
by the trainer's own checkpoint code."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.dashboard import test_runs
from tests.dashboard.conftest import AUTH
from tests.dashboard.test_configs import API, runs_dir
from tests.dashboard.test_runs import FakeAgent, queue
from visionyard.dashboard.app import create_app
from visionyard.db.models import FeedEvent
from visionyard.settings import Settings
from visionyard.training.checkpoint import MANIFEST_FILE, WEIGHTS_FILE, save_checkpoint

# Fixtures shared with the runs tests (a project, a valid config on a real dataset).
dataset = test_runs.dataset
make_data = test_runs.make_data
project = test_runs.project
config_id = test_runs.config_id


def save_real_checkpoint(app: FastAPI, run: dict, step: int = 7) -> Path:
    """A checkpoint as the trainer writes it, in the run's folder (`checkpoints/last`)."""
    folder = runs_dir(app) / run["run_dir"]
    (folder / "config.json").parent.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(run["config_snapshot"]))
    return save_checkpoint(
        folder / "checkpoints",
        "last",
        model=torch.nn.Linear(3, 2),
        training_state={"optimizer": {"step": torch.tensor(step)}},
        state={"step": step, "epoch": 0},
    )


def ended(
    app: FastAPI, client: TestClient, config_id: int, outcome: str, **fields: object
) -> tuple[dict, FakeAgent]:
    """A run that was claimed by an agent and then ended with `outcome`."""
    run = queue(client, config_id, **fields)
    agent = FakeAgent(app)
    claimed = agent.claim(run["id"])
    if outcome == "canceled":
        assert client.post(f"{API}/runs/{run['id']}/cancel").status_code == 200
    agent.finish(claimed, outcome, "boom" if outcome != "succeeded" else None)
    return client.get(f"{API}/runs/{run['id']}").json(), agent


def resume(client: TestClient, run_id: int) -> dict:
    response = client.post(f"{API}/runs/{run_id}/resume")
    assert response.status_code == 200, response.text
    return response.json()


def conflict(client: TestClient, run_id: int) -> str:
    response = client.post(f"{API}/runs/{run_id}/resume")
    assert response.status_code == 409, response.text
    return response.json()["error"]["message"]


def test_resume_puts_the_same_run_back_as_its_next_attempt(
    app: FastAPI, client: TestClient, config_id: int
) -> None:
    run, agent = ended(app, client, config_id, "canceled")
    assert (run["state"], run["attempt"], run["cancel_requested"]) == ("canceled", 1, True)
    save_real_checkpoint(app, run)

    resumed = resume(client, run["id"])
    assert resumed["id"] == run["id"] and resumed["run_dir"] == run["run_dir"]
    assert (resumed["state"], resumed["attempt"], resumed["restarts"]) == ("queued", 2, 0)
    assert resumed["error"] is None and resumed["finished_at"] is None
    assert resumed["cancel_requested"] is False and resumed["agent_id"] is None
    assert resumed["config_snapshot"] == run["config_snapshot"]
    assert client.get(f"{API}/runs", params={"state": "queued"}).json()["total"] == 1

    # The change feed keeps the end it resumed from.
    with app.state.vy.sessions() as session:
        last = session.scalars(select(FeedEvent).order_by(FeedEvent.id.desc())).first()
    assert last is not None and last.payload["state"] == "queued"
    assert last.payload["reason"].startswith("resumed on request; attempt 1 had ended canceled")

    # An agent claims it again: attempt 2 of the same run, in the same folder.
    claimed = agent.claim(run["id"])
    assert claimed.attempt == 2 and claimed.run_dir == run["run_dir"]


def test_resume_is_not_refused_by_a_used_up_restart_budget(
    app: FastAPI, client: TestClient, config_id: int
) -> None:
    run, _ = ended(app, client, config_id, "crashed", max_restarts=0)
    assert run["state"] == "failed" and "restart budget used up" in run["error"]
    save_real_checkpoint(app, run)
    resumed = resume(client, run["id"])
    assert (resumed["state"], resumed["attempt"], resumed["restarts"]) == ("queued", 2, 0)


@pytest.mark.parametrize("state", ["queued", "running", "succeeded"])
def test_resume_refuses_runs_that_did_not_end_without_success(
    app: FastAPI, client: TestClient, config_id: int, state: str
) -> None:
    if state == "succeeded":
        run, _ = ended(app, client, config_id, "succeeded")
        save_real_checkpoint(app, run)  # a checkpoint does not make a succeeded run resumable
    else:
        run = queue(client, config_id)
        if state == "running":
            FakeAgent(app).claim(run["id"])
    message = conflict(client, run["id"])
    assert f"run {run['id']} {'succeeded' if state == 'succeeded' else 'is ' + state}" in message
    if state == "succeeded":
        assert f"POST /runs/{run['id']}/requeue" in message
    else:
        assert "only a run that ended without success (failed or canceled)" in message
    assert client.get(f"{API}/runs/{run['id']}").json()["state"] == state  # nothing changed


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        ("no folder", "it has no run folder"),
        ("no checkpoint", "it saved no checkpoint"),
        ("no config.json", "its run folder holds no config.json"),
        ("no manifest", "none of its checkpoints is valid (last: missing MANIFEST.json"),
        ("flipped byte", "none of its checkpoints is valid (last: hash mismatch"),
    ],
)
def test_resume_without_a_valid_checkpoint_is_refused_with_the_reason(
    app: FastAPI, client: TestClient, config_id: int, damage: str, why: str
) -> None:
    run, _ = ended(app, client, config_id, "failed")
    folder = runs_dir(app) / run["run_dir"]
    if damage != "no folder":
        path = save_real_checkpoint(app, run)
        if damage == "no checkpoint":
            for child in path.iterdir():
                child.unlink()
            path.rmdir()
        elif damage == "no config.json":
            (folder / "config.json").unlink()
        elif damage == "no manifest":
            (path / MANIFEST_FILE).unlink()
        else:
            weights = bytearray((path / WEIGHTS_FILE).read_bytes())
            weights[-1] ^= 0xFF
            (path / WEIGHTS_FILE).write_bytes(bytes(weights))
    else:
        assert not folder.exists()
    message = conflict(client, run["id"])
    assert message.startswith(f"run {run['id']} cannot be resumed: {why}"), message
    assert f"Re-queue it (POST /runs/{run['id']}/requeue)" in message
    assert client.get(f"{API}/runs/{run['id']}").json()["state"] == "failed"


def test_resume_of_an_unknown_run_is_404(client: TestClient) -> None:
    response = client.post(f"{API}/runs/987654/resume")
    assert response.status_code == 404
    assert "run 987654 does not exist" in response.json()["error"]["message"]


def test_requeue_is_a_fresh_run_even_when_resume_is_possible(
    app: FastAPI, client: TestClient, config_id: int, tmp_path: Path
) -> None:
    run, _ = ended(app, client, config_id, "canceled")
    save_real_checkpoint(app, run)
    response = client.post(f"{API}/runs/{run['id']}/requeue")
    assert response.status_code == 201, response.text
    fresh = response.json()
    assert fresh["id"] != run["id"] and fresh["run_dir"] != run["run_dir"]
    assert (fresh["state"], fresh["attempt"], fresh["requeued_from"]) == ("queued", 1, run["id"])
    assert not (runs_dir(app) / fresh["run_dir"]).exists()  # nothing to resume from there
    assert client.get(f"{API}/runs/{run['id']}").json()["state"] == "canceled"  # untouched


def test_resume_counts_against_the_queued_runs_limit(
    app: FastAPI,
    client: TestClient,
    config_id: int,
    db_url: str,
    settings_factory: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run, _ = ended(app, client, config_id, "canceled")
    save_real_checkpoint(app, run)
    monkeypatch.setenv("VISIONYARD_MAX_QUEUED_RUNS_PER_USER", "1")
    limited = create_app(settings_factory(db_url))
    try:
        with TestClient(limited, headers=AUTH) as api:
            queue(api, config_id)  # the one queued run this user may have
            response = api.post(f"{API}/runs/{run['id']}/resume")
            assert response.status_code == 429, response.text
            assert "queued runs (the limit is 1)" in response.json()["error"]["message"]
            assert api.get(f"{API}/runs/{run['id']}").json()["state"] == "canceled"
    finally:
        limited.state.vy.engine.dispose()


def test_resume_of_a_run_whose_model_folder_is_gone_names_the_model(
    app: FastAPI, client: TestClient, config_id: int
) -> None:
    run, _ = ended(app, client, config_id, "canceled")
    save_real_checkpoint(app, run)
    shutil.rmtree(run["config_snapshot"]["model_flavour"])
    response = client.post(f"{API}/runs/{run['id']}/resume")
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["fields"][0]["field"] == "model_flavour"
    assert f"run {run['id']}'s config names a model that cannot be used now" in error["message"]
    assert client.get(f"{API}/runs/{run['id']}").json()["state"] == "canceled"
