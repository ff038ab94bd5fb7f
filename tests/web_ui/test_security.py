"""The web UI's defences in a real Chromium: a page of another origin cannot make the logged-in
browser change anything (CSRF), and the UI's pages run under their Content-Security-Policy
without a single violation."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.liveserver import admin_api
from tests.web_ui.conftest import UI_TIMEOUT_MS

if TYPE_CHECKING:
    from playwright.sync_api import Page

API = "/api/v1"

#: what another site's page does: post a form to the dashboard as soon as it loads
ATTACK_PAGE = """<!doctype html><title>Win a prize</title>
<form id="f" method="POST" action="{action}" enctype="{enctype}">
  <input type="hidden" name="{field}" value='{value}'>
</form>
<script>document.getElementById("f").submit()</script>
"""


@pytest.fixture
def other_site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A plain web server on another port of the same host: another origin, but the same
    site, so the browser attaches the dashboard's SameSite=Lax cookies to its form posts."""
    folder = tmp_path / "other-site"
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", folder
    finally:
        server.shutdown()
        server.server_close()


def project_names(ui_url: str) -> list[str]:
    with admin_api(ui_url) as api:
        return [p["name"] for p in api.get("/projects").json()["items"]]


def test_a_form_on_another_origin_cannot_act_for_the_logged_in_user(
    logged_in: Callable[[], Page], ui_url: str, other_site: tuple[str, Path]
) -> None:
    page = logged_in()
    origin, folder = other_site
    (folder / "form.html").write_text(
        ATTACK_PAGE.format(
            action=f"{ui_url}{API}/projects",
            enctype="application/x-www-form-urlencoded",
            field="name",
            value="pwned",
        )
    )
    # A text/plain form can make its body look like JSON: {"name": "pwned-json", "x": "=..."}
    (folder / "json-form.html").write_text(
        ATTACK_PAGE.format(
            action=f"{ui_url}{API}/projects",
            enctype="text/plain",
            field='{"name": "pwned-json", "x": "',
            value='"}',
        )
    )
    for attack in ("form.html", "json-form.html"):
        with page.expect_response(f"{ui_url}{API}/projects", timeout=UI_TIMEOUT_MS) as answer:
            page.goto(f"{origin}/{attack}")
        response = answer.value
        # 403 "csrf", not 401: the browser did send the session cookie, and it was not enough.
        assert response.status == 403, (attack, response.text())
        assert response.json()["error"]["code"] == "csrf"
        assert response.request.headers.get("origin") == origin
    assert project_names(ui_url) == []

    # The same browser, on the dashboard's own pages, still works (its requests send the token).
    page.goto(f"{ui_url}/projects/")
    page.get_by_role("button", name="New project").first.click()
    page.get_by_role("textbox", name="Name").fill("mine")
    page.get_by_role("button", name="Create project").click()
    page.wait_for_url("**/project/?id=*", timeout=UI_TIMEOUT_MS)
    assert project_names(ui_url) == ["mine"]


def test_a_form_on_another_origin_cannot_log_the_browser_in(
    page: Page, ui_url: str, other_site: tuple[str, Path]
) -> None:
    """Login CSRF: logging the victim's browser into the attacker's account."""
    origin, folder = other_site
    (folder / "login.html").write_text(
        ATTACK_PAGE.format(
            action=f"{ui_url}{API}/auth/login",
            enctype="text/plain",
            field='{"username": "admin", "password": "x", "y": "',
            value='"}',
        )
    )
    with page.expect_response(f"{ui_url}{API}/auth/login", timeout=UI_TIMEOUT_MS) as answer:
        page.goto(f"{origin}/login.html")
    assert answer.value.status == 415
    assert not [c for c in page.context.cookies(ui_url) if c["name"] == "vy_session"]


#: collects every CSP violation of the page's documents (an init script runs in each)
COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
});
"""


def test_the_ui_runs_under_its_content_security_policy(
    logged_in: Callable[[], Page], ui_url: str
) -> None:
    with admin_api(ui_url) as api:
        project = api.post("/projects", json={"name": "csp"}).json()["id"]
    page = logged_in()
    page.add_init_script(COLLECT_VIOLATIONS)
    console_errors: list[str] = []
    page.on(
        "console",
        lambda message: console_errors.append(message.text) if message.type == "error" else None,
    )
    pages = {
        "/projects/": ("link", "csp"),
        f"/project/?id={project}": ("heading", "csp"),
        f"/project/configs/?id={project}": ("heading", "Configs"),
        f"/project/models/?id={project}": ("heading", "Models"),
        "/datasets/": ("heading", "Datasets"),
        "/agents/": ("heading", "Agents"),
        "/admin/": ("heading", "Admin"),
    }
    checked = []
    for path, (role, name) in pages.items():
        response = page.goto(f"{ui_url}{path}")
        assert (
            response is not None
            and "script-src 'self' 'sha256-" in (response.headers["content-security-policy"])
        )
        page.get_by_role(role, name=name).first.wait_for(timeout=UI_TIMEOUT_MS)  # type: ignore[arg-type]
        page.wait_for_load_state("networkidle")
        violations = page.evaluate("window.__cspViolations")
        assert violations == [], (path, violations)
        checked.append(path)
    # The API documentation (Swagger UI, started from an inline script) too.
    page.goto(f"{ui_url}{API}/docs")
    page.get_by_text("Visionyard").first.wait_for(timeout=UI_TIMEOUT_MS)
    assert page.evaluate("window.__cspViolations") == []
    csp_errors = [e for e in console_errors if "Content Security Policy" in e]
    assert csp_errors == [], csp_errors
    assert len(checked) == len(pages)
