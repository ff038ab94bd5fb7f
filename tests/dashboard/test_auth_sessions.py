"""Login sessions: idle and absolute timeouts, the last-use mark, and the caller's own list of
sessions (`GET /sessions`, `DELETE /sessions/{id}`, `POST /sessions/revoke-all`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from tests.dashboard.conftest import ADMIN_PASSWORD, log_in
from visionyard.dashboard.app import create_app
from visionyard.db.models import LoginSession
from visionyard.db.timestamps import as_utc
from visionyard.settings import Settings

API = "/api/v1"


def only_session(app: FastAPI) -> LoginSession:
    with app.state.vy.sessions() as session:
        [row] = session.scalars(select(LoginSession)).all()
        return row


def set_session(app: FastAPI, **values: object) -> None:
    with app.state.vy.sessions() as session, session.begin():
        session.execute(update(LoginSession).values(**values))


def test_login_records_where_the_session_comes_from(app: FastAPI) -> None:
    with TestClient(app, client=("10.1.2.3", 5000), headers={"User-Agent": "Firefox/140"}) as c:
        log_in(c)
    row = only_session(app)
    assert (row.ip, row.user_agent) == ("10.1.2.3", "Firefox/140")
    assert row.csrf_hash is not None and len(row.csrf_hash) == 64
    now = datetime.now(UTC)
    assert abs(as_utc(row.last_seen_at) - now) < timedelta(seconds=30)
    # The absolute end is session_ttl_hours (default a week) after the login.
    assert abs(as_utc(row.expires_at) - (now + timedelta(days=7))) < timedelta(seconds=30)


def test_a_session_unused_for_the_idle_timeout_ends(
    db_url: str, settings_factory: Callable[..., Settings]
) -> None:
    app = create_app(settings_factory(db_url, session_idle_minutes=1.5 / 60))  # 1.5 s
    with TestClient(app) as c:
        log_in(c)
        assert c.get(f"{API}/auth/me").status_code == 200
        time.sleep(2.0)
        ended = c.get(f"{API}/auth/me")
        assert ended.status_code == 401
        assert "unused too long" in ended.json()["error"]["message"]
    app.state.vy.engine.dispose()


def test_use_keeps_a_session_alive_and_is_recorded_at_most_once_a_minute(app: FastAPI) -> None:
    """Default idle timeout: 120 minutes."""
    with TestClient(app) as c:
        log_in(c)
        now = datetime.now(UTC)
        # Seen 30 s ago: not due, no write.
        recent = now - timedelta(seconds=30)
        set_session(app, last_seen_at=recent)
        assert c.get(f"{API}/auth/me").status_code == 200
        assert abs(as_utc(only_session(app).last_seen_at) - recent) < timedelta(seconds=1)
        # Seen 119 minutes ago: still alive, and now marked as used.
        set_session(app, last_seen_at=now - timedelta(minutes=119))
        assert c.get(f"{API}/auth/me").status_code == 200
        assert abs(as_utc(only_session(app).last_seen_at) - now) < timedelta(seconds=30)
        # Seen 121 minutes ago: ended, whatever its absolute end says.
        set_session(app, last_seen_at=now - timedelta(minutes=121))
        assert c.get(f"{API}/auth/me").status_code == 401


def test_a_session_ends_at_its_absolute_end_however_used(app: FastAPI) -> None:
    with TestClient(app) as c:
        log_in(c)
        set_session(app, expires_at=datetime.now(UTC) - timedelta(seconds=1))
        assert c.get(f"{API}/auth/me").status_code == 401


def test_a_session_from_before_the_idle_timeout_counts_from_its_login(app: FastAPI) -> None:
    with TestClient(app) as c:
        log_in(c)
        set_session(app, last_seen_at=None, created_at=datetime.now(UTC) - timedelta(hours=3))
        assert c.get(f"{API}/auth/me").status_code == 401


def two_browsers(app: FastAPI) -> tuple[TestClient, TestClient]:
    laptop = TestClient(app, client=("10.0.0.1", 1), headers={"User-Agent": "laptop"})
    phone = TestClient(app, client=("10.0.0.2", 2), headers={"User-Agent": "phone"})
    for browser in (laptop, phone):
        log_in(browser)
    return laptop, phone


def test_the_caller_lists_their_own_sessions(app: FastAPI, client: TestClient) -> None:
    client.post(f"{API}/users", json={"username": "ana", "password": "long-password"})
    laptop, phone = two_browsers(app)
    with laptop, phone, TestClient(app) as ana:
        log_in(ana, "ana", "long-password")
        listed = laptop.get(f"{API}/sessions").json()
        assert listed["total"] == 2  # not ana's
        by_agent = {s["user_agent"]: s for s in listed["items"]}
        assert by_agent["laptop"]["current"] is True and by_agent["phone"]["current"] is False
        assert by_agent["phone"]["ip"] == "10.0.0.2"
        assert set(by_agent["laptop"]) == {
            "id",
            "created_at",
            "last_seen_at",
            "expires_at",
            "ip",
            "user_agent",
            "current",
        }
        # Through an API token: the same user's sessions, none of them the current one.
        via_token = client.get(f"{API}/sessions").json()["items"]
        assert len(via_token) == 2 and not any(s["current"] for s in via_token)
        # An ended session is not listed.
        set_session(app, expires_at=datetime.now(UTC) - timedelta(seconds=1))
        assert client.get(f"{API}/sessions").json()["total"] == 0


def test_ending_one_session_and_never_another_users(app: FastAPI, client: TestClient) -> None:
    client.post(f"{API}/users", json={"username": "ana", "password": "long-password"})
    laptop, phone = two_browsers(app)
    with laptop, phone, TestClient(app) as ana:
        log_in(ana, "ana", "long-password")
        ana_session = ana.get(f"{API}/sessions").json()["items"][0]["id"]
        # Another user's session is as missing as one that never was, and goes on working.
        refused = laptop.delete(f"{API}/sessions/{ana_session}")
        assert refused.status_code == 404 and "among yours" in refused.json()["error"]["message"]
        assert ana.get(f"{API}/auth/me").status_code == 200
        # The laptop ends the phone's session.
        phone_id = next(
            s["id"] for s in laptop.get(f"{API}/sessions").json()["items"] if not s["current"]
        )
        assert laptop.delete(f"{API}/sessions/{phone_id}").status_code == 204
        assert phone.get(f"{API}/auth/me").status_code == 401
        assert laptop.get(f"{API}/auth/me").status_code == 200
        # Ending the current one clears this browser's cookies.
        laptop_id = laptop.get(f"{API}/sessions").json()["items"][0]["id"]
        ended = laptop.delete(f"{API}/sessions/{laptop_id}")
        assert ended.status_code == 204 and len(ended.headers.get_list("set-cookie")) == 2
        assert laptop.get(f"{API}/auth/me").status_code == 401


def test_log_out_everywhere_ends_every_session_of_the_caller_only(
    app: FastAPI, client: TestClient
) -> None:
    client.post(f"{API}/users", json={"username": "ana", "password": "long-password"})
    laptop, phone = two_browsers(app)
    with laptop, phone, TestClient(app) as ana:
        log_in(ana, "ana", "long-password")
        everywhere = laptop.post(f"{API}/sessions/revoke-all")
        assert everywhere.status_code == 204
        cleared = everywhere.headers.get_list("set-cookie")
        assert {c.split("=", 1)[0] for c in cleared} == {"vy_session", "vy_csrf"}
        assert all("max-age=0" in c.lower() for c in cleared)
        assert laptop.get(f"{API}/auth/me").status_code == 401
        assert phone.get(f"{API}/auth/me").status_code == 401
        assert ana.get(f"{API}/auth/me").status_code == 200
        # The admin's API token is no session: it goes on working.
        assert client.get(f"{API}/auth/me").status_code == 200


@pytest.mark.parametrize("path", ["/sessions/0", "/sessions/abc"])
def test_a_session_id_that_cannot_exist_is_a_422(client: TestClient, path: str) -> None:
    assert client.delete(f"{API}{path}").status_code == 422


def test_ended_sessions_are_cleaned_up_at_the_next_login(app: FastAPI) -> None:
    with TestClient(app) as c:
        log_in(c)
        set_session(app, expires_at=datetime.now(UTC) - timedelta(seconds=1))
        log_in(c, "admin", ADMIN_PASSWORD)
    assert as_utc(only_session(app).expires_at) > datetime.now(UTC)
