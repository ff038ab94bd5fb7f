"""The web UI on the dashboard's port: the static export at `/`, the API keeping its JSON errors.

These use a small stand-in export written by the test (the shape `next build` writes with
`trailingSlash`: one `index.html` per route folder); tests/web_ui drives the real build in a
browser.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.dashboard.conftest import AUTH
from visionyard.dashboard.app import create_app
from visionyard.dashboard.webui import HOW_TO_BUILD
from visionyard.settings import Settings


@pytest.fixture
def export(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    (out / "runs").mkdir(parents=True)
    (out / "_next" / "static").mkdir(parents=True)
    (out / "index.html").write_text("<!doctype html><title>home</title>")
    (out / "runs" / "index.html").write_text("<!doctype html><title>runs page</title>")
    (out / "404.html").write_text("<!doctype html><title>not found page</title>")
    (out / "_next" / "static" / "app.js").write_text("console.log('ui')")
    return out


def client_for(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings)
    with TestClient(app) as client:
        yield client
    app.state.vy.engine.dispose()


@pytest.fixture
def with_ui(
    db_url: str, settings_factory: Callable[..., Settings], export: Path
) -> Iterator[TestClient]:
    yield from client_for(settings_factory(db_url, web_ui_dir=export))


@pytest.fixture
def without_ui(
    db_url: str, settings_factory: Callable[..., Settings], tmp_path: Path
) -> Iterator[TestClient]:
    yield from client_for(settings_factory(db_url, web_ui_dir=tmp_path / "never-built"))


def test_the_ui_is_served_at_the_root_and_its_routes(with_ui: TestClient) -> None:
    assert "home" in with_ui.get("/").text
    assert "runs page" in with_ui.get("/runs/").text
    # Query-string routes (/runs/?id=3) are the same static page.
    assert "runs page" in with_ui.get("/runs/?id=3").text
    # `/runs` (no slash) reaches the same page.
    assert "runs page" in with_ui.get("/runs", follow_redirects=True).text
    assert with_ui.get("/_next/static/app.js").text == "console.log('ui')"


def test_the_api_still_wins_and_unknown_api_paths_stay_json_404s(with_ui: TestClient) -> None:
    assert with_ui.get("/api/v1/health").json()["status"] == "ok"
    assert with_ui.get("/api/v1/projects", headers=AUTH).status_code == 200
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        response = with_ui.request(method, "/api/v1/no-such-thing/7")
        assert response.status_code == 404, method
        assert response.headers["content-type"] == "application/json"
        assert response.json()["error"]["code"] == "not_found"
        assert "/api/v1/no-such-thing/7" in response.json()["error"]["message"]
        assert "/api/v1/docs" in response.json()["error"]["message"]  # where the routes are


def test_a_known_api_path_with_another_method_is_still_a_405(with_ui: TestClient) -> None:
    """The catch-all must not swallow the 405 of a path that exists with other methods."""
    response = with_ui.post("/api/v1/configs/1/versions/1", headers=AUTH)
    assert response.status_code == 405 and response.headers["allow"] == "GET"


def test_without_a_build_the_api_works_and_the_front_page_says_how_to_build(
    without_ui: TestClient,
) -> None:
    front = without_ui.get("/")
    assert front.status_code == 200
    assert HOW_TO_BUILD in front.text and "make ui" in front.text
    assert without_ui.get("/api/v1/health").status_code == 200
    assert without_ui.get("/api/v1/nope").json()["error"]["code"] == "not_found"
