"""The run page in a real Chromium against a real dashboard: a run trained for real (tiny model,
digits, CPU) and imported, shown as curves, results, logs and config; and a run fed with events
the way an agent relays them, whose charts, logs and progress grow without a reload.

One server per module, holding a run trained once for the suite (`trained_run`)."""

from __future__ import annotations

import base64
import json
import re
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from tests.browser import BROWSER_HOME
from tests.web_ui.conftest import UI_TIMEOUT_MS, log_in, require_build
from tests.web_ui.run_page_data import RunPageData, run_page_data

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.slow  # trains a run (a few seconds) and starts a server

#: where pages are photographed for people to look at (as tests/web_ui/test_a11y.py does)
SCREENSHOTS = BROWSER_HOME / "screenshots"

#: the trained run the tests read (`trained_run`'s name for it)
FINISHED = "lr-small"


@pytest.fixture(scope="module")
def data(
    tmp_path_factory: pytest.TempPathFactory,
    digits_root: Path,
    tiny_model: Callable[[str], Path],
    trained_run: Callable[[str], Path],
) -> Iterator[RunPageData]:
    build = require_build()
    with run_page_data(
        tmp_path_factory.mktemp("run-page"),
        trained_run(FINISHED),
        digits_root,
        tiny_model("resnet"),
        build,
    ) as found:
        yield found


@pytest.fixture
def run_page(page: Page, data: RunPageData) -> Callable[[int, str], Page]:
    """Log in, then open a run's page (at a tab)."""

    def open_run(run_id: int, tab: str = "") -> Page:
        log_in(page, data.url)
        page.goto(f"{data.url}/run/?id={run_id}" + (f"&tab={tab}" if tab else ""))
        return page

    return open_run


def metric_names(data: RunPageData, run_id: int) -> list[str]:
    return data.api("GET", f"/runs/{run_id}/metrics").json()["names"]


def test_overview_draws_a_chart_per_metric_with_values(
    run_page: Callable[[int, str], Page], data: RunPageData
) -> None:
    page = run_page(data.finished_run, "")
    page.get_by_role("heading", name=FINISHED).wait_for(timeout=UI_TIMEOUT_MS)
    names = metric_names(data, data.finished_run)
    assert "train/step_loss" in names and "val/acc@1" in names
    charts = page.locator("[data-metric]")
    charts.first.locator("canvas").wait_for(timeout=UI_TIMEOUT_MS)
    # A metric logged once (the test scores) is a value tile; every other one a chart.
    tiles = page.locator("[data-metric-tile]")
    assert charts.count() + tiles.count() == len(names)
    assert tiles.count() > 0
    test_name = tiles.first.get_attribute("data-metric-tile")
    assert test_name is not None and test_name.startswith("test/")
    test_value = data.api(
        "GET", f"/runs/{data.finished_run}/metrics/series", params={"names": test_name}
    ).json()["series"][0]["values"][0]
    assert str(float(f"{test_value:.4g}")) in tiles.first.inner_text()
    # A uPlot canvas in every chart, grouped under their split.
    assert page.locator("[data-metric] canvas").count() >= charts.count()
    for group in ("Training", "Validation", "Test"):
        page.get_by_role("heading", name=group, exact=True).wait_for(timeout=UI_TIMEOUT_MS)
    # The legend shows the last value of the series, as the API has it.
    series = data.api(
        "GET",
        f"/runs/{data.finished_run}/metrics/series",
        params={"names": "train/step_loss"},
    ).json()["series"][0]
    loss = page.locator('[data-metric="train/step_loss"]')
    chart = loss.get_by_role("figure")
    assert chart.get_attribute("data-points") == str(len(series["steps"]))
    legend = loss.get_by_role("list", name="train/step_loss legend")
    assert str(float(f"{series['values'][-1]:.4g}")) in legend.inner_text()
    # Hovering the plot shows the value at that step instead.
    box = loss.locator(".u-over").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 2, box["y"] + box["height"] / 2)
    page.wait_for_function(
        "el => !el.innerText.includes('last')", arg=legend.element_handle(), timeout=UI_TIMEOUT_MS
    )
    assert "step 1" in legend.inner_text()


def test_results_show_the_confusion_matrix_and_per_class_table(
    run_page: Callable[[int, str], Page], data: RunPageData
) -> None:
    results = json.loads((data.finished_dir / "results.json").read_text())
    classes = [row["class"] for row in results["val"]["per_class"]]
    page = run_page(data.finished_run, "results")
    matrix = page.get_by_role("table", name="Confusion matrix, validation")
    matrix.wait_for(timeout=UI_TIMEOUT_MS)
    # Class names on both axes: a column header and a row header per class.
    assert matrix.get_by_role("columnheader").count() == len(classes) + 1
    assert [h.strip() for h in matrix.get_by_role("rowheader").all_inner_texts()] == classes
    first_row = results["val"]["confusion"][0]
    cells = matrix.get_by_role("row").nth(1).get_by_role("cell").all_inner_texts()
    assert [int(c) for c in cells] == first_row
    # Row-normalised: each true class's shares.
    page.get_by_label("Normalise rows (recall per class)").click()
    first_cell = matrix.get_by_role("row").nth(1).get_by_role("cell").first
    expect(first_cell).to_contain_text("%", timeout=UI_TIMEOUT_MS)  # the switch re-rendered
    shares = matrix.get_by_role("row").nth(1).get_by_role("cell").all_inner_texts()
    assert all(s.endswith("%") for s in shares)
    assert sum(float(s.rstrip("%")) for s in shares) == pytest.approx(100, abs=0.5)

    table = page.get_by_role("table", name="Per-class metrics")
    rows = table.get_by_role("row")
    assert rows.count() == len(classes) + 1
    # Sorting by support puts the largest class first.
    table.get_by_role("button", name="Support").click()
    top = max(results["val"]["per_class"], key=lambda r: r["support"])
    expect(rows.nth(1).get_by_role("rowheader")).to_have_text(top["class"], timeout=UI_TIMEOUT_MS)
    final = page.get_by_role("table", name="Final metrics by split")
    assert "acc@1" in final.inner_text() and "Test" in final.inner_text()


def test_logs_search_highlights_matches(
    run_page: Callable[[int, str], Page], data: RunPageData
) -> None:
    page = run_page(data.finished_run, "logs")
    log = page.get_by_role("log", name="Run log")
    log.wait_for(timeout=UI_TIMEOUT_MS)
    assert "train loss" in log.inner_text()
    page.get_by_label("Search the log").fill("val loss")
    marks = log.locator("mark")
    marks.first.wait_for(timeout=UI_TIMEOUT_MS)
    assert marks.first.inner_text().lower() == "val loss"
    page.get_by_text("2 matches").wait_for(timeout=UI_TIMEOUT_MS)
    page.get_by_role("button", name="Next match").click()
    page.get_by_text("1 of 2").wait_for(timeout=UI_TIMEOUT_MS)
    page.get_by_role("button", name="Next match").click()
    page.get_by_text("2 of 2").wait_for(timeout=UI_TIMEOUT_MS)


def test_progress_bar_redraws_collapse_into_their_last_state_and_keep_other_lines(
    run_page: Callable[[int, str], Page], data: RunPageData
) -> None:
    run = data.queue_run()
    _agent, attempt = data.claim(run["id"])
    messages = [
        "epoch 1 starting",
        "\r 10%|#         |",  # a bar's first draw keeps the line above it
        "\r 50%|#####     |",
        "\r100%|##########|",
        "WARNING: slow batch",  # never overwritten by the next bar
        "\r 20%|##        |",
        "eval 10%\reval 60%\reval done",  # redraws inside one message
    ]
    data.write_events(
        run["id"],
        attempt,
        [
            {"type": "log", "seq": i + 1, "level": "info", "message": message}
            for i, message in enumerate(messages)
        ],
    )
    page = run_page(run["id"], "logs")
    rows = page.get_by_role("log", name="Run log").locator("[data-log-row]")
    expect(rows).to_have_count(5, timeout=UI_TIMEOUT_MS)
    texts = [text.split("info", 1)[1].strip() for text in rows.all_inner_texts()]
    assert texts == [
        "epoch 1 starting",
        "100%|##########|",
        "WARNING: slow batch",
        "20%|##        |",
        "eval done",
    ]


def test_config_shows_the_snapshot_and_environment(
    run_page: Callable[[int, str], Page], data: RunPageData
) -> None:
    page = run_page(data.finished_run, "config")
    snapshot = page.get_by_label("Config snapshot")
    snapshot.wait_for(timeout=UI_TIMEOUT_MS)
    config = json.loads(snapshot.inner_text())
    assert config["epochs"] == 2 and config["run_name"] == FINISHED
    env = json.loads((data.finished_dir / "env.json").read_text())
    dataset = json.loads((data.finished_dir / "dataset.json").read_text())
    page.get_by_text(env["versions"]["torch"], exact=True).first.wait_for(timeout=UI_TIMEOUT_MS)
    page.get_by_text(dataset["file_list_sha256"]).wait_for(timeout=UI_TIMEOUT_MS)


def _drop_files(page: Page, target: str, files: list[tuple[str, bytes]]) -> None:
    """Drop `files` onto `target` the way a file manager does: a drop event whose DataTransfer
    holds them."""
    transfer = page.evaluate_handle(
        """(files) => {
            const transfer = new DataTransfer();
            for (const [name, b64] of files) {
                const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
                transfer.items.add(new File([bytes], name, { type: "image/png" }));
            }
            return transfer;
        }""",
        [[name, base64.b64encode(data).decode()] for name, data in files],
    )
    page.dispatch_event(target, "dragover", {"dataTransfer": transfer})
    page.dispatch_event(target, "drop", {"dataTransfer": transfer})


def test_model_testing_classifies_dropped_images_with_a_saliency_overlay(
    run_page: Callable[[int, str], Page], data: RunPageData, digits_root: Path
) -> None:
    """Drag digits onto the panel: each gets the API's top classes and an overlay of its own
    size; a file that is not an image says why; another class can be explained; the file picker
    works too."""
    digits = [sorted((digits_root / "val" / c).iterdir())[0] for c in ("3", "7")]
    expected = {}
    for path in digits:
        answer = data.api(
            "POST",
            f"/runs/{data.finished_run}/predict",
            files=[("files", (path.name, path.read_bytes(), "image/png"))],
            data={"saliency": "false", "top_k": "5"},
        )
        assert answer.status_code == 200, answer.text
        expected[path.name] = [p["label"] for p in answer.json()["results"][0]["predictions"]]
    names = [f"{c}-{p.name}" for c, p in zip("37", digits, strict=True)]
    expected = {n: expected[p.name] for n, p in zip(names, digits, strict=True)}

    page = run_page(data.finished_run, "testing")
    zone = "[data-dropzone]"
    page.locator(zone).wait_for(timeout=UI_TIMEOUT_MS)
    files = [(n, p.read_bytes()) for n, p in zip(names, digits, strict=True)]
    _drop_files(page, zone, [*files, ("notes.png", b"these are notes, not an image")])
    for name in names:
        card = page.locator(f'[data-result="{name}"]')
        overlay = card.locator("img[data-overlay]")
        overlay.wait_for(timeout=60_000)
        shown = card.get_by_role("list", name=f"Predictions for {name}").locator("li")
        expect(shown).to_have_count(5, timeout=UI_TIMEOUT_MS)
        # Each row reads "Explain <label>" (the first words for screen readers only), then "%".
        labels = [
            t.strip().removeprefix("Explain").strip().split("\n")[0].strip()
            for t in shown.all_inner_texts()
        ]
        assert labels == expected[name]
        # The overlay is the image's own size (8x8 digits), drawn from the server's PNG.
        size = overlay.evaluate("(img) => [img.naturalWidth, img.naturalHeight]")
        assert size == [8, 8]
    refused = page.locator('[data-result="notes.png"]').get_by_role("alert")
    expect(refused).to_contain_text("notes.png: not an image in an accepted format")

    # Explaining the second class instead of the first.
    first = names[0]
    card = page.locator(f'[data-result="{first}"]')
    second_label = expected[first][1]
    card.get_by_role("button", name=re.compile(rf"^Explain {second_label} ")).click()
    expect(card.get_by_text(f"map explains {second_label}")).to_be_visible(timeout=60_000)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "run-model-testing.png"), full_page=True)

    # The file picker adds images the same way.
    page.get_by_label("Choose images").set_input_files(str(digits[0]))
    expect(page.locator(f'[data-result="{digits[0].name}"] img[data-overlay]')).to_have_count(
        1, timeout=60_000
    )


def test_the_tensorboard_tab_shows_the_runs_scalars(
    run_page: Callable[[int, str], Page], data: RunPageData
) -> None:
    """The run's own TensorBoard, started by opening the tab, inside the page (same log-in)."""
    page = run_page(data.finished_run, "tensorboard")
    frame = page.frame_locator('iframe[title^="TensorBoard of"]')
    # TensorBoard's own dashboard of the trainer's scalars: filtering its tags finds a card.
    frame.get_by_text("test/acc@1").first.wait_for(timeout=60_000)
    frame.get_by_role("combobox", name="Filter tags (regex)").fill("train/loss")
    frame.get_by_text("train/loss", exact=True).first.wait_for(timeout=UI_TIMEOUT_MS)
    full = page.get_by_role("link", name="Full page")
    assert full.get_attribute("href") == f"/tb/{data.finished_run}/"
    assert data.api("GET", f"/runs/{data.finished_run}").status_code == 200


def test_live_events_grow_the_chart_logs_and_progress(
    run_page: Callable[[int, str], Page], data: RunPageData
) -> None:
    run = data.queue_run()
    _agent, attempt = data.claim(run["id"])
    data.write_events(
        run["id"],
        attempt,
        [
            {"type": "train_step", "step": s, "epoch": 0, "loss": 2.0 - s / 10, "lr": 0.1}
            for s in (1, 2)
        ]
        + [{"type": "log", "seq": 1, "level": "info", "message": "first line"}],
    )
    page = run_page(run["id"], "")
    chart = page.locator('[data-metric="train/step_loss"]').get_by_role("figure")
    chart.wait_for(timeout=UI_TIMEOUT_MS)
    page.wait_for_function(
        "el => el.dataset.points === '2'", arg=chart.element_handle(), timeout=UI_TIMEOUT_MS
    )
    data.write_events(
        run["id"],
        attempt,
        [
            {"type": "train_step", "step": s, "epoch": 0, "loss": 2.0 - s / 10, "lr": 0.1}
            for s in (3, 4, 5)
        ]
        + [
            {
                "type": "progress",
                "seq": 2,
                "epoch": 0,
                "epochs": 2,
                "step": 5,
                "total_steps": 10,
                "eta_s": 125,
            }
        ],
    )
    # No reload: the points arrive over the WebSocket.
    page.wait_for_function(
        "el => el.dataset.points === '5'", arg=chart.element_handle(), timeout=UI_TIMEOUT_MS
    )
    page.get_by_text("Epoch 1 of 2").wait_for(timeout=UI_TIMEOUT_MS)
    page.get_by_text("about 2 min 05 s left").wait_for(timeout=UI_TIMEOUT_MS)
    page.get_by_role("tab", name="Logs").click()
    log = page.get_by_role("log", name="Run log")
    log.get_by_text("first line").wait_for(timeout=UI_TIMEOUT_MS)
    data.write_events(
        run["id"],
        attempt,
        [{"type": "log", "seq": 3, "level": "warning", "message": "second line"}],
    )
    log.get_by_text("second line").wait_for(timeout=UI_TIMEOUT_MS)


def test_tags_are_edited_in_place(run_page: Callable[[int, str], Page], data: RunPageData) -> None:
    page = run_page(data.finished_run, "checkpoints")
    page.get_by_role("table").get_by_text("best", exact=True).first.wait_for(timeout=UI_TIMEOUT_MS)
    page.get_by_role("button", name="Edit tags").click()
    page.get_by_label("Tags, separated by commas").fill("imported, baseline")
    page.get_by_role("button", name="Save tags").click()
    page.get_by_role("button", name="Remove tag baseline").wait_for(timeout=UI_TIMEOUT_MS)
    assert data.api("GET", f"/runs/{data.finished_run}").json()["tags"] == [
        "baseline",
        "imported",
    ]


def test_zooming_a_long_series_fetches_the_window_at_full_resolution(
    run_page: Callable[[int, str], Page], data: RunPageData
) -> None:
    """The overview holds up to 2,000 points per series (min/max per bucket); dragging over a
    part of the chart asks for that step window and draws every point in it."""
    run = data.queue_run()
    _agent, attempt = data.claim(run["id"])
    data.write_events(
        run["id"],
        attempt,
        [
            {"type": "train_step", "step": s, "epoch": 0, "loss": 1 + (s % 7) / 10, "lr": 0.1}
            for s in range(1, 6001)
        ],
    )
    page = run_page(run["id"], "")
    card = page.locator('[data-metric="train/step_loss"]')
    chart = card.get_by_role("figure")
    chart.wait_for(timeout=UI_TIMEOUT_MS)
    # 999 buckets' minimum and maximum, and the series' last point.
    page.wait_for_function(
        "el => el.dataset.points === '1999'", arg=chart.element_handle(), timeout=UI_TIMEOUT_MS
    )
    assert "6,000 points" in card.inner_text()
    box = card.locator(".u-over").bounding_box()
    assert box is not None
    with page.expect_request(lambda r: "step_min=" in r.url and "step_max=" in r.url) as asked:
        page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + 40)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + 60, steps=4)
        page.mouse.up()
    assert "names=train%2Fstep_loss" in asked.value.url
    # About 30% of 6,000 steps at full resolution, the rest of the overview around them.
    page.wait_for_function(
        "el => Number(el.dataset.points) > 2500", arg=chart.element_handle(), timeout=UI_TIMEOUT_MS
    )
    zoom = chart.get_attribute("data-zoom")
    assert zoom is not None
    # Live points arrive while zoomed: drawn, and the zoom stays.
    before = int(chart.get_attribute("data-points") or 0)
    data.write_events(
        run["id"],
        attempt,
        [{"type": "train_step", "step": s, "loss": 1.0, "lr": 0.1} for s in range(6001, 6051)],
    )
    page.wait_for_function(
        f"el => Number(el.dataset.points) === {before + 50}",
        arg=chart.element_handle(),
        timeout=UI_TIMEOUT_MS,
    )
    assert chart.get_attribute("data-zoom") == zoom
    # Double-click: back to the whole run (the overview and the live points).
    page.mouse.dblclick(box["x"] + box["width"] / 2, box["y"] + 50)
    page.wait_for_function(
        "el => el.dataset.points === '2049' && !el.dataset.zoom",
        arg=chart.element_handle(),
        timeout=UI_TIMEOUT_MS,
    )


def test_the_evaluation_tab_shows_the_report_its_mistakes_and_their_saliency(
    run_page: Callable[[int, str], Page], data: RunPageData, tmp_path: Path
) -> None:
    """The report the trainer wrote for best on val: headline numbers as the API has them, the
    reliability diagram's bins, the misclassified gallery opening a mistake's saliency view;
    then another checkpoint evaluated from the page."""
    report = data.api("GET", f"/runs/{data.finished_run}/reports/best").json()
    page = run_page(data.finished_run, "evaluation")
    root = page.locator("[data-evaluation]")
    root.wait_for(timeout=UI_TIMEOUT_MS)
    expect(root.get_by_text(f"{report['calibration']['ece']:.3f}").first).to_be_visible()
    filled = [b for b in report["calibration"]["bins"] if b["count"] > 0]
    expect(page.locator("[data-reliability] rect[data-bin]")).to_have_count(len(filled))
    assert report["mistakes"], "the tiny model makes mistakes on digits"
    gallery = page.get_by_role("list", name="Misclassified images").locator("li")
    expect(gallery).to_have_count(len(report["mistakes"]))
    first = report["mistakes"][0]
    thumbnail = gallery.first.locator("img")
    expect(thumbnail).to_have_js_property("complete", True, timeout=UI_TIMEOUT_MS)
    assert thumbnail.evaluate("(img) => img.naturalWidth") == 8
    gallery.first.get_by_role("button").click()
    dialog = page.get_by_role("dialog")
    view = dialog.locator("[data-saliency-view] img")
    view.wait_for(timeout=60_000)
    assert view.evaluate("(img) => [img.naturalWidth, img.naturalHeight]") == [8, 8]
    expect(dialog).to_contain_text(f"predicted {first['predicted']}")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "run-evaluation-saliency.png"), full_page=True)
    page.keyboard.press("Escape")
    page.screenshot(path=str(SCREENSHOTS / "run-evaluation.png"), full_page=True)

    # Evaluating the last checkpoint from the page adds its report.
    page.get_by_label("Checkpoint", exact=True).click()
    page.get_by_role("option", name="last").click()
    page.get_by_role("button", name="Evaluate", exact=True).click()
    expect(page.get_by_label("Report")).to_contain_text("last on val", timeout=120_000)
    listed = data.api("GET", f"/runs/{data.finished_run}/reports").json()["items"]
    assert {(r["checkpoint"], r["split"]) for r in listed} >= {("best", "val"), ("last", "val")}

    # A labelled zip of images (class folders) gets its own report, its images in the gallery.
    archive = tmp_path / "labelled.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in sorted((data.settings.datasets_root / "digits" / "val").rglob("*.png"))[::3]:
            bundle.write(path, f"{path.parent.name}/{path.name}")
    page.get_by_label("Labelled zip to evaluate").set_input_files(str(archive))
    expect(page.get_by_label("Report")).to_contain_text("last on the uploaded set", timeout=120_000)
    uploaded = page.get_by_role("list", name="Misclassified images").locator("li img").first
    expect(uploaded).to_have_js_property("complete", True, timeout=UI_TIMEOUT_MS)
    assert uploaded.evaluate("(img) => img.naturalWidth") == 8


def test_a_checkpoint_exports_with_validated_onnx_and_downloads(
    run_page: Callable[[int, str], Page], data: RunPageData, tmp_path: Path
) -> None:
    page = run_page(data.finished_run, "checkpoints")
    page.get_by_role("button", name="Build archive").click()
    result = page.locator("[data-export-result]")
    expect(result).to_contain_text("ONNX validated", timeout=180_000)
    expect(result).to_contain_text("top-1 agreement 100.0%")
    with page.expect_download() as download:
        result.get_by_role("link", name="best-onnx.tar.gz").click()
    archive = tmp_path / "best-onnx.tar.gz"
    download.value.save_as(archive)
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert {"bundle.json", "model.onnx", "onnx_validation.json", "model/config.json"} <= set(names)
