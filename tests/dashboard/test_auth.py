"""Login, sessions, tokens, users; first-start bootstrap."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.dashboard.conftest import ADMIN_PASSWORD
from visionyard.dashboard.app import create_app


def test_login_cookie_session_and_logout(anon: TestClient) -> None:
    assert anon.get("/api/v1/auth/me").status_code == 401
    bad = anon.post("/api/v1/auth/login", json={"username": "admin", "password": "nope"})
    assert bad.status_code == 401 and "wrong username or password" in bad.json()["error"]["message"]
    ok = anon.post("/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert ok.status_code == 200
    session_cookie, csrf_cookie = ok.headers.get_list("set-cookie")
    assert session_cookie.startswith("vy_session=") and csrf_cookie.startswith("vy_csrf=")
    for cookie in (session_cookie.lower(), csrf_cookie.lower()):
        assert "samesite=lax" in cookie and "path=/" in cookie and "secure" not in cookie
    # The session secret is out of scripts' reach; the CSRF token is for the UI's scripts.
    assert "httponly" in session_cookie.lower() and "httponly" not in csrf_cookie.lower()
    assert anon.get("/api/v1/auth/me").json()["via"] == "session"
    csrf = {"X-CSRF-Token": ok.cookies["vy_csrf"]}
    logout = anon.post("/api/v1/auth/logout", headers=csrf)
    assert logout.status_code == 204
    # Both cookies are cleared.
    assert {c.split("=", 1)[0] for c in logout.headers.get_list("set-cookie")} == {
        "vy_session",
        "vy_csrf",
    }
    assert anon.get("/api/v1/auth/me").status_code == 401


def test_secure_cookies_setting_marks_both_cookies_secure(
    sqlite_url: str, settings_factory
) -> None:
    app = create_app(settings_factory(sqlite_url, secure_cookies=True))
    with TestClient(app) as c:
        ok = c.post("/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert all("; secure" in cookie.lower() for cookie in ok.headers.get_list("set-cookie"))


def test_tokens_created_listed_and_revoked(client: TestClient, anon: TestClient) -> None:
    created = client.post("/api/v1/tokens", json={"name": "ci", "kind": "agent"})
    assert created.status_code == 201
    secret = created.json()["token"]
    header = {"Authorization": f"Bearer {secret}"}
    # An agent's token serves agents, which talk to the database: no API route takes it.
    refused = anon.get("/api/v1/auth/me", headers=header)
    assert refused.status_code == 403 and "agent tokens" in refused.json()["error"]["message"]
    listed = client.get("/api/v1/tokens").json()
    assert listed["total"] == len(listed["items"]) == 2  # the bootstrap token and this one
    assert listed["items"][0]["id"] == created.json()["id"]  # newest first
    assert all("token" not in t and "token_hash" not in t for t in listed["items"])
    token_id = created.json()["id"]
    assert client.delete(f"/api/v1/tokens/{token_id}").status_code == 204
    assert anon.get("/api/v1/auth/me", headers=header).status_code == 401


def test_users_admin_only_and_disabled_users_locked_out(
    client: TestClient, anon: TestClient
) -> None:
    made = client.post("/api/v1/users", json={"username": "ana", "password": "long-password"})
    assert made.status_code == 201
    dup = client.post("/api/v1/users", json={"username": "ana", "password": "long-password"})
    assert dup.status_code == 409
    login = anon.post("/api/v1/auth/login", json={"username": "ana", "password": "long-password"})
    assert login.status_code == 200
    assert anon.get("/api/v1/users").status_code == 403
    users = client.get("/api/v1/users", params={"order": "asc"}).json()
    assert [u["username"] for u in users["items"]] == ["admin", "ana"] and users["total"] == 2
    assert client.get("/api/v1/users", params={"limit": 1}).json()["items"][0]["username"] == "ana"
    client.patch(f"/api/v1/users/{made.json()['id']}", json={"disabled": True})
    assert anon.get("/api/v1/auth/me").status_code == 401


def test_the_last_admin_can_be_neither_demoted_nor_disabled(client: TestClient) -> None:
    admin_id = client.get("/api/v1/auth/me").json()["id"]
    for change, words in (
        ({"is_admin": False}, "made a non-admin"),
        ({"disabled": True}, "disabled"),
    ):
        refused = client.patch(f"/api/v1/users/{admin_id}", json=change)
        assert refused.status_code == 409, refused.text
        message = refused.json()["error"]["message"]
        assert "only admin" in message and words in message and "another user an admin" in message
    assert client.get("/api/v1/auth/me").json()["is_admin"] is True

    # With a second admin who can log in, either may step down; a disabled admin does not count.
    ana = client.post(
        "/api/v1/users", json={"username": "ana", "password": "long-password", "is_admin": True}
    ).json()
    assert client.patch(f"/api/v1/users/{ana['id']}", json={"disabled": True}).status_code == 200
    assert client.patch(f"/api/v1/users/{admin_id}", json={"is_admin": False}).status_code == 409
    assert client.patch(f"/api/v1/users/{ana['id']}", json={"disabled": False}).status_code == 200
    demoted = client.patch(f"/api/v1/users/{ana['id']}", json={"is_admin": False})
    assert demoted.status_code == 200 and demoted.json()["is_admin"] is False
    # A change that takes nothing away is always allowed, even for the last admin.
    assert client.patch(f"/api/v1/users/{admin_id}", json={"is_admin": True}).status_code == 200


def test_first_start_generates_and_prints_credentials_once(
    sqlite_url: str, settings_factory, capsys
) -> None:
    settings = settings_factory(sqlite_url, admin_password=None, admin_token=None)
    create_app(settings)
    printed = capsys.readouterr().out
    assert "password:" in printed and "token:" in printed
    token = printed.split("token:")[1].split()[0]
    create_app(settings)  # second start: nothing new printed
    assert "password" not in capsys.readouterr().out
    with TestClient(create_app(settings)) as c:
        assert (
            c.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code
            == 200
        )
