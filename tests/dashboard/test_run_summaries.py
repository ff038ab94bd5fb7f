"""Run lists compare runs: each item's summary (monitored metric, duration, epochs, key
hyper-parameters), sorting and filtering by summary fields, any metric and config fields in
SQL, and what a finished run's progress says. On SQLite and PostgreSQL, with runs driven
through the real run queue."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.dashboard import test_configs
from tests.dashboard.test_configs import API, create, make_project
from tests.dashboard.test_runs import FakeAgent, queue
from visionyard.dashboard.services.run_progress import shown_progress
from visionyard.db.models import RunState

dataset = test_configs.dataset
make_data = test_configs.make_data


def _epoch(epoch: int, **values: float) -> dict:
    return {"type": "metrics", "split": "val", "epoch": epoch, "step": 10 * epoch, "values": values}


def _progress(seq: int, step: int, total: int) -> dict:
    return {"type": "progress", "seq": seq, "epoch": 0, "epochs": 3, "step": step,
            "total_steps": total, "eta_s": 1.5}  # fmt: skip


@dataclass
class Runs:
    a: int  # succeeded: lr 0.01, monitors acc@1 (max); acc 0.5 0.9 0.8, loss 1.0 0.3 0.4
    b: int  # running: lr 0.001, sgd, monitors loss (min); acc 0.6 0.7, loss 0.9 0.5
    c: int  # queued, no metrics


@pytest.fixture
def runs(client: TestClient, app: FastAPI, make_data: Callable[..., dict]) -> Runs:
    project = make_project(client)
    config_a = create(client, project, make_data(lr=0.01, epochs=3), name="a").json()["id"]
    data_b = make_data(lr=0.001, epochs=3, optimizer="sgd", monitor_metric="loss")
    config_b = create(client, project, data_b, name="b").json()["id"]
    a, b = queue(client, config_a)["id"], queue(client, config_b)["id"]
    c = queue(client, config_a)["id"]
    agent = FakeAgent(app)
    run_a, run_b = agent.claim(a), agent.claim(b)
    agent.events(run_a, [_epoch(1, **{"acc@1": 0.5, "loss": 1.0}), _progress(1, 20, 60)])
    agent.events(run_a, [_epoch(2, **{"acc@1": 0.9, "loss": 0.3})])
    agent.events(run_a, [_epoch(3, **{"acc@1": 0.8, "loss": 0.4}), _progress(2, 50, 60)])
    agent.finish(run_a)
    agent.events(run_b, [_epoch(1, **{"acc@1": 0.6, "loss": 0.9}), _progress(1, 10, 60)])
    agent.events(run_b, [_epoch(2, **{"acc@1": 0.7, "loss": 0.5})])
    return Runs(a, b, c)


def ids(client: TestClient, **params: Any) -> list[int]:
    response = client.get(f"{API}/runs", params=params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_each_list_item_summarises_its_run(client: TestClient, runs: Runs) -> None:
    items = {item["id"]: item for item in client.get(f"{API}/runs").json()["items"]}
    a, b, c = (items[r]["summary"] for r in (runs.a, runs.b, runs.c))
    assert a["monitor"] == {
        "name": "val/acc@1", "mode": "max", "best": 0.9, "best_step": 20, "last": 0.8,
        "last_step": 30,
    }  # fmt: skip
    assert (a["epochs_done"], a["epochs_total"]) == (3, 3)
    assert a["params"]["lr"] == 0.01 and a["params"]["optimizer"] == "adamw"
    assert a["params"]["batch_size"] == 8 and a["params"]["model_flavour"].endswith("tiny-resnet")
    assert a["duration_s"] is not None and a["duration_s"] >= 0
    # The second run monitors the loss: lower is better.
    assert (b["monitor"]["name"], b["monitor"]["mode"]) == ("val/loss", "min")
    assert (b["monitor"]["best"], b["monitor"]["last"], b["epochs_done"]) == (0.5, 0.5, 2)
    assert b["params"]["optimizer"] == "sgd"
    # Never started: nothing measured yet.
    assert c["monitor"]["best"] is None and c["duration_s"] is None and c["epochs_done"] == 0
    detail = client.get(f"{API}/runs/{runs.a}").json()
    assert detail["summary"] == items[runs.a]["summary"] | {"duration_s": a["duration_s"]}


def test_sort_by_metrics_summary_fields_and_params(client: TestClient, runs: Runs) -> None:
    a, b, c = runs.a, runs.b, runs.c
    # Runs without the value come last in either direction.
    assert ids(client, sort="best:val/acc@1") == [a, b, c]
    assert ids(client, sort="best:val/acc@1", order="asc") == [b, a, c]
    assert ids(client, sort="best:val/loss", order="asc") == [a, b, c]  # 0.3 < 0.5
    assert ids(client, sort="last:val/loss") == [b, a, c]  # 0.5 > 0.4
    assert ids(client, sort="max:val/loss", order="asc") == [b, a, c]  # 0.9 < 1.0
    assert ids(client, sort="epochs_done") == [a, b, c]
    assert ids(client, sort="param:lr", order="asc") == [b, a, c]
    assert ids(client, sort="param:optimizer", order="asc") == [a, c, b]
    assert ids(client, sort="duration")[-1] == c
    assert ids(client, sort="duration", order="asc")[-1] == c
    # `best`/`last`: each run's own monitored metric (a: acc@1 0.9, b: loss 0.5).
    assert ids(client, sort="best") == [a, b, c]
    assert ids(client, sort="last", order="asc") == [b, a, c]
    # The same on a project's list, paginated.
    project = client.get(f"{API}/runs/{a}").json()["project_id"]
    page = client.get(
        f"{API}/projects/{project}/runs", params={"sort": "best:val/acc@1", "limit": 1}
    ).json()
    assert [item["id"] for item in page["items"]] == [a] and page["total"] == 3


def test_filters_keep_matching_runs_only(client: TestClient, runs: Runs) -> None:
    a, b = runs.a, runs.b
    assert ids(client, filter="best:val/acc@1>=0.75") == [a]
    assert ids(client, filter="param:optimizer=sgd") == [b]
    assert ids(client, filter="param:optimizer!=sgd") == [runs.c, a]
    assert ids(client, filter=["last:val/loss<0.45", "param:lr>0.005"]) == [a]
    assert ids(client, filter=["best:val/acc@1>0", "param:lr<0.005"]) == [b]
    assert ids(client, filter="epochs_done=2") == [b]
    assert ids(client, filter="duration>=0", sort="name") == sorted([a, b], reverse=True)
    assert ids(client, filter="param:freeze_backbone=false") == [runs.c, b, a]
    # A run without the metric never matches, whatever the comparison.
    assert runs.c not in ids(client, filter="last:val/acc@1!=12345")
    response = client.get(f"{API}/runs", params={"filter": "best:val/acc@1>=0.75"}).json()
    assert response["total"] == 1


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"sort": "accuracy"}, ["unknown key 'accuracy'", "best:<metric>", "param:<config"]),
        ({"sort": "-duration"}, ["order=asc|desc", "sort=duration&order=desc"]),
        ({"sort": "best:train/lr"}, ["min:train/lr or max:train/lr"]),
        ({"sort": "param:eval_topk"}, ["not a scalar config field", "lr"]),
        ({"sort": "last:val acc"}, ["not a metric name"]),
        ({"filter": "best:val/acc@1=>0.9"}, ["compares with a number", "'>0.9'"]),
        ({"filter": "val/acc@1>=0.9"}, ["unknown key 'val/acc@1'", "best:<metric>"]),
        ({"filter": "param:optimizer>sgd"}, ["takes = or !="]),
        ({"filter": "param:compile=yes"}, ["true or false"]),
        ({"filter": "created_at>1"}, ["does not filter"]),
        ({"filter": "best"}, ["is not a filter", ">= <= > < = !="]),
        ({"filter": ["priority>0"] * 11}, ["filter"]),
    ],
)
def test_bad_sort_and_filter_expressions_are_422s_naming_what_is_accepted(
    client: TestClient, params: dict, words: list[str]
) -> None:
    response = client.get(f"{API}/runs", params=params)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    for word in words:
        assert word in error["message"], (word, error["message"])
    assert error["fields"][0]["field"].startswith("query.")


def test_finished_runs_show_no_eta_and_a_succeeded_one_is_complete(
    client: TestClient, app: FastAPI, runs: Runs
) -> None:
    """A succeeded run showed its last report, "step 50 of 60, 1.5 s left"."""
    done = client.get(f"{API}/runs/{runs.a}").json()["progress"]
    assert done["step"] == done["total_steps"] == 60 and done["complete"] is True
    assert "eta_s" not in done and done["epoch"] == 2  # the last (0-based) epoch of 3
    running = client.get(f"{API}/runs/{runs.b}").json()["progress"]
    assert running["step"] == 10 and running["eta_s"] == 1.5 and "complete" not in running
    listed = {i["id"]: i["progress"] for i in client.get(f"{API}/runs").json()["items"]}
    assert listed[runs.a] == done
    assert client.post(f"{API}/runs/{runs.b}/cancel").status_code == 200
    agent = FakeAgent(app, name="agent-2")
    agent.id = client.get(f"{API}/runs/{runs.b}").json()["agent_id"]
    from visionyard import runqueue

    runqueue.finish_run(agent.db, runs.b, 1, agent.id, "canceled")
    stopped = client.get(f"{API}/runs/{runs.b}").json()["progress"]
    assert stopped["step"] == 10 and "eta_s" not in stopped and "complete" not in stopped


def test_shown_progress_by_state() -> None:
    reported = {"epoch": 1, "epochs": 3, "step": 40, "total_steps": 48, "eta_s": 1.5}
    assert shown_progress(RunState.running, reported) == reported
    assert shown_progress(RunState.succeeded, reported) == {
        "epoch": 2, "epochs": 3, "step": 48, "total_steps": 48, "complete": True,
    }  # fmt: skip
    for state in (RunState.failed, RunState.canceled, RunState.queued):
        assert shown_progress(state, reported) == {
            k: v for k, v in reported.items() if k != "eta_s"
        }
    assert shown_progress(RunState.succeeded, {}) == {"complete": True}
