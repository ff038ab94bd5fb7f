"""The interactive API documentation works with no network: Swagger UI's files are served by the
dashboard itself, not loaded from a CDN (with FastAPI's default page, a machine without internet
access showed a blank page at `/`).

In-process checks of what the page references, and a real Chromium against a real
`visionyard serve` with every request to another host aborted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.browser import only_local_requests
from tests.liveserver import serving
from visionyard.dashboard import apidocs
from visionyard.dashboard.apidocs import ASSETS
from visionyard.settings import Settings

if TYPE_CHECKING:
    from playwright.sync_api import Page

DOCS = "/api/v1/docs"
#: the URLs a page loads: scripts, stylesheets, icons, images
LOADED = re.compile(r"""\b(?:src|href)=["']([^"']+)["']""")
#: where the page sends the OAuth2 flow back to
OAUTH2_REDIRECT = re.compile(r"""oauth2RedirectUrl: window\.location\.origin \+ '([^']+)'""")
#: how long Swagger UI may take to fetch the document and draw every operation on a busy machine
RENDER_TIMEOUT_MS = 60_000


def openapi_operations(document: dict) -> list[dict]:
    """Every operation object of an OpenAPI document."""
    methods = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
    return [
        operation
        for item in document["paths"].values()
        for method, operation in item.items()
        if method in methods
    ]


def block_id(operation: dict) -> str:
    """The element id Swagger UI gives an operation's block (under its first tag)."""
    return f"operations-{operation['tags'][0]}-{operation['operationId']}"


def test_the_docs_page_loads_only_files_the_dashboard_serves(anon: TestClient) -> None:
    front = anon.get(DOCS)
    assert front.status_code == 200
    loaded = LOADED.findall(front.text)
    assert loaded, "the page references no script or stylesheet"
    # Every file is a path on the dashboard itself (no scheme, no host: no CDN).
    assert all(url.startswith("/") and not url.startswith("//") for url in loaded), loaded
    assert sorted(loaded) == sorted(f"{DOCS}/assets/{name}" for name in ASSETS)
    for url in loaded:
        asset = anon.get(url)  # no credentials: the page is public, so are its files
        assert asset.status_code == 200, url
        assert asset.headers["content-type"] == ASSETS[url.rsplit("/", 1)[1]]
        assert len(asset.content) > 1000, url
    assert "SwaggerUIBundle" in anon.get(f"{DOCS}/assets/swagger-ui-bundle.js").text


def test_the_oauth2_redirect_page_the_docs_name_is_served(anon: TestClient) -> None:
    page = anon.get(DOCS).text
    (redirect,) = OAUTH2_REDIRECT.findall(page)
    answer = anon.get(redirect)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    assert "oauth2" in answer.text.lower() and not LOADED.findall(answer.text)


def test_only_the_files_the_page_needs_are_served(anon: TestClient, app: FastAPI) -> None:
    """The package's folder holds other files (another docs viewer); they are not served, and no
    docs route is an API operation."""
    assert anon.get(f"{DOCS}/assets/redoc.standalone.js").status_code == 404
    refused = anon.get(f"{DOCS}/assets/%2e%2e%2fopenapi.json")
    assert refused.status_code == 404 and refused.json()["error"]["message"]
    assert not [path for path in app.openapi()["paths"] if path.startswith(DOCS)]


def test_an_install_without_the_files_refuses_to_start_saying_what_to_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A broken install (a package without the files) stops the dashboard at start with the
    fix, rather than serving a docs page that stays blank."""
    monkeypatch.setattr(apidocs, "ASSETS_PACKAGE", "visionyard")  # a package without them
    with pytest.raises(RuntimeError) as refused:
        apidocs.asset_folder()
    message = str(refused.value)
    assert "swagger-ui-bundle.js" in message and "--force-reinstall visionyard" in message


# ---- a real browser -------------------------------------------------------------------------


@pytest.fixture
def live_dashboard(
    sqlite_url: str, settings_factory: Callable[..., Settings], tmp_path: Path
) -> Iterator[str]:
    """`visionyard serve` in its own process; its base URL."""
    settings = settings_factory(sqlite_url)
    with serving(settings, tmp_path / "server.log") as url:
        yield url


@pytest.mark.slow
def test_the_docs_show_every_operation_with_no_network(
    live_dashboard: str, page: Page, tmp_path: Path
) -> None:
    """A person opens the dashboard on a machine without internet access: `/` leads to the docs,
    which show every operation of the API, and the browser asked nothing of any other host."""
    from playwright.sync_api import expect

    document = httpx.get(f"{live_dashboard}/api/v1/openapi.json", timeout=30).json()
    operations = openapi_operations(document)
    assert len(operations) > 40, "the document looks empty"
    # Swagger UI draws an operation once per tag: one tag each makes one block each.
    assert all(len(operation["tags"]) == 1 for operation in operations)
    aborted = only_local_requests(page, live_dashboard)

    page.goto(f"{live_dashboard}{DOCS}")  # returns once the page and its scripts have loaded
    assert aborted == [], f"the page needs files from other hosts: {aborted}"
    try:
        expect(page.get_by_role("heading", name=re.compile(r"^Visionyard"))).to_be_visible(
            timeout=RENDER_TIMEOUT_MS
        )
        expect(page.locator(".opblock")).to_have_count(len(operations), timeout=RENDER_TIMEOUT_MS)
    finally:
        page.screenshot(path=tmp_path / "docs.png", full_page=True)  # for a person to look at
    shown = set(page.locator(".opblock").evaluate_all("blocks => blocks.map(b => b.id)"))
    assert shown == {block_id(operation) for operation in operations}
    expect(page.locator("#operations-runs-listRuns")).to_be_visible()
    assert aborted == [], f"the page asked other hosts for {aborted}"  # none later either
