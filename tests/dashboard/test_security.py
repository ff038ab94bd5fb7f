"""S1 and S10 (docs/reliability.md): authentication on every route (enumerated from the app's
own route table, so a new route cannot slip through), CORS and Host checks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from visionyard.dashboard.app import create_app
from visionyard.settings import allowed_hosts_hint, load_settings
from visionyard.up import Login, _banner

#: (method, path) pairs reachable without credentials; the auth test enumerates every other route
PUBLIC_ROUTES = frozenset(
    {
        ("GET", "/api/v1/health"),
        ("POST", "/api/v1/auth/login"),
        ("GET", "/api/v1/openapi.json"),
        ("GET", "/"),  # the web UI (or, before it is built, how to build it)
        ("GET", "/api/v1/docs"),
        ("GET", "/api/v1/docs/oauth2-redirect"),
        # Swagger UI's files, served by the dashboard so that the docs work with no network
        ("GET", "/api/v1/docs/assets/swagger-ui-bundle.js"),
        ("GET", "/api/v1/docs/assets/swagger-ui.css"),
        ("GET", "/api/v1/docs/assets/favicon.png"),
    }
)
#: the catch-all that answers every unknown API path with a JSON 404 (it reveals nothing)
NOT_FOUND_ROUTES = frozenset({("GET", "/api/v1/{rest}")})
#: pages outside the OpenAPI document that need a log-in: the embedded TensorBoard's
PROTECTED_PAGES = frozenset({("GET", "/tb/{key}"), ("GET", "/tb/{key}/{path}")})


def protected_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every HTTP operation the app serves, from its own OpenAPI document (FastAPI 0.16x keeps
    included routers behind lazy wrappers, so the schema is the reliable route table)."""
    routes = []
    for path, operations in app.openapi()["paths"].items():
        for method in operations:
            if (method.upper(), path) not in PUBLIC_ROUTES:
                routes.append((method.upper(), path))
    return routes


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


BAD_CREDENTIALS = [
    {},
    {"Authorization": "Bearer vy_not-a-real-token"},
    {"Authorization": "Basic YWRtaW46YWRtaW4="},
    {"Authorization": "Bearer "},
    {"Cookie": "vy_session=forged-session-value"},
]


def test_every_route_refuses_missing_or_bad_credentials(anon: TestClient, app: FastAPI) -> None:
    routes = protected_routes(app)
    assert len(routes) >= 5, "the route table looks empty"
    failures = []
    for method, path in routes:
        for headers in BAD_CREDENTIALS:
            response = anon.request(method, concrete(path), headers=headers, json={})
            if response.status_code not in (401, 403):
                failures.append((method, path, headers, response.status_code))
    assert not failures, failures


def test_health_answers_ok_and_names_the_database_it_reached(anon: TestClient, db_url: str) -> None:
    health = anon.get("/api/v1/health").json()
    assert health["status"] == "ok"
    assert health["database"] == db_url.split(":", 1)[0].split("+", 1)[0]


def test_public_allowlist_is_small_and_explicit(anon: TestClient, app: FastAPI) -> None:
    assert anon.get("/api/v1/health").status_code == 200
    # Every allowlisted page exists and answers without credentials (no stale entries).
    for method, path in PUBLIC_ROUTES - {("POST", "/api/v1/auth/login")}:
        assert anon.request(method, path).status_code == 200, (method, path)
    # What the app itself says is public is what its document leaves without `security`:
    # health and login.
    open_operations = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method, operation in operations.items()
        if "security" not in operation
    }
    assert open_operations == {("GET", "/api/v1/health"), ("POST", "/api/v1/auth/login")}
    assert open_operations <= PUBLIC_ROUTES
    # The pages outside the document (docs, their files, the document itself) are all listed:
    # a new one cannot become public unnoticed.
    unlisted = undocumented_pages(app) - PUBLIC_ROUTES - NOT_FOUND_ROUTES - PROTECTED_PAGES
    assert not unlisted, unlisted
    for method, path in PROTECTED_PAGES:
        for headers in BAD_CREDENTIALS:
            response = anon.request(method, concrete(path), headers=headers)
            assert response.status_code == 401, (method, path, headers, response.status_code)
    for method, path in NOT_FOUND_ROUTES:
        assert anon.request(method, path.replace("{rest}", "x/1")).status_code == 404


def undocumented_pages(app: FastAPI) -> set[tuple[str, str]]:
    """(GET, path) of every HTTP route left out of the OpenAPI document (a WebSocket route,
    which has no methods, is neither in it nor here)."""
    return {
        ("GET", context.path_format)
        for context in iter_route_contexts(app.routes)
        if context.methods and context.path_format and not context.include_in_schema
    }


@pytest.fixture
def cors_app(sqlite_url: str, settings_factory) -> FastAPI:
    return create_app(settings_factory(sqlite_url, cors_origins="http://ui.example:3000"))


def test_cors_preflight_from_an_unlisted_origin_gets_no_echo(cors_app: FastAPI) -> None:
    with TestClient(cors_app) as c:
        preflight = {"Access-Control-Request-Method": "POST"}
        evil = c.options("/api/v1/projects", headers={"Origin": "http://evil.example", **preflight})
        assert "access-control-allow-origin" not in evil.headers
        good = c.options(
            "/api/v1/projects", headers={"Origin": "http://ui.example:3000", **preflight}
        )
        assert good.headers["access-control-allow-origin"] == "http://ui.example:3000"
        assert good.headers["access-control-allow-credentials"] == "true"
        simple = c.get("/api/v1/health", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in simple.headers


def test_wildcard_cors_with_credentials_is_refused(sqlite_url: str, settings_factory) -> None:
    from visionyard.errors import ConfigError

    with pytest.raises(ConfigError, match="cannot contain"):
        settings_factory(sqlite_url, cors_origins="*")


def test_forged_host_header_is_rejected(anon: TestClient) -> None:
    response = anon.get("/api/v1/health", headers={"Host": "evil.example"})
    assert response.status_code == 400
    # The body says what to change (it used to be a bare "Invalid host header").
    error = response.json()["error"]
    assert error["code"] == "invalid_host"
    assert "'evil.example'" in error["message"]
    assert "VISIONYARD_ALLOWED_HOSTS" in error["message"]
    by_ip = anon.get("/api/v1/health", headers={"Host": "192.0.2.7:8000"})
    assert by_ip.status_code == 400 and "'192.0.2.7'" in by_ip.json()["error"]["message"]
    missing = anon.get("/api/v1/health", headers={"Host": ""})
    assert missing.status_code == 400 and "VISIONYARD_ALLOWED_HOSTS" in missing.text
    assert anon.get("/api/v1/health", headers={"Host": "localhost"}).status_code == 200


def test_a_public_bind_with_the_default_allowlist_prints_a_hint(tmp_path: Path) -> None:
    """`--host 0.0.0.0` with the loopback-only allowlist refuses every request by IP or name;
    `serve` and `up` say so at start, naming the setting."""
    base = {"data_dir": tmp_path, "admin_password": "pw-for-the-hint-test"}
    public = load_settings(host="0.0.0.0", **base)
    hint = allowed_hosts_hint(public)
    assert hint is not None and "VISIONYARD_ALLOWED_HOSTS" in hint and "\n" not in hint
    login = Login(username="admin", password=None, password_file=None)
    assert hint in _banner("http://0.0.0.0:8000/", login, ["cpu"], public)
    # Loopback binds, and an allowlist the operator set, need no hint.
    assert allowed_hosts_hint(load_settings(**base)) is None
    listed = load_settings(host="0.0.0.0", allowed_hosts="10.0.0.5", **base)
    assert allowed_hosts_hint(listed) is None
    loopback = load_settings(**base)
    assert "VISIONYARD_ALLOWED_HOSTS" not in _banner("http://127.0.0.1:8000/", login, [], loopback)
