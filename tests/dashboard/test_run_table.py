"""What the web UI's run table needs from the runs API: each run's values of any key as table
columns (`column=`), the keys a project's runs have (`/run-keys`), counts per state under the
table's filters, and moving runs into and out of experiment groups (one run, or many at once,
all or nothing, announced on the "runs" feed). On SQLite and PostgreSQL, with runs driven
through the real run queue."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.dashboard import test_run_summaries
from tests.dashboard.test_configs import API, assert_routes_need_auth
from tests.dashboard.test_projects import add_run
from tests.dashboard.test_run_summaries import Runs
from visionyard.dashboard.routers import run_keys as run_keys_router
from visionyard.db.models import FeedEvent, RunState

dataset = test_run_summaries.dataset
make_data = test_run_summaries.make_data
runs = test_run_summaries.runs


def _project_of(client: TestClient, run_id: int) -> int:
    return client.get(f"{API}/runs/{run_id}").json()["project_id"]


def _values(client: TestClient, project: int, *columns: str) -> dict[int, dict]:
    response = client.get(f"{API}/projects/{project}/runs", params={"column": list(columns)})
    assert response.status_code == 200, response.text
    return {item["id"]: item["values"] for item in response.json()["items"]}


def test_list_items_carry_the_values_of_the_keys_asked_for(client: TestClient, runs: Runs) -> None:
    project = _project_of(client, runs.a)
    values = _values(
        client,
        project,
        "best:val/loss",
        "last:val/acc@1",
        "max:val/loss",
        "param:lr",
        "param:optimizer",
        "param:compile",
        "best",
        "created_at",
    )
    a, b, c = values[runs.a], values[runs.b], values[runs.c]
    assert (a["best:val/loss"], a["last:val/acc@1"], a["max:val/loss"]) == (0.3, 0.8, 1.0)
    assert (b["best:val/loss"], b["last:val/acc@1"]) == (0.5, 0.7)
    assert (a["param:lr"], b["param:lr"], b["param:optimizer"]) == (0.01, 0.001, "sgd")
    assert a["param:compile"] is False  # a switch stays a switch (SQLite reads back 0)
    # "best" is each run's own monitored metric: accuracy for a, loss for b
    assert (a["best"], b["best"]) == (0.9, 0.5)
    # a queued run has no metric values: null, the key still present
    assert c["best:val/loss"] is None and c["best"] is None and c["param:lr"] == 0.01
    assert a["created_at"].endswith("+00:00")
    # without column=, no values; a run's own page has none either
    plain = client.get(f"{API}/projects/{project}/runs").json()["items"]
    assert all(item["values"] == {} for item in plain)
    assert client.get(f"{API}/runs/{runs.a}").json()["values"] == {}


def test_values_follow_the_page_sort_and_filter(client: TestClient, runs: Runs) -> None:
    project = _project_of(client, runs.a)
    response = client.get(
        f"{API}/projects/{project}/runs",
        params={
            "sort": "best:val/loss",
            "order": "asc",
            "filter": ["best:val/loss<=0.5"],
            "column": ["best:val/loss"],
        },
    )
    items = response.json()["items"]
    assert [(i["id"], i["values"]["best:val/loss"]) for i in items] == [
        (runs.a, 0.3),
        (runs.b, 0.5),
    ]


def test_a_bad_column_key_is_a_422_naming_it(client: TestClient, runs: Runs) -> None:
    project = _project_of(client, runs.a)
    response = client.get(f"{API}/projects/{project}/runs", params={"column": ["param:nope"]})
    assert response.status_code == 422
    assert "nope" in response.json()["error"]["message"]
    many = client.get(f"{API}/projects/{project}/runs", params={"column": ["best"] * 41})
    assert many.status_code == 422


def test_run_keys_list_the_metrics_logged_and_the_config_fields(
    client: TestClient, runs: Runs
) -> None:
    project = _project_of(client, runs.a)
    response = client.get(f"{API}/projects/{project}/run-keys")
    assert response.status_code == 200, response.text
    body = response.json()
    metrics = {m["name"]: m for m in body["metrics"]}
    assert metrics["val/acc@1"] == {"name": "val/acc@1", "direction": "max", "runs": 2}
    assert metrics["val/loss"]["direction"] == "min"
    params = [p["name"] for p in body["params"]]
    assert params[:3] == ["model_flavour", "epochs", "batch_size"]
    assert {"name": "lr", "type": "number", "summary": True} in body["params"]
    assert {"name": "compile", "type": "bool", "summary": False} in body["params"]
    # every key offered is one the list accepts
    columns = [f"best:{m}" for m, v in metrics.items() if v["direction"]] + [
        f"param:{p}" for p in params[:30]
    ]
    listed = client.get(f"{API}/projects/{project}/runs", params={"column": columns[:40]})
    assert listed.status_code == 200, listed.text

    empty = client.post(f"{API}/projects", json={"name": "empty"}).json()["id"]
    assert client.get(f"{API}/projects/{empty}/run-keys").json()["metrics"] == []
    missing = client.get(f"{API}/projects/999999/run-keys")
    assert missing.status_code == 404 and "project 999999" in missing.json()["error"]["message"]


def test_counts_per_state_follow_the_filters_but_state(client: TestClient, runs: Runs) -> None:
    project = _project_of(client, runs.a)
    response = client.get(f"{API}/projects/{project}/runs/counts")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "total": 3,
        "states": {"queued": 1, "running": 1, "succeeded": 1, "failed": 0, "canceled": 0},
    }
    filtered = client.get(
        f"{API}/projects/{project}/runs/counts", params={"filter": ["param:lr>=0.005"]}
    ).json()
    assert filtered["total"] == 2 and filtered["states"]["running"] == 0
    assert (
        client.get(f"{API}/projects/{project}/runs/counts", params={"q": "zzz"}).json()["total"]
        == 0
    )
    bad = client.get(f"{API}/projects/{project}/runs/counts", params={"filter": ["bogus>1"]})
    assert bad.status_code == 422 and "bogus" in bad.json()["error"]["message"]
    assert client.get(f"{API}/projects/999999/runs/counts").status_code == 404


def _feed(app: FastAPI) -> list[dict]:
    with app.state.vy.sessions() as session:
        rows = session.scalars(select(FeedEvent).where(FeedEvent.topic == "runs")).all()
        return [row.payload for row in rows]


def test_a_run_moves_into_a_group_and_out_again(client: TestClient, app: FastAPI) -> None:
    project = client.post(f"{API}/projects", json={"name": "p"}).json()["id"]
    other = client.post(f"{API}/projects", json={"name": "o"}).json()["id"]
    group = client.post(f"{API}/projects/{project}/groups", json={"name": "g"}).json()["id"]
    foreign = client.post(f"{API}/projects/{other}/groups", json={"name": "g"}).json()["id"]
    run = add_run(app, project, state=RunState.running)

    moved = client.patch(f"{API}/runs/{run}", json={"group_id": group})
    assert moved.status_code == 200, moved.text
    assert moved.json()["group_id"] == group and moved.json()["state"] == "running"
    listed = client.get(f"{API}/projects/{project}/runs", params={"group_id": group}).json()
    assert [item["id"] for item in listed["items"]] == [run]
    assert {"run_id": run, "group_id": group, "state": "running"}.items() <= _feed(app)[-1].items()

    # left out: unchanged; null: out of its group
    assert client.patch(f"{API}/runs/{run}", json={}).json()["group_id"] == group
    assert client.patch(f"{API}/runs/{run}", json={"group_id": None}).json()["group_id"] is None

    wrong = client.patch(f"{API}/runs/{run}", json={"group_id": foreign})
    assert wrong.status_code == 404 and f"group {foreign}" in wrong.json()["error"]["message"]
    assert client.patch(f"{API}/runs/999999", json={"group_id": group}).status_code == 404
    for bad in ({"group_id": 0}, {"group_id": "1"}, {"name": "x"}):
        assert client.patch(f"{API}/runs/{run}", json=bad).status_code == 422, bad


def test_many_runs_move_at_once_all_or_nothing(client: TestClient, app: FastAPI) -> None:
    project = client.post(f"{API}/projects", json={"name": "p"}).json()["id"]
    other = client.post(f"{API}/projects", json={"name": "o"}).json()["id"]
    group = client.post(f"{API}/projects/{project}/groups", json={"name": "g"}).json()["id"]
    ours = [add_run(app, project, name=f"r{i}") for i in range(3)]
    theirs = add_run(app, other, name="elsewhere")
    url = f"{API}/projects/{project}/runs/group"

    refused = client.post(url, json={"run_ids": [*ours, theirs], "group_id": group})
    assert refused.status_code == 404
    assert f"runs {theirs} are not runs of project {project}" in refused.json()["error"]["message"]
    assert all(client.get(f"{API}/runs/{r}").json()["group_id"] is None for r in ours)

    before = len(_feed(app))
    # 3.0 is an integer in JSON Schema: accepted, like any integer field's
    done = client.post(url, json={"run_ids": [ours[2], float(ours[0]), ours[2]], "group_id": group})
    assert done.status_code == 200, done.text
    assert done.json() == {"group_id": group, "run_ids": sorted([ours[0], ours[2]])}
    grouped = client.get(f"{API}/projects/{project}/runs", params={"group_id": group}).json()
    assert sorted(item["id"] for item in grouped["items"]) == sorted([ours[0], ours[2]])
    assert len(_feed(app)) == before + 2
    # runs already there do not move again (no event)
    client.post(url, json={"run_ids": [ours[0]], "group_id": group})
    assert len(_feed(app)) == before + 2

    out = client.post(url, json={"run_ids": ours, "group_id": None})
    assert out.json()["group_id"] is None
    assert all(client.get(f"{API}/runs/{r}").json()["group_id"] is None for r in ours)

    foreign = client.post(f"{API}/projects/{other}/groups", json={"name": "g"}).json()["id"]
    assert client.post(url, json={"run_ids": ours, "group_id": foreign}).status_code == 404
    assert (
        client.post(
            f"{API}/projects/999999/runs/group", json={"run_ids": ours, "group_id": None}
        ).status_code
        == 404
    )
    for bad in (
        {"run_ids": [], "group_id": None},
        {"run_ids": ours},
        {"run_ids": [0], "group_id": None},
    ):
        assert client.post(url, json=bad).status_code == 422, bad


def test_deleting_a_group_leaves_its_runs_ungrouped(client: TestClient, app: FastAPI) -> None:
    project = client.post(f"{API}/projects", json={"name": "p"}).json()["id"]
    group = client.post(f"{API}/projects/{project}/groups", json={"name": "g"}).json()["id"]
    run = add_run(app, project)
    client.post(f"{API}/projects/{project}/runs/group", json={"run_ids": [run], "group_id": group})
    assert client.delete(f"{API}/groups/{group}").status_code == 204
    assert client.get(f"{API}/runs/{run}").json()["group_id"] is None


def test_run_key_routes_need_authentication(anon: TestClient) -> None:
    assert assert_routes_need_auth(anon, run_keys_router.router) == 1
