"""The shell of the web UI in a real Chromium against a real dashboard: logging in and out,
being sent to log in (and back) from any page, the projects page, the theme, the palette."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from playwright.sync_api import expect

from tests.dashboard.conftest import ADMIN_PASSWORD
from tests.liveserver import admin_api
from tests.web_ui.conftest import UI_TIMEOUT_MS, log_in

if TYPE_CHECKING:
    from playwright.sync_api import Page, Request


def test_a_page_sends_a_logged_out_user_to_log_in_and_back(page: Page, ui_url: str) -> None:
    page.goto(f"{ui_url}/projects/?q=abc")
    page.wait_for_url("**/login/?next=*", timeout=UI_TIMEOUT_MS)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{ui_url}/projects/?q=abc", timeout=UI_TIMEOUT_MS)
    assert page.get_by_label("Search projects").input_value() == "abc"


def test_a_wrong_password_is_said_on_the_form(page: Page, ui_url: str) -> None:
    page.goto(f"{ui_url}/login/")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    # (not get_by_role("alert"): Next.js keeps an empty route announcer with that role)
    alert = page.locator("#login-error")
    alert.wait_for(timeout=UI_TIMEOUT_MS)
    assert "password" in alert.inner_text().lower()
    assert page.url.endswith("/login/")


def test_create_rename_and_delete_a_project(logged_in: Callable[[], Page], ui_url: str) -> None:
    page = logged_in()
    page.get_by_role("button", name="New project").first.click()
    page.get_by_role("textbox", name="Name").fill("birds")
    page.get_by_role("button", name="Create project").click()
    page.wait_for_url(re.compile(r"/project/?\?id=\d+$"), timeout=UI_TIMEOUT_MS)

    page.goto(f"{ui_url}/projects/")
    page.get_by_role("link", name="birds").wait_for(timeout=UI_TIMEOUT_MS)
    # Each row says how many runs the project has (none yet, so no latest state either).
    row = page.get_by_role("listitem").filter(has=page.get_by_role("link", name="birds"))
    assert "0 runs" in row.inner_text() and "latest" not in row.inner_text()
    page.get_by_role("button", name="Actions for birds").click()
    page.get_by_role("menuitem", name="Rename").click()
    page.get_by_role("textbox", name="Name").fill("songbirds")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("link", name="songbirds").wait_for(timeout=UI_TIMEOUT_MS)

    page.get_by_role("button", name="Actions for songbirds").click()
    page.get_by_role("menuitem", name="Delete").click()
    page.get_by_role("button", name="Delete project").click()
    page.get_by_text("No projects yet").wait_for(timeout=UI_TIMEOUT_MS)


def test_a_duplicate_project_name_is_refused_on_the_field(
    logged_in: Callable[[], Page], ui_url: str
) -> None:
    page = logged_in()
    for _ in range(2):
        page.goto(f"{ui_url}/projects/")
        page.get_by_role("button", name="New project").first.click()
        page.get_by_role("textbox", name="Name").fill("dup")
        page.get_by_role("button", name="Create project").click()
    error = page.locator("#project-name-error")
    error.wait_for(timeout=UI_TIMEOUT_MS)
    assert "dup" in error.inner_text() or "exists" in error.inner_text()


def test_the_theme_is_kept_across_pages_and_log_ins(page: Page, ui_url: str) -> None:
    log_in(page, ui_url)
    page.get_by_role("button", name="Theme: system").click()
    page.get_by_role("menuitem", name="Dark").click()
    assert "dark" in (page.locator("html").get_attribute("class") or "")
    page.reload()
    page.get_by_role("heading", name="Projects").wait_for(timeout=UI_TIMEOUT_MS)
    assert "dark" in (page.locator("html").get_attribute("class") or "")


def test_the_palette_jumps_to_a_project_or_a_page_searching_once_typing_pauses(
    logged_in: Callable[[], Page], ui_url: str
) -> None:
    with admin_api(ui_url) as api:
        for name in ("alpha-birds", "beta-cats"):
            assert api.post("/projects", json={"name": name}).status_code == 201
    page = logged_in()
    searches: list[str] = []

    def record(request: Request) -> None:
        if "/api/v1/projects?" in request.url and "q=" in request.url:
            searches.append(request.url)

    page.on("request", record)
    page.keyboard.press("Control+k")
    palette = page.get_by_role("dialog", name="Jump to")
    palette.wait_for(timeout=UI_TIMEOUT_MS)
    page.keyboard.type("birds", delay=30)  # faster than the palette's pause
    # The unfiltered list stays up until the search answers, then only the match is left.
    expect(palette.get_by_role("option", name="beta-cats")).to_have_count(0, timeout=UI_TIMEOUT_MS)
    palette.get_by_role("option", name="alpha-birds").wait_for(timeout=UI_TIMEOUT_MS)
    searched = [url.split("q=")[1].split("&")[0] for url in searches]
    # Searches wait for a pause in typing: one when the browser keeps up with the keystrokes;
    # a loaded machine may pause mid-word, but never one search per keystroke.
    assert searched[-1] == "birds" and len(searched) < len("birds"), searched
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/project/?\?id=\d+$"), timeout=UI_TIMEOUT_MS)
    page.get_by_role("heading", name="alpha-birds").wait_for(timeout=UI_TIMEOUT_MS)
    # Pages are there too, by name.
    page.keyboard.press("Control+k")
    page.keyboard.type("agents", delay=30)
    palette.get_by_role("option", name="Agents").wait_for(timeout=UI_TIMEOUT_MS)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{ui_url}/agents/", timeout=UI_TIMEOUT_MS)
