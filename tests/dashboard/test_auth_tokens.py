"""API tokens with a scope ("read" | "write") and an optional list of projects."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.dashboard.conftest import log_in
from visionyard.db.models import ApiToken, ProjectMember

API = "/api/v1"


def make_projects(client: TestClient, *names: str) -> list[int]:
    return [client.post(f"{API}/projects", json={"name": n}).json()["id"] for n in names]


def add_member(app: FastAPI, project_id: int, user_id: int, role: str = "viewer") -> None:
    with app.state.vy.sessions() as session, session.begin():
        session.add(ProjectMember(project_id=project_id, user_id=user_id, role=role))


def stored(app: FastAPI, token_id: int) -> ApiToken:
    with app.state.vy.read_sessions() as session:
        token = session.scalar(select(ApiToken).where(ApiToken.id == token_id))
        assert token is not None
        return token


def test_a_token_defaults_to_write_on_every_project(app: FastAPI, client: TestClient) -> None:
    made = client.post(f"{API}/tokens", json={"name": "ci"})
    assert made.status_code == 201, made.text
    assert (made.json()["scope"], made.json()["project_ids"]) == ("write", None)
    token = stored(app, made.json()["id"])
    assert (token.scope, token.project_ids) == ("write", None)


def test_a_read_token_limited_to_projects(app: FastAPI, client: TestClient, anon) -> None:
    first, second = make_projects(client, "a", "b")
    made = client.post(
        f"{API}/tokens",
        json={"name": "reader", "scope": "read", "project_ids": [second, first, second]},
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["scope"] == "read" and body["project_ids"] == [first, second]  # sorted, once
    listed = next(t for t in client.get(f"{API}/tokens").json()["items"] if t["id"] == body["id"])
    assert listed["scope"] == "read" and listed["project_ids"] == [first, second]
    token = stored(app, body["id"])
    assert (token.scope, token.project_ids) == ("read", [first, second])
    # It authenticates (what it may do is decided by the roles and the scope, elsewhere).
    me = anon.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200


def test_a_missing_project_is_a_422_naming_it(client: TestClient) -> None:
    [existing] = make_projects(client, "a")
    refused = client.post(
        f"{API}/tokens", json={"name": "t", "project_ids": [existing, 9999, 8888]}
    )
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert "8888, 9999" in error["message"] and error["fields"][0]["field"] == "project_ids"


def test_a_non_admin_may_limit_a_token_only_to_their_projects(
    app: FastAPI, client: TestClient
) -> None:
    mine, theirs = make_projects(client, "mine", "theirs")
    ana = client.post(f"{API}/users", json={"username": "ana", "password": "long-password"})
    add_member(app, mine, ana.json()["id"])
    with TestClient(app) as browser:
        log_in(browser, "ana", "long-password")
        ok = browser.post(f"{API}/tokens", json={"name": "t", "project_ids": [mine]})
        assert ok.status_code == 201 and ok.json()["project_ids"] == [mine]
        refused = browser.post(f"{API}/tokens", json={"name": "t", "project_ids": [mine, theirs]})
        assert refused.status_code == 422
        message = refused.json()["error"]["message"]
        assert f"not a member of project {theirs}" in message
    # An admin may name any project that exists.
    assert (
        client.post(f"{API}/tokens", json={"name": "t", "project_ids": [theirs]}).status_code == 201
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "agent", "scope": "read"}, "scope"),
        ({"kind": "agent", "project_ids": [1]}, "project_ids"),
        ({"scope": "admin"}, "scope"),
        ({"project_ids": [0]}, "project_ids.0"),
        ({"project_ids": []}, "project_ids"),
        ({"project_ids": ["1"]}, "project_ids.0"),
    ],
)
def test_invalid_scope_and_project_lists_are_422s_naming_the_field(
    client: TestClient, body: dict, field: str
) -> None:
    make_projects(client, "a")
    refused = client.post(f"{API}/tokens", json={"name": "t", **body})
    assert refused.status_code == 422, refused.text
    assert field in [f["field"] for f in refused.json()["error"]["fields"]]


def test_an_agent_token_is_write_on_every_project(client: TestClient) -> None:
    made = client.post(f"{API}/tokens", json={"name": "gpu-box", "kind": "agent"}).json()
    assert (made["kind"], made["scope"], made["project_ids"]) == ("agent", "write", None)
    refused = client.post(f"{API}/tokens", json={"name": "t", "kind": "agent", "scope": "read"})
    assert "agent token always has scope 'write'" in refused.json()["error"]["message"]
