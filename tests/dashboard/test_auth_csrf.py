"""CSRF: changes made with the session cookie need the session's token in X-CSRF-Token; API
tokens need none; the login takes only JSON; TensorBoard's posts and WebSockets must come from
the dashboard's own origin."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from starlette.websockets import WebSocketDisconnect

from tests.dashboard.conftest import ADMIN_PASSWORD, AUTH
from visionyard.db.models import LoginSession, Project

API = "/api/v1"
LOGIN = {"username": "admin", "password": ADMIN_PASSWORD}


def projects(app: FastAPI) -> list[str]:
    with app.state.vy.read_sessions() as session:
        return list(session.scalars(select(Project.name)))


@pytest.fixture
def browser(app: FastAPI) -> TestClient:
    """A client holding a session cookie (and the readable CSRF cookie), sending no header."""
    with TestClient(app) as c:
        assert c.post(f"{API}/auth/login", json=LOGIN).status_code == 200
        yield c


def test_a_change_with_the_session_cookie_needs_the_csrf_token(
    app: FastAPI, browser: TestClient
) -> None:
    token = browser.cookies["vy_csrf"]
    missing = browser.post(f"{API}/projects", json={"name": "no-header"})
    assert missing.status_code == 403, missing.text
    error = missing.json()["error"]
    assert error["code"] == "csrf"
    assert "X-CSRF-Token" in error["message"] and "vy_csrf" in error["message"]

    wrong = browser.post(
        f"{API}/projects", json={"name": "wrong-header"}, headers={"X-CSRF-Token": token + "x"}
    )
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "csrf"
    assert "does not match" in wrong.json()["error"]["message"]

    # What an HTML form on another site sends: form-encoded, no header, the cookie attached.
    form = browser.post(
        f"{API}/projects",
        content=b"name=from-a-form",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 403 and form.json()["error"]["code"] == "csrf"
    assert projects(app) == []

    made = browser.post(
        f"{API}/projects", json={"name": "with-header"}, headers={"X-CSRF-Token": token}
    )
    assert made.status_code == 201, made.text
    assert projects(app) == ["with-header"]

    # Every unsafe method is checked; reads are not.
    project_id = made.json()["id"]
    config = f"{API}/configs/1"  # PUT: the one route with it; checked before it is looked up
    for method, path in (("PATCH", f"{API}/projects/{project_id}"), ("PUT", config)):
        refused = browser.request(method, path, json={"name": "x"})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf"
    refused = browser.delete(f"{API}/projects/{project_id}")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf"
    assert browser.get(f"{API}/projects/{project_id}").status_code == 200
    assert projects(app) == ["with-header"]


def test_a_token_of_another_session_does_not_pass(app: FastAPI, browser: TestClient) -> None:
    with TestClient(app) as other:
        assert other.post(f"{API}/auth/login", json=LOGIN).status_code == 200
        foreign = other.cookies["vy_csrf"]
    refused = browser.post(f"{API}/projects", json={"name": "x"}, headers={"X-CSRF-Token": foreign})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf"


def test_api_token_requests_need_no_csrf_token(app: FastAPI, client: TestClient) -> None:
    assert client.post(f"{API}/projects", json={"name": "by-token"}).status_code == 201
    # A bearer token wins over a cookie sent alongside: still no CSRF token needed.
    with TestClient(app, headers=AUTH) as both:
        assert both.post(f"{API}/auth/login", json=LOGIN).status_code == 200
        assert both.post(f"{API}/projects", json={"name": "both"}).status_code == 201


def test_a_session_without_a_csrf_secret_is_told_to_log_in_again(
    app: FastAPI, browser: TestClient
) -> None:
    with app.state.vy.sessions() as session, session.begin():
        session.execute(update(LoginSession).values(csrf_hash=None))
    refused = browser.post(
        f"{API}/projects", json={"name": "x"}, headers={"X-CSRF-Token": browser.cookies["vy_csrf"]}
    )
    assert refused.status_code == 403 and "log in again" in refused.json()["error"]["message"]


FORM_LOGIN = b"username=admin&password=" + ADMIN_PASSWORD.encode()
JSON_LOGIN = b'{"username": "admin", "password": "' + ADMIN_PASSWORD.encode() + b'"}'


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (FORM_LOGIN, "application/x-www-form-urlencoded"),
        (JSON_LOGIN, "text/plain"),
        (JSON_LOGIN, None),
    ],
    ids=["form", "text-plain", "no-type"],
)
def test_the_login_takes_only_json(
    app: FastAPI, anon: TestClient, body: bytes, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    refused = anon.post(f"{API}/auth/login", content=body, headers=headers)
    assert refused.status_code == 415, refused.text
    assert refused.json()["error"]["code"] == "unsupported_media_type"
    assert "application/json" in refused.json()["error"]["message"]
    assert "vy_session" not in anon.cookies
    with app.state.vy.read_sessions() as session:
        assert session.scalars(select(LoginSession)).all() == []
    ok = anon.post(f"{API}/auth/login", json=LOGIN)
    assert ok.status_code == 200


def test_tensorboard_posts_with_the_cookie_must_come_from_the_dashboard(
    browser: TestClient,
) -> None:
    foreign = browser.post("/tb/1/data/plugin/x", headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403 and foreign.json()["error"]["code"] == "csrf"
    assert browser.post("/tb/1/data/plugin/x").status_code == 403  # no Origin at all
    # The dashboard's own origin gets past the check (to the missing run's 404).
    own = browser.post("/tb/1/data/plugin/x", headers={"Origin": "http://testserver"})
    assert own.status_code == 404, own.text


def test_a_cookie_websocket_from_another_origin_is_refused(browser: TestClient) -> None:
    evil = {"Origin": "http://evil.example"}
    with (
        browser.websocket_connect(f"{API}/ws", headers=evil) as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws.receive_json()
    assert closed.value.code == 4403
    # From the dashboard's own origin, the same cookie is accepted.
    with browser.websocket_connect(f"{API}/ws", headers={"Origin": "http://testserver"}) as ws:
        ws.send_json({"op": "subscribe", "topic": "runs"})
        assert ws.receive_json()["type"] == "subscribed"
