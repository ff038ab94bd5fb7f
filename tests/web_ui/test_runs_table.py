"""The project overview's run table in a real Chromium against a real dashboard: state chips,
filter expressions (and the API's message for a wrong one), sorting by a metric, shift-click
selection and a bulk cancel, moving runs into a new group, the column chooser kept across
reloads and in the URL, the CSV export of every run of the view, and 2,000 runs rendered
virtualized."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from tests.liveserver import admin_api
from tests.web_ui.conftest import UI_TIMEOUT_MS
from tests.web_ui.seed import SeedRun, make_project, seed_runs, write_events
from visionyard.db.models import RunState
from visionyard.settings import Settings

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

S, Q, F = RunState.succeeded, RunState.queued, RunState.failed

#: six runs: three succeeded with accuracies 0.62 / 0.91 / 0.85, one failed, two queued
RUNS = [
    SeedRun("resnet-a", S, lr=0.01, metrics={"val/acc@1": [0.5, 0.62], "val/loss": [1.2, 0.9]}),
    SeedRun(
        "resnet-b",
        S,
        lr=0.001,
        metrics={"val/acc@1": [0.7, 0.91], "val/loss": [0.8, 0.3]},
        tags=["best"],
    ),  # fmt: skip
    SeedRun("resnet-c", S, lr=0.003, metrics={"val/acc@1": [0.85, 0.8], "val/loss": [0.5, 0.6]}),
    SeedRun("vit-failed", F, lr=0.1, metrics={"val/acc@1": [0.1], "val/loss": [3.0]}),
    SeedRun("vit-queued-1", Q),
    SeedRun("vit-queued-2", Q),
]


@pytest.fixture
def project(ui_url: str, ui_settings: Settings) -> int:
    project_id = make_project(ui_url, "birds")
    seed_runs(ui_settings, project_id, RUNS)
    return project_id


def open_project(page: Page, url: str, project_id: int, query: str = "") -> None:
    page.goto(f"{url}/project/?id={project_id}{query}")
    page.get_by_role("table", name="Runs").wait_for(timeout=UI_TIMEOUT_MS)


def names(page: Page) -> list[str]:
    """The run names in the table's rows, top to bottom."""
    return page.locator("tbody tr[data-run-id] td:nth-child(2) a").all_inner_texts()


def wait_names(page: Page, expected: list[str]) -> None:
    page.wait_for_function(
        """expected => JSON.stringify([...document.querySelectorAll(
             'tbody tr[data-run-id] td:nth-child(2) a')].map(a => a.textContent)) ===
           JSON.stringify(expected)""",
        arg=expected,
        timeout=UI_TIMEOUT_MS,
    )


def chip(page: Page, state: str) -> Locator:
    return page.get_by_role("group", name="Filter by state").get_by_role(
        "button", name=re.compile(f"^{state}\\b", re.I)
    )


def test_a_new_project_points_to_its_configs(logged_in: Callable[[], Page], ui_url: str) -> None:
    page = logged_in()
    empty = make_project(ui_url, "empty")
    page.goto(f"{ui_url}/project/?id={empty}")
    page.get_by_text("No runs in this project yet").wait_for(timeout=UI_TIMEOUT_MS)
    link = page.get_by_role("link", name="Go to configs")
    assert link.get_attribute("href") == f"/project/configs/?id={empty}"
    crumbs = page.get_by_role("navigation", name="Breadcrumb")
    assert crumbs.inner_text().split() == ["Projects", "empty"]


def test_state_chips_filter_and_a_metric_sorts(
    logged_in: Callable[[], Page], ui_url: str, project: int
) -> None:
    page = logged_in()
    open_project(page, ui_url, project)
    wait_names(page, [r.name for r in reversed(RUNS)])  # newest first
    assert "6" in chip(page, "all").inner_text() and "2" in chip(page, "queued").inner_text()

    chip(page, "succeeded").click()
    wait_names(page, ["resnet-c", "resnet-b", "resnet-a"])
    assert "state=succeeded" in page.url
    assert chip(page, "succeeded").get_attribute("aria-pressed") == "true"

    # the monitored metric (val/acc@1): best first, then the other way round
    page.get_by_role("button", name="Sort by Best").click()
    wait_names(page, ["resnet-b", "resnet-c", "resnet-a"])
    page.get_by_role("button", name="Sort by Best").click()
    wait_names(page, ["resnet-a", "resnet-c", "resnet-b"])
    assert "sort=best" in page.url and "order=asc" in page.url

    # the view is in the URL: a reload shows the same rows
    page.reload()
    wait_names(page, ["resnet-a", "resnet-c", "resnet-b"])


def test_the_table_follows_state_changes_and_progress_live(
    logged_in: Callable[[], Page], ui_url: str, ui_settings: Settings
) -> None:
    page = logged_in()
    project_id = make_project(ui_url, "live")
    waiting, training = seed_runs(
        ui_settings, project_id, [SeedRun("waiting"), SeedRun("training", RunState.running)]
    )
    open_project(page, ui_url, project_id)
    wait_names(page, ["training", "waiting"])

    # another user cancels the queued run: its row and the counts change without a reload
    with admin_api(ui_url) as api:
        api.post(f"/runs/{waiting}/cancel").raise_for_status()
    page.locator(f"tr[data-run-id='{waiting}'] [data-state=canceled]").wait_for(
        timeout=UI_TIMEOUT_MS
    )
    chip(page, "canceled").filter(has_text="1").wait_for(timeout=UI_TIMEOUT_MS)

    # the trainer reports progress: the bar and the time left follow
    progress = {"type": "progress", "seq": 1, "epoch": 5, "epochs": 10, "step": 50,
                "total_steps": 100, "eta_s": 120.0}  # fmt: skip
    write_events(ui_settings, training, [progress])
    row = page.locator(f"tr[data-run-id='{training}']")
    row.get_by_text("50%").wait_for(timeout=UI_TIMEOUT_MS)
    assert "2 min 00 s left" in row.inner_text()
    assert (
        page.get_by_role("progressbar", name="Progress of training").get_attribute("aria-valuenow")
        == "50"
    )


def test_filter_expressions_and_the_apis_message_for_a_wrong_one(
    logged_in: Callable[[], Page], ui_url: str, project: int
) -> None:
    page = logged_in()
    open_project(page, ui_url, project)
    box = page.get_by_label("Filter runs")
    box.fill("val/acc@1 >= 0.8")
    box.press("Enter")
    wait_names(page, ["resnet-c", "resnet-b"])
    expect(chip(page, "all")).to_contain_text("2", timeout=UI_TIMEOUT_MS)  # counts follow it

    box.fill("val/acc@1 >= 0.8, lr < 0.002")
    box.press("Enter")
    wait_names(page, ["resnet-b"])

    box.fill("bogus > 1")
    box.press("Enter")
    alert = page.locator("#filter-error")
    alert.wait_for(timeout=UI_TIMEOUT_MS)
    assert "unknown key 'bogus'" in alert.inner_text()
    assert box.get_attribute("aria-invalid") == "true"

    page.get_by_role("button", name="Clear the filter").click()
    wait_names(page, [r.name for r in reversed(RUNS)])
    expect(alert).to_be_hidden(timeout=UI_TIMEOUT_MS)

    # the name search, typed key by key ("/" focuses it)
    page.keyboard.press("/")
    page.keyboard.type("resnet-")
    wait_names(page, ["resnet-c", "resnet-b", "resnet-a"])
    search = page.get_by_label("Search runs")
    assert search.input_value() == "resnet-" and search.evaluate(
        "el => el === document.activeElement"
    )
    assert "q=resnet-" in page.url


def test_shift_click_selects_a_range_and_bulk_cancel(
    logged_in: Callable[[], Page], ui_url: str, ui_settings: Settings
) -> None:
    page = logged_in()
    project_id = make_project(ui_url, "queue")
    seed_runs(ui_settings, project_id, [SeedRun(f"q{i}") for i in range(1, 6)])
    open_project(page, ui_url, project_id)
    wait_names(page, ["q5", "q4", "q3", "q2", "q1"])

    page.get_by_label("Select q5").click()
    page.get_by_label("Select q2").click(modifiers=["Shift"])
    toolbar = page.get_by_role("toolbar", name="Selected runs")
    toolbar.get_by_text("4 runs selected").wait_for(timeout=UI_TIMEOUT_MS)
    assert page.get_by_label("Select q1").get_attribute("aria-checked") == "false"

    toolbar.get_by_role("button", name="Cancel").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Cancel 4 runs").click()
    page.get_by_text("Canceled 4 runs").wait_for(timeout=UI_TIMEOUT_MS)
    page.wait_for_function(
        "() => document.querySelectorAll('tbody [data-state=canceled]').length === 4",
        timeout=UI_TIMEOUT_MS,
    )
    assert "4" in chip(page, "canceled").inner_text()
    assert "1" in chip(page, "queued").inner_text()

    # all runs of the view, then delete: the queued one is skipped (cancel it first)
    page.get_by_label("Clear the selection").click()
    page.get_by_label("Select all 5 runs").click()
    toolbar.get_by_text("5 runs selected").wait_for(timeout=UI_TIMEOUT_MS)
    toolbar.get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("alertdialog")
    assert "1 of the selected are skipped" in dialog.inner_text()
    dialog.get_by_role("button", name="Delete 4 runs").click()
    wait_names(page, ["q1"])
    assert "1" in chip(page, "all").inner_text()


def test_selected_runs_move_into_a_new_group(
    logged_in: Callable[[], Page], ui_url: str, project: int
) -> None:
    page = logged_in()
    open_project(page, ui_url, project)
    page.get_by_label("Select resnet-a").click()
    page.get_by_label("Select resnet-b").click()
    page.get_by_role("button", name="Move to group").click()
    page.get_by_role("menuitem", name="New group…").click()
    page.get_by_label("Group name").fill("lr-sweep")
    page.get_by_role("button", name="Create group").click()
    page.get_by_text("Moved 2 runs to lr-sweep").wait_for(timeout=UI_TIMEOUT_MS)

    # the group column says it, and the group filter shows just those two
    row = page.locator("tbody tr", has_text="resnet-a")
    row.get_by_text("lr-sweep").wait_for(timeout=UI_TIMEOUT_MS)
    page.get_by_role("button", name="Group: all").click()
    page.get_by_role("menuitem", name="lr-sweep").click()
    wait_names(page, ["resnet-b", "resnet-a"])
    assert re.search(r"group=\d+", page.url)

    # rename it, then delete it: its runs stay, in no group
    page.get_by_role("button", name="Group: lr-sweep").click()
    page.get_by_role("menuitem", name="Rename lr-sweep…").click()
    page.get_by_label("Group name").fill("lr-sweep-2")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("button", name="Group: lr-sweep-2").wait_for(timeout=UI_TIMEOUT_MS)
    page.get_by_role("button", name="Group: lr-sweep-2").click()
    page.get_by_role("menuitem", name="Delete lr-sweep-2…").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Delete group").click()
    page.get_by_role("button", name="Group: all").wait_for(timeout=UI_TIMEOUT_MS)
    wait_names(page, [r.name for r in reversed(RUNS)])
    assert "group=" not in page.url
    assert page.locator("tbody tr", has_text="resnet-a").get_by_text("lr-sweep").count() == 0


def test_columns_are_kept_across_reloads_and_in_the_url(
    logged_in: Callable[[], Page], ui_url: str, project: int
) -> None:
    page = logged_in()
    open_project(page, ui_url, project)
    page.get_by_role("button", name="Columns").click()
    page.get_by_role("menuitemcheckbox", name="val/loss · min").click()
    page.get_by_role("menuitemcheckbox", name="Agent").click()
    page.keyboard.press("Escape")
    header = page.get_by_role("columnheader", name="val/loss")
    header.wait_for(timeout=UI_TIMEOUT_MS)
    assert page.get_by_role("columnheader", name="Agent").count() == 0
    assert "min%3Aval%2Floss" in page.url or "min:val/loss" in page.url
    row = page.locator("tbody tr", has_text="resnet-b")
    assert "0.3" in row.inner_text()

    # a plain link (no cols=) shows this user's saved columns
    open_project(page, ui_url, project)
    header.wait_for(timeout=UI_TIMEOUT_MS)
    assert page.get_by_role("columnheader", name="Agent").count() == 0

    # "only columns that differ": every run has batch size 32, so that column goes
    page.get_by_role("columnheader", name=re.compile("batch_size")).wait_for(timeout=UI_TIMEOUT_MS)
    page.get_by_role("button", name="Columns").click()
    page.get_by_role("menuitemcheckbox", name="Only columns that differ").click()
    page.keyboard.press("Escape")
    page.get_by_role("columnheader", name=re.compile("batch_size")).wait_for(
        state="detached", timeout=UI_TIMEOUT_MS
    )
    assert page.get_by_role("columnheader", name="Sort by lr config").count() == 1


def test_csv_export_holds_every_run_of_the_view(
    logged_in: Callable[[], Page], ui_url: str, project: int
) -> None:
    page = logged_in()
    open_project(page, ui_url, project, "&state=succeeded&sort=best")
    wait_names(page, ["resnet-b", "resnet-c", "resnet-a"])
    with page.expect_download(timeout=UI_TIMEOUT_MS) as download:
        page.get_by_role("button", name="Export CSV").click()
    assert download.value.suggested_filename == "birds-runs.csv"
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    assert [r["name"] for r in rows] == ["resnet-b", "resnet-c", "resnet-a"]
    assert [r["state"] for r in rows] == ["succeeded"] * 3
    assert [float(r["best"]) for r in rows] == [0.91, 0.85, 0.62]
    assert rows[0]["param:lr"] == "0.001"


def test_two_thousand_runs_render_virtualized_and_scroll(
    logged_in: Callable[[], Page], ui_url: str, ui_settings: Settings
) -> None:
    page = logged_in()
    project_id = make_project(ui_url, "big")
    seed_runs(
        ui_settings,
        project_id,
        [
            SeedRun(f"run-{i:04d}", S, lr=0.001 * (1 + i % 7), metrics={"val/acc@1": [i / 2000]})
            for i in range(2000)
        ],
    )
    open_project(page, ui_url, project_id)
    page.get_by_text("2000 runs in this view").wait_for(timeout=UI_TIMEOUT_MS)
    page.get_by_role("link", name="run-1999").wait_for(timeout=UI_TIMEOUT_MS)
    assert page.locator("tbody tr[data-run-id]").count() < 100

    scroller = page.get_by_test_id("runs-scroll")
    scroller.evaluate("el => el.scrollTo({ top: el.scrollHeight })")
    page.get_by_role("link", name="run-0000").wait_for(timeout=UI_TIMEOUT_MS)
    assert page.locator("tbody tr[data-run-id]").count() < 100
    assert page.get_by_role("link", name="run-1999").count() == 0
    scroller.evaluate("el => el.scrollTo({ top: el.scrollHeight / 2 })")
    page.get_by_role("link", name="run-1000").wait_for(timeout=UI_TIMEOUT_MS)

    # where the view was scrolled to is in the URL: a reload (or a shared link) opens there
    page.wait_for_url(re.compile(r"[?&]row=\d+"), timeout=UI_TIMEOUT_MS)
    row = int(re.search(r"[?&]row=(\d+)", page.url)[1])  # type: ignore[index]
    assert 900 < row < 1100
    page.reload()
    page.get_by_role("link", name=f"run-{1999 - row:04d}").wait_for(timeout=UI_TIMEOUT_MS)
    assert page.get_by_role("link", name="run-1999").count() == 0
