"""The compare page in a real Chromium against a real dashboard, with two runs really trained
by the training core (tiny ResNet on digits, learning rates 1e-3 and 1e-2) and imported as a
user does with `visionyard runs import`: overlaid curves (one line per run per chart), the
metrics table's best values and deltas to a pinned baseline, the config diff, the run picker,
and a comparison kept in (and restored from) its URL.

The runs are trained once for the suite (`trained_run`, shared with the run page's tests); each
test imports them into its own dashboard through the real import endpoint."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from tests.web_ui.axe import serious_axe_violations
from tests.web_ui.conftest import TRAINED_LRS, UI_TIMEOUT_MS, tar_run

if TYPE_CHECKING:
    from playwright.sync_api import Page

#: what the import needs of a run folder (the model and checkpoints stay behind: not compared)
RUN_FILES = ("config.json", "events.jsonl", "results.json", "reports/best-val.json")


@pytest.fixture
def trained(trained_run: Callable[[str], Path]) -> dict[str, Path]:
    """{run name: its run folder}: two real 2-epoch trainings that differ only in lr."""
    return {name: trained_run(name) for name in TRAINED_LRS}


def metric_values(folder: Path, split: str, metric: str) -> list[float]:
    events = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    return [
        e["values"][metric]
        for e in events
        if e["type"] == "metrics" and e["split"] == split and metric in e["values"]
    ]


@dataclass
class Imported:
    url: str
    ids: dict[str, int]  # run name -> id

    def compare_url(self, *names: str, extra: str = "") -> str:
        return f"{self.url}/compare/?runs={','.join(str(self.ids[n]) for n in names)}{extra}"


def import_runs(page: Page, url: str, trained: dict[str, Path]) -> Imported:
    """Upload the run folders through the import endpoint, each under its name in `trained`,
    with the page's session (and its CSRF token, as the page's own requests send it)."""
    csrf = next(c["value"] for c in page.context.cookies(url) if c["name"] == "vy_csrf")
    created = page.request.post(
        f"{url}/api/v1/projects", data={"name": "lr-sweep"}, headers={"X-CSRF-Token": csrf}
    )
    assert created.ok, created.text()
    project = created.json()["id"]
    ids = {}
    for name, folder in trained.items():
        response = page.request.post(
            f"{url}/api/v1/projects/{project}/runs/import",
            params={"name": name},
            data=tar_run(folder, RUN_FILES),
            headers={"Content-Type": "application/octet-stream", "X-CSRF-Token": csrf},
        )
        assert response.status == 201, response.text()
        ids[name] = response.json()["run"]["id"]
    return Imported(url, ids)


@pytest.fixture
def runs(logged_in: Callable[[], Page], ui_url: str, trained: dict[str, Path]) -> Imported:
    return import_runs(logged_in(), ui_url, trained)


def chart(page: Page, title: str):
    """The chart titled `title` (its accessible name says what it draws)."""
    return page.get_by_role("figure", name=f"{title}: line chart of")


def open_comparison(page: Page, url: str) -> None:
    page.goto(url)
    page.get_by_role("table", name="Metrics of the compared runs").wait_for(timeout=UI_TIMEOUT_MS)


def row(page: Page, runs: Imported, name: str):
    return page.locator(f'tr[data-run-id="{runs.ids[name]}"]')


def test_each_chart_overlays_one_line_per_run_linked_to_the_table(
    page: Page, runs: Imported
) -> None:
    open_comparison(page, runs.compare_url("lr-small", "lr-large"))
    # The default charts: the monitored metric (val/acc@1), the losses and the learning rate.
    for metric in ("val/acc@1", "train/loss", "val/loss", "train/lr"):
        figure = chart(page, metric)
        figure.wait_for(timeout=UI_TIMEOUT_MS)
        assert figure.get_attribute("aria-label") == f"{metric}: line chart of 2 series"
        assert int(figure.get_attribute("data-points") or 0) >= 4  # both runs drew points
        legend = page.get_by_role("list", name=f"{metric} legend")
        assert legend.get_by_text("lr-small").count() == 1
        assert legend.get_by_text("lr-large").count() == 1
    # The picked runs are listed as chips, in their line colours.
    chips = page.get_by_role("list", name="Runs in this comparison")
    assert chips.get_by_role("link").all_inner_texts() == ["lr-small", "lr-large"]
    # One TensorBoard over the picked runs, in a tab of its own.
    ids = sorted(runs.ids.values())
    tensorboard = page.get_by_role("link", name="TensorBoard")
    assert tensorboard.get_attribute("href") == f"/tb/{ids[0]}+{ids[1]}/"
    assert tensorboard.get_attribute("target") == "_blank"

    # Hovering a table row highlights that run's line in every chart (its legend entry too).
    legend = page.get_by_role("list", name="train/lr legend")
    row(page, runs, "lr-small").hover()
    legend.locator(".font-semibold", has_text="lr-small").wait_for(timeout=UI_TIMEOUT_MS)
    # Hovering a line's legend entry highlights the run's table row.
    legend.get_by_role("button", name=re.compile("lr-large")).hover()
    page.wait_for_function(
        "row => row.hasAttribute('data-hovered')",
        arg=row(page, runs, "lr-large").element_handle(),
    )
    # Over the plot: sweep down the middle until a line is close enough to take the focus;
    # its run's row lights up, and a click opens the run.
    lit = page.locator("tr[data-hovered][data-run-id]")
    page.get_by_role("heading", name="Compare runs").hover()
    lit.wait_for(state="detached", timeout=UI_TIMEOUT_MS)
    box = chart(page, "train/lr").locator(".u-over").bounding_box()
    assert box is not None
    hovered = None
    for y in range(2, int(box["height"]), 4):
        page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + y)
        page.wait_for_timeout(50)  # a frame for the focus to reach the table
        if lit.count() == 1:
            hovered = lit.get_attribute("data-run-id")
            break
    assert hovered is not None, "no line took the focus under the pointer"
    page.mouse.down()
    page.mouse.up()
    # (A client-side navigation: the URL changes without a new page load.)
    page.wait_for_function(
        "id => location.pathname.replace(/\\/$/, '') === '/run' && location.search === `?id=${id}`",
        arg=hovered,
        timeout=UI_TIMEOUT_MS,
    )
    name = next(n for n, i in runs.ids.items() if str(i) == hovered)
    page.get_by_role("heading", level=1, name=name).wait_for(timeout=UI_TIMEOUT_MS)


def test_best_values_deltas_to_a_pinned_baseline_and_the_config_diff(
    page: Page, runs: Imported, trained: dict[str, Path]
) -> None:
    open_comparison(page, runs.compare_url("lr-small", "lr-large"))
    table = page.get_by_role("table", name="Metrics of the compared runs")
    # The best val/loss (lower is better) is highlighted, on the run that reached it.
    losses = {name: min(metric_values(folder, "val", "loss")) for name, folder in trained.items()}
    lower = min(losses, key=losses.__getitem__)
    best = table.locator('td[data-metric="val/loss"][data-stat="best"][data-best]')
    best.wait_for(timeout=UI_TIMEOUT_MS)
    assert best.count() == 1 and "(best)" in best.inner_text()
    assert row(page, runs, lower).locator('td[data-metric="val/loss"][data-best]').count() >= 1
    # The key hyper-parameters: lr differs between the runs.
    assert "0.001" in row(page, runs, "lr-small").inner_text()
    assert "0.01" in row(page, runs, "lr-large").inner_text()

    # Pinning a baseline: the other run's cells show signed differences to it.
    assert table.locator("[data-delta]").count() == 0
    page.get_by_role("button", name="Pin lr-small as the baseline").click()
    other = row(page, runs, "lr-large")
    other.locator("[data-delta]").first.wait_for(timeout=UI_TIMEOUT_MS)
    assert row(page, runs, "lr-small").locator("[data-delta]").count() == 0
    assert re.search(r"^[+±-][0-9.e+-]+", other.locator("[data-delta]").first.inner_text())
    assert f"baseline={runs.ids['lr-small']}" in page.url
    # The charts can show each run minus the baseline.
    page.get_by_label("Difference to baseline").click()
    chart(page, "val/loss − lr-small").wait_for(timeout=UI_TIMEOUT_MS)
    assert "delta=1" in page.url
    # A shared link opens with the same baseline and view.
    page.reload()
    other.locator("[data-delta]").first.wait_for(timeout=UI_TIMEOUT_MS)
    chart(page, "val/loss − lr-small").wait_for(timeout=UI_TIMEOUT_MS)

    # The config diff: only the fields that differ (lr), all of them on demand.
    diff = page.get_by_role("table", name="Config fields of the compared runs")
    lr = diff.locator('tr[data-config-key="lr"]')
    assert lr.get_attribute("data-differs") == "true"
    assert re.search(r"0\.001\s+0\.01", lr.inner_text())
    assert diff.locator('tr[data-config-key="batch_size"]').count() == 0
    page.get_by_label("Show all fields").click()
    diff.locator('tr[data-config-key="batch_size"]').wait_for(timeout=UI_TIMEOUT_MS)
    assert "config=all" in page.url

    page.get_by_role("button", name="Unpin lr-small as the baseline").click()
    table.locator("[data-delta]").first.wait_for(state="detached", timeout=UI_TIMEOUT_MS)
    assert "baseline=" not in page.url and "delta=" not in page.url


#: step-loss points a compare chart fetches per run (`OVERVIEW_POINTS`): more are downsampled
#: to the minimum and maximum of each of half as many buckets
CHART_POINTS = 2000
#: rows of an aligned comparison (`MAX_ROWS` in use-comparison.ts): more are thinned evenly
ALIGNED_ROWS = 1000


def long_copy(folder: Path, out: Path) -> Path:
    """A copy of a trained run whose step loss goes on for 3,000 more steps, alternating 2.0 and
    0.5 (a bucket's extremes) and ending on 1.0, which is neither: the run's downsampled line
    keeps it only as the series' last point. Its lowest loss, 0.1, is at a step that the aligned
    rows thin out."""
    out.mkdir()
    for name in RUN_FILES:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(folder / name, out / name)
    lines = (out / "events.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    template = next(e for e in reversed(events) if e["type"] == "train_step")
    first = max(e["step"] for e in events if "step" in e) + 1
    steps = range(first, first + 3000)
    # The rows of a comparison with a shorter run are this run's steps (from 1): thinned to
    # ALIGNED_ROWS evenly spaced ones, keeping the first and the last.
    last = steps[-1] - 1
    kept = {1 + round(i * last / (ALIGNED_ROWS - 1)) for i in range(ALIGNED_ROWS)}
    lowest = next(s for s in steps[len(steps) // 2 :] if s not in kept)
    seq = max(e["seq"] for e in events)
    for i, step in enumerate(steps):
        loss = 0.1 if step == lowest else 1.0 if step == steps[-1] else (2.0, 0.5)[i % 2]
        lines.append(json.dumps({**template, "seq": seq + 1 + i, "step": step, "loss": loss}))
    (out / "events.jsonl").write_text("\n".join(lines) + "\n")
    return out


def shown(value: float) -> str:
    """A value as the metrics table writes it (`formatMetric`: 4 significant digits)."""
    assert 1e-3 <= abs(value) < 1e4, value  # where both write it without an exponent
    return f"{value:.4g}"


def test_the_table_shows_each_runs_best_and_last_step_loss(
    page: Page, logged_in: Callable[[], Page], ui_url: str, trained: dict[str, Path], tmp_path: Path
) -> None:
    """A per-step metric's best and last values are each run's own, in every view: a short run,
    and a long one whose chart line is min/max downsampled (its last point kept as such) and
    whose aligned rows (the charts of differences) are thinned (its lowest loss is not there)."""
    folders = {
        "lr-long": long_copy(trained["lr-small"], tmp_path / "long"),
        "lr-large": trained["lr-large"],
    }
    runs = import_runs(logged_in(), ui_url, folders)
    metric = "train/step_loss"

    def series(run_id: int, max_points: int) -> dict:
        response = page.request.get(
            f"{ui_url}/api/v1/runs/{run_id}/metrics/series",
            params={"names": metric, "max_points": max_points},
        )
        assert response.ok, response.text()
        return response.json()["series"][0]

    expected, lowest = {}, {}
    for name, run_id in runs.ids.items():
        whole = series(run_id, 10_000)
        assert whole["total"] == len(whole["values"]) > 1  # every point
        values = [v for v in whole["values"] if v is not None]
        lowest[name] = min(values)
        expected[name] = {"best": shown(min(values)), "last": shown(values[-1])}
    assert expected["lr-long"] == {"best": "0.1", "last": "1"}
    # The long run's chart line is downsampled but ends on its last value; the aligned rows,
    # which the table must not read, miss its lowest loss.
    line = series(runs.ids["lr-long"], CHART_POINTS)
    assert line["total"] > len(line["values"]) and line["values"][-1] == 1.0
    query = {"ids": list(runs.ids.values()), "metrics": metric, "by": "step"}
    aligned = page.request.get(
        f"{ui_url}/api/v1/runs/compare?{urlencode({**query, 'max_rows': ALIGNED_ROWS}, doseq=True)}"
    )
    assert aligned.ok, aligned.text()
    column = next(c for c in aligned.json()["columns"] if c["run_id"] == runs.ids["lr-long"])
    assert 0.1 not in column["values"]

    def check_table() -> None:
        for name, stats in expected.items():
            for stat, text in stats.items():
                cell = row(page, runs, name).locator(
                    f'td[data-metric="{metric}"][data-stat="{stat}"]'
                )
                # The value, then perhaps "(best)" or the difference to the baseline.
                expect(cell).to_have_text(
                    re.compile(rf"^{re.escape(text)}(?![\d.])"), timeout=UI_TIMEOUT_MS
                )
        # The lower of the two is highlighted.
        winner = min(lowest, key=lowest.__getitem__)
        best = row(page, runs, winner).locator(f'td[data-metric="{metric}"][data-stat="best"]')
        expect(best).to_have_attribute("data-best", "true", timeout=UI_TIMEOUT_MS)

    open_comparison(page, runs.compare_url("lr-long", "lr-large", extra=f"&metrics={metric}"))
    check_table()
    # The same values with the charts showing differences to a baseline (aligned rows).
    extra = f"&metrics={metric}&baseline={runs.ids['lr-large']}&delta=1"
    open_comparison(page, runs.compare_url("lr-long", "lr-large", extra=extra))
    chart(page, f"{metric} − lr-large").wait_for(timeout=UI_TIMEOUT_MS)
    check_table()


def test_the_runs_evaluation_reports_side_by_side(
    page: Page, runs: Imported, trained: dict[str, Path]
) -> None:
    """Each run's best/val report, on the same image set (the same val files), best values bold."""
    open_comparison(page, runs.compare_url("lr-small", "lr-large"))
    table = page.locator("[data-report-table]")
    table.wait_for(timeout=UI_TIMEOUT_MS)
    for name, folder in trained.items():
        report = json.loads((folder / "reports" / "best-val.json").read_text())
        line = table.locator("tr", has_text=name)
        expect(line).to_contain_text(f"{report['accuracy'] * 100:.1f}%")
        expect(line).to_contain_text(f"A · {report['num_samples']} images")
        expect(line).to_contain_text(f"{report['calibration']['ece']:.3f}")


def test_chart_options_live_in_the_url(page: Page, runs: Imported) -> None:
    open_comparison(page, runs.compare_url("lr-small", "lr-large"))
    page.get_by_label("X axis").click()
    page.get_by_role("option", name="Epoch").click()
    page.get_by_label("Log scale").click()
    page.wait_for_function("() => location.search.includes('logy=1')")
    assert "x=epoch" in page.url
    # Per-epoch metrics go by epoch; the learning rate, logged per step, says so.
    figure = chart(page, "train/lr")
    card = page.locator('[data-metric="train/lr"]').first
    card.get_by_text("logged per step").wait_for(timeout=UI_TIMEOUT_MS)
    page.reload()
    figure.wait_for(timeout=UI_TIMEOUT_MS)
    assert page.get_by_label("Log scale").get_attribute("aria-checked") == "true"
    page.get_by_label("X axis").click()
    page.get_by_role("option", name="Relative time").click()
    page.wait_for_function("() => location.search.includes('x=time')")
    chart(page, "val/loss").wait_for(timeout=UI_TIMEOUT_MS)
    assert int(chart(page, "val/loss").get_attribute("data-points") or 0) >= 2


def test_pick_runs_from_the_empty_page_and_remove_them(page: Page, runs: Imported) -> None:
    page.goto(f"{runs.url}/compare/")
    page.get_by_text("Pick runs to compare").wait_for(timeout=UI_TIMEOUT_MS)
    page.get_by_role("button", name="Add runs").first.click()
    dialog = page.get_by_role("dialog", name="Add runs")
    dialog.get_by_label("Search runs by name").fill("large")
    dialog.get_by_role("checkbox", name=re.compile("lr-large")).click()
    # The search matches names: the other run is not offered (once the server has answered).
    expect(dialog.get_by_role("checkbox", name=re.compile("lr-small"))).to_have_count(0)
    dialog.get_by_label("Search runs by name").fill("")
    dialog.get_by_role("checkbox", name=re.compile("lr-small")).click()
    dialog.get_by_role("button", name="Done").click()
    open_ids = f"runs={runs.ids['lr-large']},{runs.ids['lr-small']}"
    page.wait_for_function(f"() => location.search.includes('{open_ids}')")
    page.get_by_role("table", name="Metrics of the compared runs").wait_for(timeout=UI_TIMEOUT_MS)
    # Removing one leaves a single run: not a comparison yet.
    page.get_by_role("button", name="Remove lr-large from the comparison").click()
    page.get_by_text("Add at least one more run").wait_for(timeout=UI_TIMEOUT_MS)
    # The pick is remembered: a bare /compare/ opens it again.
    page.goto(f"{runs.url}/compare/")
    page.wait_for_function(f"() => location.search.includes('runs={runs.ids['lr-small']}')")


def test_the_page_is_accessible_in_light_and_dark(page: Page, runs: Imported) -> None:
    url = runs.compare_url("lr-small", "lr-large", extra=f"&baseline={runs.ids['lr-small']}")
    open_comparison(page, url)
    chart(page, "val/loss").wait_for(timeout=UI_TIMEOUT_MS)
    page.locator("[data-delta]").first.wait_for(timeout=UI_TIMEOUT_MS)
    assert serious_axe_violations(page) == []
    page.evaluate("document.documentElement.classList.add('dark')")
    assert serious_axe_violations(page) == []
    # The empty page too.
    page.goto(f"{runs.url}/compare/")
    page.get_by_role("button", name="Remove lr-small from the comparison").click()
    page.get_by_role("button", name="Remove lr-large from the comparison").click()
    page.get_by_text("Pick runs to compare").wait_for(timeout=UI_TIMEOUT_MS)
    assert serious_axe_violations(page) == []
