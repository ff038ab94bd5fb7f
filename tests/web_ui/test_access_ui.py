"""Project roles, members, the account page and the audit log in a real Chromium against a real
dashboard: a viewer is offered no change (and the API still refuses one sent from the page), an
owner manages members and meets the last-owner rule, a user creates a read-only token limited to
a project and ends all their sessions, and an admin reads the audit log and filters it."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.agent.platform import copy_digits
from tests.liveserver import API, admin_api
from tests.web_ui.conftest import UI_TIMEOUT_MS, log_in
from tests.web_ui.seed import SeedRun, seed_runs
from visionyard.db.models import RunState
from visionyard.settings import Settings

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

PASSWORD = "a-long-enough-password"


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    return response.json()


@dataclass(frozen=True)
class Scene:
    url: str
    project_id: int
    config_id: int
    queued_run: str
    queued_run_id: int
    done_run: str
    done_run_id: int


@pytest.fixture
def scene(
    ui_url: str,
    ui_settings: Settings,
    digits_root: Path,
    tiny_model: Callable[[str], Path],
    models_dir: Path,
) -> Iterator[Scene]:
    """A project with a config, a queued run (no agent: it waits) and a finished one, and a user
    `vera` who is its viewer."""
    copy_digits(digits_root, ui_settings.datasets_root / "digits", classes=3, per_class=4)
    shutil.copytree(tiny_model("vit"), models_dir / "tiny-vit")
    with admin_api(ui_url) as api:
        ok(api.post("/datasets", json={"name": "digits", "path": "digits"}))
        project = ok(api.post("/projects", json={"name": "vision"}))
        pid = project["id"]
        ok(api.post(f"/projects/{pid}/models", json={"name": "tiny-vit", "source": "tiny-vit"}))
        data = {"root": "digits", "model_flavour": "tiny-vit"}
        config = ok(api.post(f"/projects/{pid}/configs", json={"name": "base", "data": data}))
        queued = ok(api.post(f"/configs/{config['id']}/runs", json={"gpu_count": 0}))
        ok(api.post("/users", json={"username": "vera", "password": PASSWORD}))
        ok(api.put(f"/projects/{pid}/members", json={"username": "vera", "role": "viewer"}))
    [done_id] = seed_runs(ui_settings, pid, [SeedRun("finished-run", RunState.succeeded)])
    yield Scene(ui_url, pid, config["id"], queued["name"], queued["id"], "finished-run", done_id)


def project_known(page: Page) -> None:
    """Wait until the page knows the project (its name in the breadcrumbs), and so the role: until
    then every change control is hidden, and checking for none would prove nothing."""
    crumbs = page.get_by_role("navigation", name="Breadcrumb")
    crumbs.get_by_role("link", name="vision").wait_for(timeout=UI_TIMEOUT_MS)


def no_button(page: Page, name: str) -> None:
    assert page.get_by_role("button", name=name, exact=True).count() == 0, f"a {name!r} button"


# ---- (a) a viewer reads, and changes nothing -----------------------------------------------------


def test_a_viewer_is_offered_no_change_and_the_api_still_refuses_one(
    page: Page, scene: Scene
) -> None:
    url = scene.url
    log_in(page, url, PASSWORD, username="vera")

    # The project's runs table: selecting runs offers comparing them, nothing else.
    page.goto(f"{url}/project/?id={scene.project_id}")
    table = page.get_by_role("table", name="Runs")
    table.get_by_text(scene.done_run).wait_for(timeout=UI_TIMEOUT_MS)
    page.get_by_role("checkbox", name=f"Select {scene.done_run}").click()
    toolbar = page.get_by_role("toolbar", name="Selected runs")
    toolbar.get_by_role("button", name="Compare").wait_for(timeout=UI_TIMEOUT_MS)
    for name in ("Cancel", "Re-queue", "Delete", "Group"):
        assert toolbar.get_by_role("button", name=re.compile(name)).count() == 0, name

    # A queued run's page: no cancel, no tag editing.
    page.goto(f"{url}/run/?id={scene.queued_run_id}")
    page.get_by_role("heading", name=re.compile(re.escape(scene.queued_run))).wait_for(
        timeout=UI_TIMEOUT_MS
    )
    project_known(page)
    page.get_by_text("No tags").wait_for(timeout=UI_TIMEOUT_MS)
    for name in ("Cancel", "Edit tags"):
        no_button(page, name)
    # A finished run's page: no re-queue, resume or delete.
    page.goto(f"{url}/run/?id={scene.done_run_id}")
    page.get_by_role("heading", name=re.compile(scene.done_run)).wait_for(timeout=UI_TIMEOUT_MS)
    project_known(page)
    for name in ("Re-queue", "Resume", "Delete"):
        no_button(page, name)

    # The configs list: no new config, no queueing.
    page.goto(f"{url}/project/configs/?id={scene.project_id}")
    page.get_by_role("link", name="base", exact=True).wait_for(timeout=UI_TIMEOUT_MS)
    project_known(page)
    assert page.get_by_role("link", name="New config").count() == 0
    no_button(page, "Queue run")

    # The config page is read-only, and says why.
    page.goto(f"{url}/config/?id={scene.config_id}")
    page.get_by_text("You are a viewer of vision").wait_for(timeout=UI_TIMEOUT_MS)
    assert page.get_by_role("button", name=re.compile("Save as version")).count() == 0
    no_button(page, "Queue run")
    no_button(page, "Clone")
    expect(page.locator("fieldset[disabled]").first).to_be_visible()
    # The new-config page tells a viewer it is for editors instead of showing a form.
    page.goto(f"{url}/config/new/?project={scene.project_id}")
    page.get_by_text("Creating configs is for editors").wait_for(timeout=UI_TIMEOUT_MS)
    assert page.get_by_role("button", name="Create config").count() == 0

    # The API refuses what the page hides, from the page's own context with its CSRF token: the
    # 403 is the role's (forbidden), not a missing CSRF header's.
    answer = page.evaluate(
        """async (runId) => {
          const csrf = document.cookie.split('; ').find((c) => c.startsWith('vy_csrf='));
          const response = await fetch(`/api/v1/runs/${runId}/cancel`, {
            method: 'POST',
            credentials: 'include',
            headers: { 'X-CSRF-Token': decodeURIComponent(csrf.split('=')[1]) },
          });
          return { status: response.status, body: await response.json() };
        }""",
        scene.queued_run_id,
    )
    assert answer["status"] == 403, answer
    assert answer["body"]["error"]["code"] == "forbidden", answer
    with admin_api(url) as api:
        assert ok(api.get(f"/runs/{scene.queued_run_id}"))["state"] == "queued"

    # The same pages offer the changes to one who may make them (the admin acts as owner).
    page.context.clear_cookies()
    log_in(page, url)
    page.goto(f"{url}/run/?id={scene.queued_run_id}")
    page.get_by_role("button", name="Cancel", exact=True).wait_for(timeout=UI_TIMEOUT_MS)
    page.get_by_role("button", name="Edit tags").wait_for(timeout=UI_TIMEOUT_MS)
    page.goto(f"{url}/config/?id={scene.config_id}")
    page.get_by_role("button", name="Queue run").wait_for(timeout=UI_TIMEOUT_MS)
    assert page.get_by_text("You are a viewer").count() == 0


# ---- (b) an owner manages the members ------------------------------------------------------------


def test_an_owner_adds_a_member_changes_the_role_and_cannot_demote_the_last_owner(
    page: Page, ui_url: str
) -> None:
    with admin_api(ui_url) as api:
        for name in ("olive", "ana"):
            ok(api.post("/users", json={"username": name, "password": PASSWORD}))
    log_in(page, ui_url, PASSWORD, username="olive")
    # Olive creates the project, so she is its only owner (an admin's would be the admin's).
    page.get_by_role("button", name="New project").first.click()
    page.get_by_label("Name").fill("faces")
    page.get_by_role("button", name=re.compile("Create")).click()
    page.wait_for_url(re.compile(r".*/project/\?id=\d+"), timeout=UI_TIMEOUT_MS)
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Members").click()
    members = page.get_by_role("list", name="Members")
    members.get_by_text("olive").wait_for(timeout=UI_TIMEOUT_MS)

    # An unknown name: the API's 404 message, on the form.
    page.get_by_label("Username").fill("nobody")
    page.get_by_role("button", name="Add member").click()
    form = page.get_by_role("form", name="Add a member")
    expect(form.get_by_role("alert")).to_contain_text("nobody", timeout=UI_TIMEOUT_MS)

    page.get_by_label("Username").fill("ana")
    page.get_by_label("Role", exact=True).click()
    page.get_by_role("option", name="Editor").click()
    page.get_by_role("button", name="Add member").click()
    ana = members.get_by_role("listitem").filter(has_text="ana")
    expect(ana.get_by_role("combobox", name="Role of ana")).to_have_text(
        "Editor", timeout=UI_TIMEOUT_MS
    )

    ana.get_by_role("combobox", name="Role of ana").click()
    page.get_by_role("option", name="Viewer").click()
    expect(ana.get_by_role("combobox", name="Role of ana")).to_have_text(
        "Viewer", timeout=UI_TIMEOUT_MS
    )

    # Demoting herself, the last owner: the 409's message, on her row; she stays owner.
    olive = members.get_by_role("listitem").filter(has_text="olive")
    olive.get_by_role("combobox", name="Role of olive").click()
    page.get_by_role("option", name="Editor").click()
    expect(olive.get_by_role("alert")).to_contain_text("owner", timeout=UI_TIMEOUT_MS)
    expect(olive.get_by_role("combobox", name="Role of olive")).to_have_text("Owner")

    with admin_api(ui_url) as api:
        project = ok(api.get("/projects", params={"q": "faces"}))["items"][0]
        roles = {
            m["username"]: m["role"]
            for m in ok(api.get(f"/projects/{project['id']}/members"))["items"]
        }
    assert roles == {"olive": "owner", "ana": "viewer"}

    # Ana, a viewer, reads the list and is told who can change it.
    page.context.clear_cookies()
    log_in(page, ui_url, PASSWORD, username="ana")
    page.goto(f"{ui_url}/project/members/?id={project['id']}")
    page.get_by_text("Only an owner (olive) or an admin").wait_for(timeout=UI_TIMEOUT_MS)
    assert page.get_by_role("button", name="Add member").count() == 0
    assert page.get_by_role("combobox", name=re.compile("Role of")).count() == 0


# ---- (c) the account page: tokens and sessions ---------------------------------------------------


def test_a_read_token_limited_to_a_project_and_log_out_everywhere(
    browser: Browser, page: Page, ui_url: str
) -> None:
    with admin_api(ui_url) as api:
        project = ok(api.post("/projects", json={"name": "limited"}))
        ok(api.post("/projects", json={"name": "other"}))
    log_in(page, ui_url)
    page.get_by_role("link", name=re.compile("^Account")).click()
    page.wait_for_url(f"{ui_url}/account/", timeout=UI_TIMEOUT_MS)

    page.get_by_role("button", name="New token").click()
    dialog = page.get_by_role("dialog", name="New API token")
    dialog.get_by_label("Name").fill("reader")
    dialog.get_by_role("radio", name=re.compile("^Read")).check()
    dialog.get_by_role("checkbox", name="limited").check()
    dialog.get_by_label("Expires after (days)").fill("30")
    dialog.get_by_role("button", name="Create token").click()
    shown = page.get_by_role("dialog", name="Token reader created")
    secret = shown.get_by_role("textbox", name="Secret").input_value()
    assert len(secret) > 20
    shown.get_by_role("button", name="I have copied it").click()
    expect(shown).to_be_hidden()
    assert secret not in page.content()  # shown once

    bearer = {"Authorization": f"Bearer {secret}"}
    assert httpx.get(f"{ui_url}{API}/projects/{project['id']}", headers=bearer).status_code == 200
    names = [
        p["name"] for p in httpx.get(f"{ui_url}{API}/projects", headers=bearer).json()["items"]
    ]
    assert names == ["limited"]
    refused = httpx.post(f"{ui_url}{API}/projects", headers=bearer, json={"name": "nope"})
    assert refused.status_code == 403

    reader = page.get_by_role("list", name="API tokens").get_by_role("listitem")
    reader = reader.filter(has_text="reader")
    expect(reader).to_contain_text("read")
    expect(reader).to_contain_text("limited")
    expect(reader).to_contain_text("expires in")
    reader.get_by_role("button", name="Revoke reader").click()
    page.get_by_role("button", name="Revoke token").click()
    reader.get_by_text("revoked", exact=True).wait_for(timeout=UI_TIMEOUT_MS)
    assert httpx.get(f"{ui_url}{API}/auth/me", headers=bearer).status_code == 401

    # A second browser signs in: both sessions are listed, this one marked.
    other = browser.new_context()
    try:
        second = other.new_page()
        log_in(second, ui_url)
        page.reload()
        sessions = page.get_by_role("list", name="Sessions").get_by_role("listitem")
        expect(sessions).to_have_count(2, timeout=UI_TIMEOUT_MS)
        expect(sessions.filter(has_text="this browser")).to_have_count(1)

        page.get_by_role("button", name="Log out everywhere").click()
        page.get_by_role("alertdialog").get_by_role("button", name="Log out everywhere").click()
        page.wait_for_url(f"{ui_url}/login/", timeout=UI_TIMEOUT_MS)
        second.goto(f"{ui_url}/projects/")
        second.wait_for_url(re.compile(r".*/login/"), timeout=UI_TIMEOUT_MS)
    finally:
        other.close()


# ---- (d) the audit log ---------------------------------------------------------------------------


def test_an_admin_reads_the_audit_log_and_filters_it_by_action(page: Page, ui_url: str) -> None:
    with admin_api(ui_url) as api:
        project = ok(api.post("/projects", json={"name": "audited"}))
        ok(api.post("/users", json={"username": "bob", "password": PASSWORD}))
        member = {"username": "bob", "role": "editor"}
        ok(api.put(f"/projects/{project['id']}/members", json=member))
    wrong = {"username": "bob", "password": "not-the-password"}
    assert httpx.post(f"{ui_url}{API}/auth/login", json=wrong).status_code == 401

    log_in(page, ui_url)
    page.goto(f"{ui_url}/admin/")
    page.get_by_role("link", name="Audit log").click()
    page.wait_for_url(f"{ui_url}/admin/audit/", timeout=UI_TIMEOUT_MS)
    table = page.get_by_role("table", name="Audit events")
    changed = table.get_by_role("row").filter(has_text="setProjectMember")
    failed = table.get_by_role("row").filter(has_text="loginFailed")
    changed.wait_for(timeout=UI_TIMEOUT_MS)
    expect(changed).to_contain_text("audited")
    expect(failed).to_have_count(1)
    expect(failed).to_contain_text("bob")

    # A row opens to its JSON details.
    changed.get_by_role("button", name=re.compile("Show details")).click()
    expect(table.locator("pre")).to_contain_text("editor")

    page.get_by_label("Action").fill("loginFailed")
    expect(changed).to_have_count(0, timeout=UI_TIMEOUT_MS)
    expect(failed).to_have_count(1)
    actions = table.locator("tbody tr td:nth-child(4)").all_inner_texts()
    assert actions and set(actions) == {"loginFailed"}, actions

    # Not for others: a non-admin gets the admin pages' empty state.
    page.context.clear_cookies()
    log_in(page, ui_url, PASSWORD, username="bob")
    page.goto(f"{ui_url}/admin/audit/")
    page.get_by_text("The audit log is for admins").wait_for(timeout=UI_TIMEOUT_MS)
    assert page.get_by_role("table", name="Audit events").count() == 0
