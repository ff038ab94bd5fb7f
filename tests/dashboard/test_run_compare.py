"""GET /runs/compare: metrics of several runs aligned per epoch or step, one column per run per
metric, and the config fields that differ. On SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.dashboard import test_run_summaries
from tests.dashboard.test_configs import API
from tests.dashboard.test_run_summaries import Runs
from tests.dashboard.test_runs import FakeAgent
from visionyard.dashboard.services.run_compare import config_diff

dataset = test_run_summaries.dataset
make_data = test_run_summaries.make_data
runs = test_run_summaries.runs


def compare(client: TestClient, *run_ids: int, **params: Any) -> Any:
    return client.get(f"{API}/runs/compare", params={"ids": list(run_ids), **params})


def column(body: dict, run_id: int, metric: str) -> list:
    found = [c for c in body["columns"] if (c["run_id"], c["metric"]) == (run_id, metric)]
    assert len(found) == 1, body["columns"]
    return found[0]["values"]


def test_metrics_align_per_epoch_with_nulls_where_a_run_has_none(
    client: TestClient, runs: Runs
) -> None:
    response = compare(client, runs.b, runs.a, runs.c)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [r["id"] for r in body["runs"]] == [runs.b, runs.a, runs.c]  # the order asked
    assert body["runs"][1]["summary"]["monitor"]["best"] == 0.9
    assert body["by"] == "epoch" and body["x"] == [1, 2, 3] and body["downsampled"] is False
    # Default: every per-epoch metric the runs logged; a column per metric per run.
    assert [m["name"] for m in body["metrics"]] == ["val/acc@1", "val/loss"]
    assert [m["direction"] for m in body["metrics"]] == ["max", "min"]
    assert len(body["columns"]) == 6
    assert column(body, runs.a, "val/acc@1") == [0.5, 0.9, 0.8]
    assert column(body, runs.b, "val/acc@1") == [0.6, 0.7, None]  # no epoch 3 yet
    assert column(body, runs.c, "val/loss") == [None, None, None]  # never started
    # The configs differ in lr, optimizer, monitor_metric (b's), not in batch_size.
    differing = {d["key"]: d["values"] for d in body["config"]["differing"]}
    assert differing["lr"] == [0.001, 0.01, 0.01]
    assert differing["optimizer"] == ["sgd", "adamw", "adamw"]
    assert differing["monitor_metric"] == ["loss", "acc@1", "acc@1"]
    assert body["config"]["same"]["batch_size"] == 8 and "lr" not in body["config"]["same"]


def test_by_step_and_chosen_metrics(client: TestClient, runs: Runs) -> None:
    body = compare(client, runs.a, runs.b, metrics="val/loss", by="step").json()
    assert body["x"] == [10, 20, 30] and [m["name"] for m in body["metrics"]] == ["val/loss"]
    assert column(body, runs.a, "val/loss") == [1.0, 0.3, 0.4]
    thinned = compare(client, runs.a, runs.b, by="step", max_rows=10).json()
    assert thinned["total_rows"] == 3 and thinned["downsampled"] is False
    # A metric every run may report later is an empty column, not an error.
    later = compare(client, runs.a, runs.b, metrics="test/acc@1").json()
    assert later["x"] == [] and column(later, runs.a, "test/acc@1") == []


def test_by_time_aligns_on_whole_seconds_since_each_runs_first_point(
    client: TestClient, app: FastAPI, runs: Runs
) -> None:
    agent = FakeAgent(app, name="timed")
    run_c = agent.claim(runs.c)
    start = 1_700_000_000.0

    def step(n: int, seconds: float, loss: float) -> dict:
        return {"type": "train_step", "step": n, "epoch": 0, "loss": loss, "lr": 0.1,
                "time": start + seconds}  # fmt: skip

    agent.events(run_c, [step(1, 0.2, 2.0), step(2, 1.5, 1.5), step(3, 1.9, 1.2)])
    agent.events(run_c, [step(4, 4.0, 1.0)])
    body = compare(client, runs.c, runs.a, metrics="train/step_loss", by="time").json()
    # Seconds since c's first point (0.2 s): 0, 1.3, 1.7, 3.8 -> rows 0, 1, 3; in second 1 the
    # later step wins. a never logged a step loss: an empty column, not an error.
    assert (body["by"], body["x"]) == ("time", [0, 1, 3])
    assert column(body, runs.c, "train/step_loss") == [2.0, 1.2, 1.0]
    assert column(body, runs.a, "train/step_loss") == [None, None, None]
    # Per-epoch metrics too: a's three epochs arrived within a second or so of its first point.
    epochs = compare(client, runs.a, runs.b, metrics="val/loss", by="time").json()
    assert epochs["x"] and all(0 <= x <= 5 for x in epochs["x"])
    assert column(epochs, runs.a, "val/loss")[-1] in (0.3, 0.4, 1.0)


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"ids": [1]}, 422, ["query.ids", "at least 2"]),
        ({"ids": list(range(1, 22))}, 422, ["query.ids", "at most 20"]),
        ({"ids": [1, 1]}, 422, ["each run once", "1 given more than once"]),
        ({"ids": [1, 998, 999]}, 404, ["runs 998, 999 do not exist", "GET /api/v1/runs"]),
        ({"metrics": "val/nope"}, 404, ["'val/nope'", "val/acc@1"]),
        ({"metrics": "train/step_loss"}, 422, ["per step", "by=step"]),
        ({"metrics": "val acc"}, 422, ["query.metrics"]),
    ],
)
def test_bad_requests_say_what_is_wrong(
    client: TestClient, runs: Runs, params: dict, status: int, words: list[str]
) -> None:
    params = {"ids": [runs.a, runs.b]} | params
    response = client.get(f"{API}/runs/compare", params=params)
    assert response.status_code == status, response.text
    message = response.json()["error"]["message"]
    for word in words:
        assert word in message, (word, message)


def test_config_diff_tells_types_apart_and_counts_a_missing_field() -> None:
    differing, same = config_diff(
        [{"a": 1, "b": True, "c": 2}, {"a": 1.0, "b": 1, "c": 2}, {"a": 1}]
    )
    assert {d.key: d.values for d in differing} == {
        "a": [1, 1.0, 1], "b": [True, 1, None], "c": [2, 2, None],
    }  # fmt: skip
    assert same == {}
    assert config_diff([{"x": [1, 2]}, {"x": [1, 2]}]) == ([], {"x": [1, 2]})
