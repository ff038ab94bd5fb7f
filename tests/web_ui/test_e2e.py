"""The web UI's acceptance flow, as a user, in a real Chromium against a real platform: a
`visionyard serve` and a real CPU agent training a tiny model on the real digits dataset.

Log in, create a project, browse DATASETS_DIR and register the dataset, add the model, write a
config in the form (a field error shown on the field, then fixed), queue it and watch it train:
the loss curve gains points and the log tail grows; meanwhile the dashboard process is stopped
and started again (the banner says the live view is paused, clears when it is back, and the
chart goes on without losing or repeating a point: its point count is the API's). The run
succeeds; its results show the confusion matrix and the per-class table. Then clone the config
with another learning rate, queue it, compare the two runs, cancel the second while it trains,
and drain the agent."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tests.browser import BROWSER_HOME
from tests.web_ui.conftest import UI_TIMEOUT_MS, log_in
from tests.web_ui.platform import UiPlatform, ui_platform  # noqa: F401 - the fixture

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

#: the first run trains this many epochs of 400 images (0.5 s each on an idle 2-core machine, 1.5 s
#: on a busy one): long enough to watch it and restart the dashboard while it runs, on either
EPOCHS = 40
#: the second run is canceled while it trains: it must not end first
LONG_EPOCHS = 200
LOSS = "train/step_loss"
#: how long the dashboard stays down: more than the run page's slowest refresh (10 s) and its
#: retries (1 s, then 2 s)
DOWN_FOR_MS = 14_000
#: the page as it was when the test failed
FAILURE_SHOT = BROWSER_HOME / "screenshots" / "e2e-failure.png"
#: a live point must reach the chart within this (the agent relays about every second)
LIVE_MS = 30_000


def pick(page: Page, label: str, option: str) -> None:
    """Choose an option of a (Radix) select by its label, as a keyboard or mouse user does."""
    page.get_by_label(label, exact=True).click()
    page.get_by_role("option", name=option).click()


def field(page: Page, label: str) -> Locator:
    """A config form's text or number field by its accessible name (its label shows the config
    key too, hidden from assistive technology)."""
    return page.get_by_role("textbox", name=label, exact=True)


def loss_chart(page: Page) -> Locator:
    # "/" escaped: Playwright passes the pattern on as a JavaScript /regex/
    return page.get_by_role("figure", name=re.compile(LOSS.replace("/", r"\/") + ": line chart"))


def chart_points(chart: Locator) -> int:
    return int(chart.get_attribute("data-points") or 0)


def wait_points_above(page: Page, chart: Locator, count: int, timeout: int = LIVE_MS) -> int:
    page.wait_for_function(
        "([el, n]) => Number(el.dataset.points || 0) > n",
        arg=[chart.element_handle(), count],
        timeout=timeout,
    )
    return chart_points(chart)


#: how tall the log's content is: it grows by a row per line (the view is virtualised: only
#: the rows in sight are in the page, and the box does not grow past its own height)
LOG_HEIGHT = "el => [...el.children].reduce((sum, child) => sum + child.offsetHeight, 0)"


def log_height(page: Page) -> int:
    return page.get_by_role("log", name="Run log").evaluate(LOG_HEIGHT)


def test_from_login_to_a_trained_compared_and_canceled_run(
    page: Page,
    ui_platform: UiPlatform,  # noqa: F811 - the fixture imported above
) -> None:
    try:
        acceptance_flow(page, ui_platform)
    except BaseException:
        # what the user saw when it went wrong, for whoever reads the failure
        FAILURE_SHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=FAILURE_SHOT, full_page=True)
        raise


def acceptance_flow(page: Page, p: UiPlatform) -> None:
    url = p.url
    log_in(page, url)

    # ---- a project ----------------------------------------------------------------------------
    page.get_by_role("button", name="New project").first.click()
    page.get_by_label("Name").fill("digits")
    page.get_by_role("button", name="Create project").click()
    page.wait_for_url(re.compile(r".*/project/?\?id=\d+$"), timeout=UI_TIMEOUT_MS)
    project_id = int(page.url.rsplit("=", 1)[1])

    # ---- the dataset: browse DATASETS_DIR, register the folder --------------------------------
    page.get_by_role("link", name="Datasets").click()
    page.get_by_text("No datasets registered yet").wait_for(timeout=UI_TIMEOUT_MS)
    page.get_by_role("button", name="Open folder digits").click()
    page.get_by_role("button", name="Register this folder").click()
    assert page.get_by_label("Name").input_value() == "digits"
    page.get_by_role("button", name="Register", exact=True).click()
    page.wait_for_url("**/dataset/?id=*", timeout=UI_TIMEOUT_MS)
    train = page.get_by_role("table", name="Images per class in train")
    assert train.get_by_role("row", name="7").inner_text().split() == ["7", "40"]

    # ---- the model: a local folder under VISIONYARD_MODELS_DIR ---------------------------------
    page.goto(f"{url}/project/models/?id={project_id}")
    page.get_by_role("button", name="Add model").first.click()
    page.get_by_label("Name").fill("tiny-resnet")
    page.get_by_role("radio", name="Local folder").check()
    page.get_by_role("textbox", name="Folder").fill("tiny-resnet")
    page.get_by_role("button", name="Add model").last.click()
    page.get_by_role("list", name="Models").get_by_text("Local folder").wait_for(
        timeout=UI_TIMEOUT_MS
    )

    # ---- a config in the form: a field error, shown on the field, fixed ------------------------
    page.goto(f"{url}/project/configs/?id={project_id}")
    page.get_by_role("link", name="New config").first.click()
    page.wait_for_url("**/config/new/?project=*", timeout=UI_TIMEOUT_MS)
    page.get_by_label("Name", exact=True).fill("resnet-baseline")
    pick(page, "Registered dataset", "digits (digits)")
    pick(page, "Registered model", "tiny-resnet (local)")
    field(page, "Epochs").fill(str(EPOCHS))
    field(page, "Learning rate").fill("0.002")
    field(page, "Data loader workers").fill("0")
    field(page, "Log every N steps").fill("1")
    field(page, "Batch size").fill("0")
    page.get_by_role("button", name="Create config").click()
    error = page.locator("#field-batch_size-error")
    error.wait_for(timeout=UI_TIMEOUT_MS)
    assert "greater than or equal to 1" in error.inner_text()
    assert field(page, "Batch size").get_attribute("aria-invalid") == "true"
    field(page, "Batch size").fill("16")
    page.get_by_role("button", name="Create config").click()
    page.wait_for_url(re.compile(r".*/config/\?id=\d+$"), timeout=UI_TIMEOUT_MS)
    config_url = page.url

    # ---- queue it and watch it train -----------------------------------------------------------
    first = queue_and_open(page, "baseline")
    run_id = int(page.url.split("id=")[1].split("&")[0])
    page.get_by_text("running", exact=True).first.wait_for(timeout=60_000)
    chart = loss_chart(page)  # there once the trainer has logged its first step
    chart.wait_for(timeout=60_000)
    seen = wait_points_above(page, chart, 0, timeout=60_000)
    seen = wait_points_above(page, chart, seen)  # the curve grows while it trains, live

    page.get_by_role("tab", name="Logs").click()
    log = page.get_by_role("log", name="Run log")
    log.wait_for(timeout=UI_TIMEOUT_MS)
    height = log_height(page)
    page.wait_for_function(  # the log tail grows while it trains
        f"([el, h]) => ({LOG_HEIGHT})(el) > h",
        arg=[log.element_handle(), height],
        timeout=LIVE_MS,
    )

    page.get_by_role("tab", name="Overview").click()
    chart.wait_for(timeout=UI_TIMEOUT_MS)

    # The dashboard goes away mid-run and comes back on the same port and data.
    banner = page.get_by_test_id("live-banner")
    with p.dashboard_down():
        banner.wait_for(timeout=UI_TIMEOUT_MS)
        assert "reconnecting" in banner.inner_text()
        before = chart_points(chart)  # nothing can arrive now
        # the run trains on meanwhile: the agent writes to the database, not to the dashboard
        stored = p.stored_points(run_id, LOSS)
        p.wait_for("points stored", lambda: p.stored_points(run_id, LOSS) > stored, 30)
        # Long enough for the page's periodic requests to fail, retries and all: what it shows
        # stays on screen, under the banner, instead of giving way to an error.
        page.wait_for_timeout(DOWN_FOR_MS)
        assert chart.count() == 1, "the charts went away while the dashboard was down"
        assert chart_points(chart) == before
    banner.wait_for(state="hidden", timeout=UI_TIMEOUT_MS)
    # what was stored meanwhile arrives (the page resubscribes from the last point it had)
    wait_points_above(page, chart, before)

    p.wait_state(run_id, "succeeded", "failed", timeout=180)
    page.get_by_role("tab", name="Overview").click()
    page.get_by_text("succeeded", exact=True).first.wait_for(timeout=UI_TIMEOUT_MS)
    # Every step's loss once, across the restart: the chart holds exactly the API's series.
    steps = p.series(run_id, LOSS)
    assert len(steps) == len(set(steps)) == steps[-1] - steps[0] + 1
    page.wait_for_function(
        "([el, n]) => Number(el.dataset.points) === n",
        arg=[loss_chart(page).element_handle(), len(steps)],
        timeout=UI_TIMEOUT_MS,
    )

    page.get_by_role("tab", name="Results").click()
    matrix = page.get_by_role("table", name=re.compile("Confusion matrix", re.I))
    matrix.wait_for(timeout=UI_TIMEOUT_MS)
    assert matrix.get_by_role("row").count() >= 10
    per_class = page.get_by_role("table", name="Per-class metrics")
    assert per_class.get_by_role("row").count() == 11  # a header and one row per digit

    # ---- clone with another lr, queue, compare -------------------------------------------------
    page.goto(config_url)
    page.get_by_role("button", name="Clone").click()
    page.get_by_label("New name").fill("resnet-lr-0.01")
    page.get_by_role("button", name="Clone and open").click()
    page.get_by_role("heading", name=re.compile("resnet-lr-0.01")).wait_for(timeout=UI_TIMEOUT_MS)
    field(page, "Learning rate").fill("0.01")
    field(page, "Epochs").fill(str(LONG_EPOCHS))
    page.get_by_role("button", name="Save as version 2").click()
    page.get_by_text("Saved version 2 of resnet-lr-0.01").wait_for(timeout=UI_TIMEOUT_MS)
    second = queue_and_open(page, "lr-0.01")
    second_id = int(page.url.split("id=")[1].split("&")[0])
    wait_points_above(page, loss_chart(page), 0, timeout=60_000)

    page.goto(f"{url}/project/?id={project_id}")  # the project's runs table
    page.get_by_label(f"Select {first}").click()
    page.get_by_label(f"Select {second}").click()
    page.get_by_role("button", name="Compare").click()
    page.wait_for_url("**/compare/?runs=*", timeout=UI_TIMEOUT_MS)
    chips = page.get_by_role("list", name="Runs in this comparison")
    for name in (first, second):
        chips.get_by_role("link", name=name).wait_for(timeout=UI_TIMEOUT_MS)
    # the learning rates overlaid: both runs log theirs from the first step
    compared = page.get_by_role("figure", name=re.compile(r"train\/lr: line chart of 2 series"))
    compared.wait_for(timeout=UI_TIMEOUT_MS)
    legend = page.get_by_role("list", name="train/lr legend")
    for name in (first, second):
        legend.get_by_text(name, exact=True).wait_for(timeout=UI_TIMEOUT_MS)
    lr = page.get_by_role("table", name="Config fields of the compared runs").locator(
        'tr[data-config-key="lr"]'
    )
    assert re.search(r"0\.002\s+0\.01", lr.inner_text())

    # ---- cancel the running one ----------------------------------------------------------------
    page.goto(f"{url}/run/?id={second_id}")
    page.get_by_role("button", name="Cancel", exact=True).click()
    page.get_by_role("alertdialog").get_by_role("button", name="Cancel run").click()
    page.get_by_text("canceled", exact=True).first.wait_for(timeout=60_000)
    assert p.run(second_id)["state"] == "canceled"

    # ---- drain the agent -----------------------------------------------------------------------
    page.get_by_role("link", name="Agents").click()
    card = page.get_by_role("region", name="Agent cpu-1")
    card.get_by_text("Online").wait_for(timeout=UI_TIMEOUT_MS)
    card.get_by_role("button", name="Drain").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Drain agent").click()
    card.get_by_text("drained", exact=True).wait_for(timeout=UI_TIMEOUT_MS)
    p.wait_for(
        "the agent to see its drain",
        lambda: any(a["drained"] for a in p.api("GET", "/agents").json()["items"]),
    )


def queue_and_open(page: Page, name: str) -> str:
    """Queue the open config's latest version as a CPU run named `name`; open its page."""
    page.get_by_role("button", name="Queue run").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Run name").fill(name)
    dialog.get_by_label("GPU count").fill("0")
    dialog.get_by_role("button", name="Queue run").click()
    dialog.get_by_role("link", name="Open run").click()
    page.wait_for_url("**/run/?id=*", timeout=UI_TIMEOUT_MS)
    return name
