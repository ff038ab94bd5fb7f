"""Project members: the creator owns the project; owners add, change and remove members; a
project always keeps an owner; each caller sees their own role (on SQLite and PostgreSQL)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.dashboard.seed import token, user

API = "/api/v1"


def as_user(app: FastAPI, name: str) -> TestClient:
    user(app, name)
    return TestClient(app, headers={"Authorization": f"Bearer {token(app, name)}"})


def test_the_creator_owns_the_project_and_manages_its_members(
    app: FastAPI, client: TestClient
) -> None:
    ana, bo = as_user(app, "ana"), as_user(app, "bo")
    project = ana.post(f"{API}/projects", json={"name": "p"}).json()
    assert project["role"] == "owner"
    members = f"{API}/projects/{project['id']}/members"
    assert [(m["username"], m["role"]) for m in ana.get(members).json()["items"]] == [
        ("ana", "owner")
    ]
    assert bo.get(f"{API}/projects").json()["total"] == 0
    assert ana.put(members, json={"username": "bo", "role": "viewer"}).status_code == 200
    assert [p["role"] for p in bo.get(f"{API}/projects").json()["items"]] == ["viewer"]
    assert bo.get(f"{API}/projects/{project['id']}").json()["role"] == "viewer"
    # A viewer reads the members but cannot change them, nor rename the project.
    assert len(bo.get(members).json()["items"]) == 2
    refused = bo.put(members, json={"username": "bo", "role": "owner"})
    assert refused.status_code == 403 and "needs owner" in refused.json()["error"]["message"]
    assert bo.patch(f"{API}/projects/{project['id']}", json={"name": "x"}).status_code == 403
    # Promoted to editor, then removed: the project is gone for bo.
    assert ana.put(members, json={"username": "bo", "role": "editor"}).json()["role"] == "editor"
    bo_id = next(m["user_id"] for m in ana.get(members).json()["items"] if m["username"] == "bo")
    assert ana.delete(f"{members}/{bo_id}").status_code == 204
    assert bo.get(f"{API}/projects/{project['id']}").status_code == 404
    # Admins act as owners everywhere.
    assert client.get(f"{API}/projects/{project['id']}").json()["role"] == "owner"


def test_a_project_always_keeps_an_owner(app: FastAPI) -> None:
    ana = as_user(app, "ana")
    as_user(app, "bo")
    project = ana.post(f"{API}/projects", json={"name": "p"}).json()
    members = f"{API}/projects/{project['id']}/members"
    ana_id = ana.get(members).json()["items"][0]["user_id"]
    stepped_down = ana.put(members, json={"username": "ana", "role": "editor"})
    assert stepped_down.status_code == 409
    assert "only owner" in stepped_down.json()["error"]["message"]
    assert ana.delete(f"{members}/{ana_id}").status_code == 409
    # With a second owner, the first may leave.
    assert ana.put(members, json={"username": "bo", "role": "owner"}).status_code == 200
    assert ana.delete(f"{members}/{ana_id}").status_code == 204


def test_unknown_users_and_non_members_are_named(app: FastAPI) -> None:
    ana = as_user(app, "ana")
    project = ana.post(f"{API}/projects", json={"name": "p"}).json()
    members = f"{API}/projects/{project['id']}/members"
    missing = ana.put(members, json={"username": "nobody", "role": "viewer"})
    assert missing.status_code == 404 and "'nobody'" in missing.json()["error"]["message"]
    bad_role = ana.put(members, json={"username": "ana", "role": "god"})
    assert bad_role.status_code == 422
    assert ana.delete(f"{members}/999").status_code == 404
