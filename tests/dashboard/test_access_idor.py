"""Object-level access: user B probes every id-taking route, file route, TensorBoard view and
live topic of user A's project with valid ids, and learns nothing (on SQLite and PostgreSQL).

Each refusal must be indistinguishable from asking for an id that does not exist: same status,
same words."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import insert

from tests.dashboard.seed import Seeded, project_with_one_of_each, token, user
from tests.dashboard.test_openapi import PATH_VALUES, REQUIRED_QUERY
from visionyard.db.models import Agent, FeedEvent

API = "/api/v1"
MISSING = 999_999


@dataclass
class Two:
    app: FastAPI
    a: TestClient
    b: TestClient
    mine: Seeded  # A's project
    theirs: Seeded  # B's project


@pytest.fixture
def two(app: FastAPI) -> Iterator[Two]:
    with TestClient(app):
        user(app, "alice")
        user(app, "bob")
        mine = project_with_one_of_each(app, "alpha", {"alice": "owner"})
        theirs = project_with_one_of_each(app, "beta", {"bob": "owner"})
        headers_a = {"Authorization": f"Bearer {token(app, 'alice')}"}
        headers_b = {"Authorization": f"Bearer {token(app, 'bob')}"}
        with TestClient(app, headers=headers_a) as a, TestClient(app, headers=headers_b) as b:
            yield Two(app, a, b, mine, theirs)


def _fill(path: str, ids: dict[str, int]) -> str | None:
    names = re.findall(r"\{(\w+)\}", path)
    if not any(n in ids for n in names):
        return None  # not about a project's resource
    for name in names:
        value = ids.get(name, PATH_VALUES.get(name, 1))
        path = path.replace(f"{{{name}}}", str(value))
    return path


def _words(message: str) -> str:
    """A message with its numbers blanked out."""
    return re.sub(r"\b\d+\b", "<id>", message)


def _answer(response: Any) -> tuple[int, str]:
    return response.status_code, _words(response.json()["error"]["message"])


def test_b_probing_a_s_ids_gets_what_a_missing_id_gets(two: Two) -> None:
    probed = 0
    for path, operations in two.app.openapi()["paths"].items():
        for method in operations:
            foreign = _fill(path, two.mine.ids())
            if foreign is None:
                continue
            missing = _fill(path, dict.fromkeys(two.mine.ids(), MISSING))
            assert missing is not None
            options: dict[str, Any] = {"params": REQUIRED_QUERY}
            if method in ("post", "put", "patch"):
                options["json"] = {}
            got = two.b.request(method.upper(), foreign, **options)
            baseline = two.b.request(method.upper(), missing, **options)
            assert got.status_code == 404, (method, foreign, got.status_code, got.text)
            # Same words but for the id itself: nothing says "exists, but not yours".
            assert _answer(got) == _answer(baseline), (method, foreign)
            probed += 1
    assert probed >= 50  # every operation with a project resource in its path
    # A still has all of it.
    assert two.a.get(f"{API}/runs/{two.mine.run_id}").status_code == 200
    assert two.a.get(f"{API}/projects/{two.mine.project_id}").json()["name"] == "alpha"


def test_lists_and_counts_show_only_the_callers_projects(two: Two) -> None:
    projects = two.b.get(f"{API}/projects").json()
    assert [p["name"] for p in projects["items"]] == ["beta"] and projects["total"] == 1
    runs = two.b.get(f"{API}/runs").json()
    assert {r["project_id"] for r in runs["items"]} == {two.theirs.project_id}
    assert runs["total"] == 2
    assert two.b.get(f"{API}/runs", params={"project_id": two.mine.project_id}).json()["total"] == 0
    compared = two.b.get(
        f"{API}/runs/compare", params={"ids": [two.theirs.run_id, two.mine.run_id]}
    )
    assert compared.status_code == 404
    assert str(two.mine.run_id) in compared.json()["error"]["message"]
    assert str(two.theirs.run_id) not in compared.json()["error"]["message"]


def test_an_agent_working_for_a_shows_b_no_run(two: Two) -> None:
    with two.app.state.vy.sessions() as session, session.begin():
        agent = Agent(name="gpu-0", current_run_id=two.mine.run_id)
        session.add(agent)
    seen_by_b = two.b.get(f"{API}/agents").json()["items"]
    seen_by_a = two.a.get(f"{API}/agents").json()["items"]
    assert [a["current_run"] for a in seen_by_b] == [None]
    assert [a["current_run"]["id"] for a in seen_by_a] == [two.mine.run_id]


def test_tensorboard_views_of_a_s_runs_are_not_b_s(two: Two) -> None:
    both = "+".join(str(i) for i in sorted((two.mine.run_id, two.theirs.run_id)))
    for key in (f"{two.mine.run_id}", both):
        got = two.b.get(f"/tb/{key}/", follow_redirects=False)
        assert got.status_code == 404, (key, got.status_code)
        assert got.json()["error"]["message"].startswith(f"run {two.mine.run_id} does not exist")


def _recv(ws: Any) -> dict[str, Any]:
    while True:
        message = ws.receive_json()
        if message["type"] != "ping":
            return message


def test_live_topics_of_a_s_runs_are_refused_and_the_runs_topic_filtered(two: Two) -> None:
    with two.b.websocket_connect(f"{API}/ws") as ws:
        ws.send_json({"op": "subscribe", "topic": f"run:{two.mine.run_id}", "after": None})
        refused = _recv(ws)
        ws.send_json({"op": "subscribe", "topic": f"run:{MISSING}", "after": None})
        missing = _recv(ws)
        assert refused["type"] == missing["type"] == "error"
        assert _words(refused["message"]) == _words(missing["message"])
        ws.send_json({"op": "subscribe", "topic": "runs", "after": None})
        assert _recv(ws)["type"] == "subscribed"
        # One change in each project, through the real writer (assigning runs to groups).
        for client, seeded in ((two.a, two.mine), (two.b, two.theirs)):
            moved = client.post(
                f"{API}/projects/{seeded.project_id}/runs/group",
                json={"run_ids": [seeded.run_id], "group_id": seeded.group_id},
            )
            assert moved.status_code == 200, moved.text
        event = _recv(ws)
        assert event["type"] == "event" and event["data"]["run_id"] == two.theirs.run_id
        assert event["data"]["project_id"] == two.theirs.project_id
        # Nothing else is pending for B: a ping answers next, not A's event.
        ws.send_json({"op": "ping"})
        assert _recv(ws) == {"type": "pong"}
    with two.a.websocket_connect(f"{API}/ws") as ws:  # A sees its own, from history
        ws.send_json({"op": "subscribe", "topic": "runs", "after": 0})
        assert _recv(ws)["type"] == "subscribed"
        assert _recv(ws)["data"]["run_id"] == two.mine.run_id


def test_a_run_event_written_before_projects_were_recorded_reaches_admins_only(
    two: Two, client: TestClient
) -> None:
    with two.app.state.vy.sessions() as session, session.begin():
        session.execute(
            insert(FeedEvent).values(
                topic="runs", payload={"run_id": two.mine.run_id, "state": "queued"},
                created_at=time.time(),
            )
        )  # fmt: skip
    with two.a.websocket_connect(f"{API}/ws") as ws:
        ws.send_json({"op": "subscribe", "topic": "runs", "after": 0})
        assert _recv(ws)["type"] == "subscribed"
        ws.send_json({"op": "ping"})
        assert _recv(ws) == {"type": "pong"}  # no project on it: not sent to a non-admin
    with client.websocket_connect(f"{API}/ws") as ws:
        ws.send_json({"op": "subscribe", "topic": "runs", "after": 0})
        assert _recv(ws)["type"] == "subscribed"
        assert _recv(ws)["data"]["run_id"] == two.mine.run_id


def test_a_removed_member_stops_receiving_the_runs_events(two: Two) -> None:
    user(two.app, "carl")
    owner = two.a
    members = f"{API}/projects/{two.mine.project_id}/members"
    assert owner.put(members, json={"username": "carl", "role": "viewer"}).status_code == 200
    headers = {"Authorization": f"Bearer {token(two.app, 'carl')}"}
    two.app.state.vy.services["events"].ping_interval = 0.05  # access is re-checked per ping
    topic = f"run:{two.mine.run_id}"
    with TestClient(two.app, headers=headers) as carl, carl.websocket_connect(f"{API}/ws") as ws:
        ws.send_json({"op": "subscribe", "topic": topic, "after": None})
        assert _recv(ws)["type"] == "subscribed"
        carl_id = next(m["user_id"] for m in owner.get(members).json()["items"]
                       if m["username"] == "carl")  # fmt: skip
        assert owner.delete(f"{members}/{carl_id}").status_code == 204
        ended = _recv(ws)
        assert ended["type"] == "error" and ended["topic"] == topic
        assert ended["message"].startswith(f"run {two.mine.run_id} does not exist")
