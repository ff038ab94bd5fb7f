"""The configs pages in a real Chromium against a real dashboard: writing a config in the form
generated from the TrainConfig schema (with the API's field errors shown on the fields), versions
and their diff, the JSON tab, cloning, and queueing a run that waits (no agent runs here)."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from playwright.sync_api import expect

from tests.liveserver import admin_api
from tests.web_ui.axe import serious_axe_violations
from tests.web_ui.conftest import UI_TIMEOUT_MS, log_in
from visionyard.settings import Settings

if TYPE_CHECKING:
    from playwright.sync_api import Dialog, Page


class Platform:
    """The dashboard's API, for setting the scene the way an admin would (not what is tested)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = admin_api(url)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(path, json=body)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def get(self, path: str) -> dict[str, Any]:
        response = self.http.get(path)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def platform(
    ui_url: str,
    ui_settings: Settings,
    digits_root: Path,
    tiny_model: Callable[[str], Path],
    models_dir: Path,
) -> Iterator[Platform]:
    """A dashboard with the digits dataset registered and a tiny local model under its models
    root (registered in each project the test makes)."""
    shutil.copytree(digits_root, ui_settings.datasets_root / "digits")
    shutil.copytree(tiny_model("vit"), models_dir / "tiny-vit")
    api = Platform(ui_url)
    api.post("/datasets", {"name": "digits", "path": "digits"})
    yield api
    api.http.close()


def new_project(platform: Platform, name: str) -> int:
    project = platform.post("/projects", {"name": name})
    platform.post(f"/projects/{project['id']}/models", {"name": "tiny-vit", "source": "tiny-vit"})
    return project["id"]


def pick(page: Page, label: str, option: str) -> None:
    """Choose an option of a (Radix) select by its label, as a keyboard or mouse user does."""
    page.get_by_label(label, exact=True).click()
    page.get_by_role("option", name=option).click()


def test_write_a_config_in_the_form_fix_a_field_error_then_version_and_diff(
    page: Page, platform: Platform
) -> None:
    project_id = new_project(platform, "digits-lab")
    log_in(page, platform.url)
    page.goto(f"{platform.url}/project/configs/?id={project_id}")
    page.get_by_text("No configs yet").wait_for(timeout=UI_TIMEOUT_MS)
    assert "training recipe" in page.get_by_text("A config is a training recipe").inner_text()
    page.get_by_role("link", name="New config").first.click()
    page.wait_for_url("**/config/new/?project=*", timeout=UI_TIMEOUT_MS)

    page.get_by_label("Name", exact=True).fill("vit-baseline")
    pick(page, "Registered dataset", "digits (digits)")
    assert page.get_by_label("Dataset", exact=True).input_value() == "digits"
    pick(page, "Registered model", "tiny-vit (local)")
    model = page.get_by_role("textbox", name="Model", exact=True)
    assert model.input_value().endswith("tiny-vit")  # a local model: its folder
    page.get_by_label("Epochs").fill("2")
    # Left empty, the worker count is sized to the machine when the run starts; the form says so.
    workers = page.get_by_label("Data loader workers")
    assert workers.input_value() == ""
    assert workers.get_attribute("placeholder") == "auto (sized to the machine)"
    page.get_by_label("Batch size").fill("0")  # the API refuses it: the form must say so
    page.get_by_role("button", name="Create config").click()

    batch = page.get_by_label("Batch size")
    page.locator("#field-batch_size-error").wait_for(timeout=UI_TIMEOUT_MS)
    assert batch.get_attribute("aria-invalid") == "true"
    assert "field-batch_size-error" in (batch.get_attribute("aria-describedby") or "")
    assert "greater than or equal to 1" in page.locator("#field-batch_size-error").inner_text()
    summary = page.get_by_role("alert").filter(has_text="to fix before saving")
    assert "Batch size" in summary.inner_text()
    assert "/config/new/" in page.url  # nothing was saved

    batch.fill("16")
    assert batch.get_attribute("aria-invalid") is None
    page.get_by_role("button", name="Create config").click()
    page.wait_for_url(re.compile(r".*/config/\?id=\d+$"), timeout=UI_TIMEOUT_MS)
    page.get_by_text("Config vit-baseline created (version 1)").wait_for(timeout=UI_TIMEOUT_MS)
    config_id = int(page.url.rsplit("=", 1)[1])
    saved = platform.get(f"/configs/{config_id}")["latest"]["data"]
    assert (saved["batch_size"], saved["epochs"]) == (16, 2)
    assert saved.get("num_workers") is None
    assert saved["root"].endswith("/digits")
    # The breadcrumbs lead back through the project.
    crumbs = page.get_by_role("navigation", name="Breadcrumb")
    assert [t.strip() for t in crumbs.get_by_role("listitem").all_inner_texts()] == [
        "Projects",
        "digits-lab",
        "Configs",
        "vit-baseline",
    ]

    # Edit -> version 2.
    page.get_by_label("Learning rate").fill("0.001")
    page.get_by_text("Unsaved changes").wait_for(timeout=UI_TIMEOUT_MS)
    # A link out of the page asks first; staying keeps the edit.
    asked: list[str] = []

    def stay(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", stay)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Projects").click()
    page.wait_for_timeout(300)  # a navigation would have begun by now
    assert asked and "unsaved changes" in asked[0]
    assert (
        "/config/?id=" in page.url and page.get_by_label("Learning rate").input_value() == "0.001"
    )
    page.get_by_label("Change note").fill("faster lr")
    page.get_by_role("button", name="Save as version 2").click()
    page.get_by_text("Saved version 2 of vit-baseline").wait_for(timeout=UI_TIMEOUT_MS)

    # A field off its default can be put back in one click; discarding restores the saved one.
    lr = page.get_by_label("Learning rate")
    page.get_by_role("button", name="Restore default (0.0003)").click()
    assert lr.input_value() == "0.0003"
    page.get_by_role("button", name="Discard changes").click()
    assert lr.input_value() == "0.001"

    # The JSON tab shows the same object (and downloads it); an edit there is version 3.
    page.get_by_role("tab", name="JSON").click()
    assert "tab=json" in page.url
    editor = page.get_by_label("Config JSON")
    data = json.loads(editor.input_value())
    assert data["lr"] == 0.001
    with page.expect_download() as download:
        page.get_by_role("button", name="Download").click()
    assert download.value.suggested_filename == "vit-baseline-v2.json"
    assert json.loads(Path(download.value.path()).read_text()) == data
    editor.fill("{ not json")
    page.get_by_text("Not valid JSON").wait_for(timeout=UI_TIMEOUT_MS)
    data["epochs"] = 3
    editor.fill(json.dumps(data, indent=2))
    page.get_by_role("tab", name="Form").click()
    assert page.get_by_label("Epochs").input_value() == "3"  # the form follows the JSON
    page.get_by_role("button", name="Save as version 3").click()
    page.get_by_text("Saved version 3 of vit-baseline").wait_for(timeout=UI_TIMEOUT_MS)

    # The same tab in YAML (the dialect the CLI reads); an edit there is version 4.
    page.get_by_role("tab", name="JSON").click()
    page.get_by_role("radio", name="YAML").click()
    editor = page.get_by_label("Config YAML")
    expect(editor).to_have_value(re.compile(r"^epochs: 3$", re.M), timeout=UI_TIMEOUT_MS)
    text = editor.input_value()
    assert yaml.safe_load(text) == platform.get(f"/configs/{config_id}")["latest"]["data"]
    with page.expect_download() as download:
        page.get_by_role("button", name="Download").click()
    assert download.value.suggested_filename == "vit-baseline-v3.yaml"
    assert yaml.safe_load(Path(download.value.path()).read_text()) == yaml.safe_load(text)
    editor.fill("epochs: [3")
    page.get_by_text("Not valid YAML").wait_for(timeout=UI_TIMEOUT_MS)
    # A half-typed edit is not converted: the other format waits until this one parses.
    assert page.get_by_role("radio", name="JSON").is_disabled()
    editor.fill(text.replace("epochs: 3", "epochs: 4"))
    page.get_by_role("button", name="Save as version 4").click()
    page.get_by_text("Saved version 4 of vit-baseline").wait_for(timeout=UI_TIMEOUT_MS)
    assert platform.get(f"/configs/{config_id}")["latest"]["data"]["epochs"] == 4

    # History: the diff of 1 and 2 highlights lr, and the URL keeps the comparison.
    page.get_by_role("tab", name=re.compile("History")).click()
    page.get_by_role("button", name="Diff with v1").click()
    table = page.get_by_role("table", name="Version 1 and version 2 side by side")
    table.wait_for(timeout=UI_TIMEOUT_MS)
    row = table.locator("tr[data-change=changed]")
    assert row.count() == 1
    assert "lr" in row.inner_text() and "changed" in row.inner_text()
    assert "0.001" in row.inner_text()
    assert "tab=history" in page.url and "from=1" in page.url and "to=2" in page.url
    page.get_by_text("faster lr").wait_for(timeout=UI_TIMEOUT_MS)
    page.reload()
    page.get_by_role("table", name="Version 1 and version 2 side by side").wait_for(
        timeout=UI_TIMEOUT_MS
    )
    # Leaving with an unsaved edit, when the user says so, leaves and saves nothing.
    page.get_by_role("tab", name="Form").click()
    page.get_by_label("Epochs").fill("9")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Projects").click()
    page.wait_for_url(f"{platform.url}/projects/", timeout=UI_TIMEOUT_MS)
    assert platform.get(f"/configs/{config_id}")["latest"]["data"]["epochs"] == 4


def test_clone_with_another_lr_then_queue_a_run_that_waits(page: Page, platform: Platform) -> None:
    project_id = new_project(platform, "sweeps")
    platform.post(f"/projects/{project_id}/groups", {"name": "lr-sweep"})
    base = platform.post(
        f"/projects/{project_id}/configs",
        {"name": "base", "data": {"root": "digits", "model_flavour": "tiny-vit", "lr": 0.0003}},
    )
    log_in(page, platform.url)
    page.goto(f"{platform.url}/project/configs/?id={project_id}")
    page.get_by_role("link", name="base", exact=True).click()
    page.wait_for_url(f"**/config/?id={base['id']}", timeout=UI_TIMEOUT_MS)

    page.get_by_role("button", name="Clone").click()
    page.get_by_label("New name").fill("base-lr1e-3")
    page.get_by_role("button", name="Clone and open").click()
    page.wait_for_url(re.compile(rf".*/config/\?id=(?!{base['id']}$)\d+$"), timeout=UI_TIMEOUT_MS)
    page.get_by_role("heading", name=re.compile("base-lr1e-3")).wait_for(timeout=UI_TIMEOUT_MS)
    page.get_by_label("Learning rate").fill("0.001")
    page.get_by_role("button", name="Save as version 2").click()
    page.get_by_text("Saved version 2 of base-lr1e-3").wait_for(timeout=UI_TIMEOUT_MS)
    clone_id = int(page.url.split("id=")[1].split("&")[0])
    assert platform.get(f"/configs/{clone_id}")["latest"]["data"]["lr"] == 0.001
    assert platform.get(f"/configs/{base['id']}")["latest"]["data"]["lr"] == 0.0003

    page.get_by_label("Epochs").fill("5")  # an edit not saved: the dialog says it is not run
    page.get_by_role("button", name="Queue run").click()
    dialog = page.get_by_role("dialog")
    assert "unsaved changes" in dialog.get_by_text("a run takes a saved version").inner_text()
    assert dialog.get_by_label("Version", exact=True).inner_text().startswith("Version 2")
    dialog.get_by_label("Run name").fill("sweep-1")
    dialog.get_by_label("Priority").fill("5")
    dialog.get_by_label("GPU count").fill("0")
    pick(page, "Experiment group", "lr-sweep")
    dialog.get_by_label("Tags").fill("sweep, lr")
    dialog.get_by_role("button", name="Queue run").click()
    dialog.get_by_text("Run queued").wait_for(timeout=UI_TIMEOUT_MS)
    reason = dialog.get_by_test_id("waiting-for").inner_text()
    assert "agent" in reason.lower()  # no agent runs in this test: it says so
    dialog.get_by_text("queued", exact=True).wait_for(timeout=UI_TIMEOUT_MS)
    run_id = int(dialog.get_by_role("link", name="Open run").get_attribute("href").split("=")[1])
    run = platform.get(f"/runs/{run_id}")
    assert (run["name"], run["priority"], run["state"]) == ("sweep-1", 5, "queued")
    assert sorted(run["tags"]) == ["lr", "sweep"] and run["group_id"] is not None
    assert run["config_version"] == 2

    # The config's Runs tab lists it, queued, with the same reason; so does the list's count.
    dialog.get_by_role("button", name="Close").first.click()
    page.get_by_role("button", name="Discard changes").click()
    page.get_by_role("tab", name="Runs").click()
    runs = page.get_by_role("list", name="Runs of this config")
    runs.get_by_role("link", name="sweep-1").wait_for(timeout=UI_TIMEOUT_MS)
    assert runs.get_by_test_id("waiting-for").inner_text() == reason
    assert "tab=runs" in page.url
    page.goto(f"{platform.url}/project/configs/?id={project_id}")
    page.get_by_role("link", name="1 run of base-lr1e-3").wait_for(timeout=UI_TIMEOUT_MS)


def test_the_configs_list_searches_and_deletes_with_confirmation(
    page: Page, platform: Platform
) -> None:
    project_id = new_project(platform, "listing")
    for name in ("resnet-a", "vit-b"):
        platform.post(
            f"/projects/{project_id}/configs",
            {"name": name, "data": {"root": "digits", "model_flavour": "tiny-vit"}},
        )
    log_in(page, platform.url)
    page.goto(f"{platform.url}/project/configs/?id={project_id}&q=vit")
    page.get_by_role("link", name="vit-b", exact=True).wait_for(timeout=UI_TIMEOUT_MS)
    assert page.get_by_role("link", name="resnet-a").count() == 0
    assert page.get_by_label("Search configs").input_value() == "vit"

    page.get_by_role("button", name="Actions for vit-b").click()
    page.get_by_role("menuitem", name="Delete").click()
    page.get_by_role("button", name="Delete config").click()
    page.get_by_text("No config matches").wait_for(timeout=UI_TIMEOUT_MS)
    assert platform.get(f"/projects/{project_id}/configs")["total"] == 1


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_config_pages_have_no_serious_accessibility_problems(
    page: Page, platform: Platform, theme: str
) -> None:
    """axe on each view as a user meets it, in both themes: the list, the form showing a field
    error and its summary, the diff, and the queue dialog."""
    project_id = new_project(platform, "a11y")
    data = {"root": "digits", "model_flavour": "tiny-vit"}
    config = platform.post(f"/projects/{project_id}/configs", {"name": "base", "data": data})
    platform.http.put(f"/configs/{config['id']}", json={"data": data | {"lr": 0.01}})
    log_in(page, platform.url)
    page.evaluate(
        "theme => localStorage.setItem('visionyard-ui', JSON.stringify("
        "{state: {theme, projectId: null, compare: []}, version: 0}))",
        theme,
    )

    page.goto(f"{platform.url}/project/configs/?id={project_id}")
    page.get_by_role("link", name="base", exact=True).wait_for(timeout=UI_TIMEOUT_MS)
    assert ("dark" in (page.locator("html").get_attribute("class") or "")) == (theme == "dark")
    problems = {"list": serious_axe_violations(page)}

    page.goto(f"{platform.url}/config/?id={config['id']}")
    page.get_by_label("Batch size").fill("0")
    page.get_by_role("button", name="Save as version 3").click()
    page.locator("#field-batch_size-error").wait_for(timeout=UI_TIMEOUT_MS)
    problems["form with an error"] = serious_axe_violations(page)

    page.goto(f"{platform.url}/config/?id={config['id']}&tab=history&from=1&to=2")
    page.get_by_role("table", name="Version 1 and version 2 side by side").wait_for(
        timeout=UI_TIMEOUT_MS
    )
    problems["diff"] = serious_axe_violations(page)

    page.get_by_role("button", name="Queue run").click()
    page.get_by_role("dialog").get_by_label("Run name").wait_for(timeout=UI_TIMEOUT_MS)
    problems["queue dialog"] = serious_axe_violations(page)
    assert {view: found for view, found in problems.items() if found} == {}
