"""Experiment groups API: per-project CRUD; deleting a group keeps its runs, ungrouped."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.dashboard.test_projects import add_run, error_fields
from visionyard.db.models import Run

API = "/api/v1"


def test_group_crud_duplicates_and_validation(client: TestClient) -> None:
    pid = client.post(f"{API}/projects", json={"name": "p"}).json()["id"]
    other = client.post(f"{API}/projects", json={"name": "other"}).json()["id"]
    made = client.post(f"{API}/projects/{pid}/groups", json={"name": "lr-sweep"})
    assert made.status_code == 201, made.text
    group = made.json()
    assert group["project_id"] == pid and group["description"] == ""

    assert client.post(f"{API}/projects/{pid}/groups", json={"name": "lr-sweep"}).status_code == 409
    # names are unique per project only
    assert (
        client.post(f"{API}/projects/{other}/groups", json={"name": "lr-sweep"}).status_code == 201
    )
    nowhere = client.post(f"{API}/projects/999999/groups", json={"name": "x"})
    assert nowhere.status_code == 404 and "project 999999" in nowhere.json()["error"]["message"]
    assert client.get(f"{API}/projects/999999/groups").status_code == 404

    gid = group["id"]
    assert client.get(f"{API}/groups/{gid}").json() == group
    assert client.get(f"{API}/groups/999999").status_code == 404
    assert client.patch(f"{API}/groups/999999", json={"name": "x"}).status_code == 404
    assert client.delete(f"{API}/groups/999999").status_code == 404
    assert client.get(f"{API}/groups/0").status_code == 422

    updated = client.patch(f"{API}/groups/{gid}", json={"description": "lr 1e-3..1e-1"})
    assert updated.json()["description"] == "lr 1e-3..1e-1" and updated.json()["name"] == "lr-sweep"
    client.post(f"{API}/projects/{pid}/groups", json={"name": "aug"})
    assert client.patch(f"{API}/groups/{gid}", json={"name": "aug"}).status_code == 409
    assert client.patch(f"{API}/groups/{gid}", json={"name": "lr"}).json()["name"] == "lr"

    for bad, field in (
        ({"name": ""}, "name"),
        ({}, "name"),
        ({"name": "n\x00"}, "name"),
        ({"name": "ok", "project_id": other}, "project_id"),
    ):
        response = client.post(f"{API}/projects/{pid}/groups", json=bad)
        assert response.status_code == 422 and field in error_fields(response), bad


def test_list_groups_pages_sorts_filters_per_project(client: TestClient) -> None:
    pid = client.post(f"{API}/projects", json={"name": "p"}).json()["id"]
    other = client.post(f"{API}/projects", json={"name": "o"}).json()["id"]
    for name in ("c-sweep", "a-base", "b-sweep"):
        client.post(f"{API}/projects/{pid}/groups", json={"name": name})
    client.post(f"{API}/projects/{other}/groups", json={"name": "z-elsewhere"})

    listed = client.get(f"{API}/projects/{pid}/groups").json()
    assert listed["total"] == 3
    assert [g["name"] for g in listed["items"]] == ["b-sweep", "a-base", "c-sweep"]
    by_name = client.get(
        f"{API}/projects/{pid}/groups", params={"sort": "name", "order": "asc", "limit": 2}
    ).json()
    assert [g["name"] for g in by_name["items"]] == ["a-base", "b-sweep"]
    assert by_name["total"] == 3
    filtered = client.get(f"{API}/projects/{pid}/groups", params={"q": "SWEEP", "offset": 1})
    assert filtered.json()["total"] == 2 and len(filtered.json()["items"]) == 1
    bad_sort = client.get(f"{API}/projects/{pid}/groups", params={"sort": "updated_at"})
    assert bad_sort.status_code == 422 and "query.sort" in error_fields(bad_sort)


def test_delete_group_keeps_its_runs(client: TestClient, app: FastAPI) -> None:
    pid = client.post(f"{API}/projects", json={"name": "p"}).json()["id"]
    gid = client.post(f"{API}/projects/{pid}/groups", json={"name": "g"}).json()["id"]
    keep = client.post(f"{API}/projects/{pid}/groups", json={"name": "keep"}).json()["id"]
    grouped = [add_run(app, pid, name=f"r{i}", group_id=gid) for i in range(2)]
    untouched = add_run(app, pid, name="other", group_id=keep)

    assert client.delete(f"{API}/groups/{gid}").status_code == 204
    assert client.get(f"{API}/groups/{gid}").status_code == 404
    with app.state.vy.sessions() as session:
        for run_id in grouped:
            run = session.get(Run, run_id)
            assert run is not None and run.group_id is None
        assert session.get(Run, untouched).group_id == keep


def test_group_routes_need_authentication(anon: TestClient) -> None:
    for method, path in (
        ("GET", "/projects/1/groups"),
        ("POST", "/projects/1/groups"),
        ("GET", "/groups/1"),
        ("PATCH", "/groups/1"),
        ("DELETE", "/groups/1"),
    ):
        kwargs = {"json": {"name": "x"}} if method in ("POST", "PATCH") else {}
        assert anon.request(method, f"{API}{path}", **kwargs).status_code == 401, (method, path)
