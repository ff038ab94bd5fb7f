"""The audit log: changes through the API are recorded with who, when, what and from where, in
the change's own transaction; reads and refused or failed changes are not; admins read and
filter it (on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.dashboard.seed import PASSWORD, project_with_one_of_each, token, user

API = "/api/v1"


def audit(client: TestClient, **params: object) -> list[dict]:
    response = client.get(f"{API}/audit", params={"limit": 200, **params})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def test_changes_are_recorded_with_who_what_and_where(app: FastAPI, client: TestClient) -> None:
    user(app, "ana")
    seeded = project_with_one_of_each(app, "p", {"ana": "owner"})
    ana = TestClient(app, headers={"Authorization": f"Bearer {token(app, 'ana')}"},
                     client=("10.1.2.3", 4000))  # fmt: skip
    start = len(audit(client))
    assert ana.get(f"{API}/runs/{seeded.run_id}").status_code == 200  # a read: not recorded
    added = ana.put(f"{API}/projects/{seeded.project_id}/members",
                    json={"username": "admin", "role": "viewer"})  # fmt: skip
    assert added.status_code == 200
    tagged = ana.put(f"{API}/runs/{seeded.run_id}/tags", json={"tags": ["keep"]})
    assert tagged.status_code == 200, tagged.text
    made = client.post(f"{API}/users", json={"username": "bo", "password": "secret-password-1"})
    assert made.status_code == 201
    events = audit(client)
    assert len(events) == start + 3
    users, tags, member = events[:3]  # newest first
    assert member["action"] == "setProjectMember" and member["username"] == "ana"
    assert member["project_id"] == seeded.project_id and member["ip"] == "10.1.2.3"
    assert member["details"]["body"] == {"username": "admin", "role": "viewer"}
    assert member["details"]["via"] == "token"
    assert tags["action"] == "setRunTags" and tags["target"] == f"{API}/runs/{seeded.run_id}/tags"
    assert tags["details"]["path"] == {"run_id": seeded.run_id}
    # A password never reaches the log.
    assert users["action"] == "createUser" and users["details"]["body"]["password"] == "***"
    assert "secret-password-1" not in str(events)


def test_refused_and_failed_changes_are_not_recorded(app: FastAPI, client: TestClient) -> None:
    user(app, "vi")
    seeded = project_with_one_of_each(app, "p", {"vi": "viewer"})
    vi = TestClient(app, headers={"Authorization": f"Bearer {token(app, 'vi')}"})
    before = audit(client)
    assert vi.post(f"{API}/runs/{seeded.run_id}/cancel").status_code == 403  # refused
    # Allowed but failing: the run already ended (409); its transaction rolls back, entry too.
    assert client.post(f"{API}/runs/{seeded.run_id}/cancel").status_code == 409
    assert audit(client) == before


def test_admins_filter_by_user_project_action_and_time(app: FastAPI, client: TestClient) -> None:
    user(app, "ana")
    first = project_with_one_of_each(app, "p1", {"ana": "owner"})
    second = project_with_one_of_each(app, "p2", {"ana": "owner"})
    ana = TestClient(app, headers={"Authorization": f"Bearer {token(app, 'ana')}"})
    for seeded in (first, second):
        body = {"group_id": seeded.group_id}
        assert ana.patch(f"{API}/runs/{seeded.run_id}", json=body).status_code == 200
    assert (
        client.patch(f"{API}/projects/{first.project_id}", json={"description": "d"}).status_code
        == 200
    )
    assert {e["project_id"] for e in audit(client, username="ana")} == {
        first.project_id,
        second.project_id,
    }
    assert [e["action"] for e in audit(client, project_id=first.project_id)] == [
        "updateProject",
        "updateRun",
    ]
    assert len(audit(client, action="updateRun")) == 2
    ana_id = audit(client, username="ana")[0]["user_id"]
    assert len(audit(client, user_id=ana_id)) == 2
    now = datetime.now(UTC)
    assert audit(client, since=(now + timedelta(minutes=5)).isoformat()) == []
    assert (
        len(audit(client, until=(now + timedelta(minutes=5)).isoformat(), action="updateRun")) == 2
    )
    assert len(audit(client, limit=1)) == 1
    assert ana.get(f"{API}/audit").status_code == 403
    # A new project is named in the entry that created it.
    made = ana.post(f"{API}/projects", json={"name": "p3"}).json()
    assert [e["action"] for e in audit(client, project_id=made["id"])] == ["createProject"]


def test_times_are_iso_8601_not_numbers(client: TestClient) -> None:
    refused = client.get(f"{API}/audit", params={"until": "0.5"})
    assert refused.status_code == 422 and "ISO 8601" in refused.json()["error"]["message"]
    assert client.get(f"{API}/audit", params={"since": "2026-12-06T10:00:00Z"}).status_code == 200


def test_logins_and_failed_logins_are_recorded(app: FastAPI, client: TestClient) -> None:
    user(app, "ana")
    browser = TestClient(app, client=("10.9.8.7", 5000))
    wrong = browser.post(f"{API}/auth/login", json={"username": "ana", "password": "nope"})
    assert wrong.status_code == 401
    good = browser.post(f"{API}/auth/login", json={"username": "ana", "password": PASSWORD})
    assert good.status_code == 200
    ok, failed = audit(client)[:2]
    assert (ok["action"], ok["username"], ok["ip"]) == ("login", "ana", "10.9.8.7")
    assert ok["user_id"] is not None
    assert (failed["action"], failed["username"], failed["user_id"]) == ("loginFailed", "ana", None)
    assert failed["details"] == {"reason": "wrong username or password"}
    assert "nope" not in str(audit(client))
    assert [e["action"] for e in audit(client, action="loginFailed")] == ["loginFailed"]
