"""Security headers on every response; the per-page Content-Security-Policy with the hashes of
each page's inline scripts."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from visionyard.dashboard.app import create_app
from visionyard.dashboard.csp import inline_script_hashes, page_policy
from visionyard.settings import Settings

API = "/api/v1"
FIXED = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "SAMEORIGIN",
}


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for directive in policy.split(";"):
        name, *values = directive.split()
        parsed[name] = values
    return parsed


def sha256_source(code: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(code.encode()).digest()).decode() + "'"


def assert_fixed_headers(response) -> None:
    for name, value in FIXED.items():
        assert response.headers[name] == value, (name, response.request.url)
    policy = directives(response.headers["content-security-policy"])
    assert policy["frame-ancestors"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'self'"]


def test_every_kind_of_answer_carries_the_headers(client: TestClient, anon: TestClient) -> None:
    answers = [
        client.get(f"{API}/projects"),  # JSON
        client.post(f"{API}/projects", json={"name": "p"}),  # a change
        anon.get(f"{API}/projects"),  # 401
        client.get(f"{API}/nowhere"),  # the API's 404
        client.post(f"{API}/projects", json={"nope": 1}),  # 422
        anon.get(f"{API}/health"),
        anon.get(f"{API}/openapi.json"),
        anon.get(f"{API}/docs"),
        anon.get("/"),  # the "not built" page
        anon.get(f"{API}/health", headers={"Host": "evil.example"}),  # the host allowlist's 400
    ]
    assert [a.status_code for a in answers] == [200, 201, 401, 404, 422, 200, 200, 200, 200, 400]
    for answer in answers:
        assert_fixed_headers(answer)


def test_api_json_is_never_stored(client: TestClient, anon: TestClient) -> None:
    for answer in (
        client.get(f"{API}/projects"),
        client.get(f"{API}/auth/me"),
        anon.get(f"{API}/auth/me"),  # errors too
        client.get(f"{API}/nowhere"),
    ):
        assert answer.headers["cache-control"] == "no-store"
    # Not JSON, not the API: their own caching.
    assert anon.get(f"{API}/docs/assets/swagger-ui.css").headers["cache-control"] == "no-cache"
    assert "cache-control" not in anon.get("/").headers


def test_the_default_policy_allows_only_the_dashboards_own_files(anon: TestClient) -> None:
    policy = directives(anon.get(f"{API}/health").headers["content-security-policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]  # no inline script, no eval
    assert policy["connect-src"] == ["'self'", "ws://testserver", "wss://testserver"]


def test_a_host_that_could_break_the_policy_is_left_out_of_it() -> None:
    assert "evil" not in page_policy("x; script-src evil")
    assert "ws://[::1]:8000" in page_policy("[::1]:8000")


def test_inline_script_hashes_cover_exactly_the_scripts_a_browser_runs() -> None:
    html = (
        "<html><head><script>self.a=1</script><script src='/x.js'></script>"
        '<script type="application/json">{"data": 1}</script>'
        '<script type="module">import "/y.js"</script>'
        "<SCRIPT async>self.a=1</SCRIPT><script>\n  two()\n</script ></head></html>"
    )
    assert inline_script_hashes(html) == (
        sha256_source("self.a=1"),  # once, though twice in the page
        sha256_source('import "/y.js"'),
        sha256_source("\n  two()\n"),
    )


@pytest.fixture
def ui_build(tmp_path: Path) -> Path:
    """A stand-in for the web UI's export: pages with inline scripts of their own."""
    build = tmp_path / "out"
    (build / "projects").mkdir(parents=True)
    (build / "index.html").write_text("<html><script>boot('index')</script></html>")
    (build / "projects" / "index.html").write_text(
        "<html><script>boot('projects')</script><script>theme()</script></html>"
    )
    (build / "app.js").write_text("console.log(1)")
    return build


def test_each_ui_page_allows_its_own_inline_scripts(
    sqlite_url: str, settings_factory: Callable[..., Settings], ui_build: Path
) -> None:
    app: FastAPI = create_app(settings_factory(sqlite_url, web_ui_dir=ui_build))
    with TestClient(app) as c:
        index = c.get("/")
        projects = c.get("/projects/")
        script = c.get("/app.js")
        for answer in (index, projects, script):
            assert answer.status_code == 200
            assert_fixed_headers(answer)
        assert directives(index.headers["content-security-policy"])["script-src"] == [
            "'self'",
            sha256_source("boot('index')"),
        ]
        assert directives(projects.headers["content-security-policy"])["script-src"] == [
            "'self'",
            sha256_source("boot('projects')"),
            sha256_source("theme()"),
        ]
        # A rebuilt page (new contents, new modification time) gets its new hashes.
        page = ui_build / "index.html"
        page.write_text("<html><script>boot('rebuilt')</script></html>")
        stat = page.stat()
        os.utime(page, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
        rebuilt = c.get("/").headers["content-security-policy"]
        assert sha256_source("boot('rebuilt')") in rebuilt
        assert sha256_source("boot('index')") not in rebuilt
    app.state.vy.engine.dispose()


def test_the_api_documentation_allows_its_own_inline_scripts(anon: TestClient) -> None:
    docs = anon.get(f"{API}/docs")
    hashes = inline_script_hashes(docs.text)
    assert hashes  # Swagger UI starts from an inline script
    assert directives(docs.headers["content-security-policy"])["script-src"] == [
        "'self'",
        *hashes,
    ]
