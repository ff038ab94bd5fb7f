"""Evaluation reports through the API: listed, read, computed on demand, and the images they
list served by index only, from the run's dataset inside the datasets root."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.dashboard.test_projects import add_run
from visionyard.analysis.report_store import report_path

API = "/api/v1"


@dataclass(frozen=True)
class ReportedRun:
    run_id: int
    folder: Path
    dataset: Path


def _copy_run(app: FastAPI, client: TestClient, source: Path, dataset: Path, name: str) -> Path:
    folder = app.state.vy.settings.runs_root / name
    shutil.copytree(source, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(config | {"root": str(dataset)}))
    return folder


@pytest.fixture
def reported(
    app: FastAPI, client: TestClient, analysis_run: Path, digits_root: Path
) -> ReportedRun:
    """The session's trained run (with the best/val report its trainer wrote) under the runs
    root, its dataset under the datasets root, and a run row pointing at it."""
    dataset = app.state.vy.settings.datasets_root / "digits"
    shutil.copytree(digits_root, dataset)
    folder = _copy_run(app, client, analysis_run, dataset, "reported")
    project = client.post(f"{API}/projects", json={"name": "p"}).json()["id"]
    run_id = add_run(app, project, name="reported", run_dir=str(folder))
    return ReportedRun(run_id=run_id, folder=folder, dataset=dataset)


def test_the_reports_a_run_wrote_are_listed_and_read(
    client: TestClient, reported: ReportedRun
) -> None:
    listing = client.get(f"{API}/runs/{reported.run_id}/reports")
    assert listing.status_code == 200, listing.text
    stored = json.loads(report_path(reported.folder, "best", "val").read_text())
    [summary] = listing.json()["items"]
    assert summary["checkpoint"] == "best" and summary["split"] == "val"
    assert summary["accuracy"] == stored["accuracy"]
    assert summary["ece"] == stored["calibration"]["ece"]
    assert summary["label_issues"] == stored["label_issues"]["count"]

    got = client.get(f"{API}/runs/{reported.run_id}/reports/best")
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["per_class"][0]["class"] == stored["per_class"][0]["class"] == "0"
    assert body["confusion"] == stored["confusion"] and body["mistakes"] == stored["mistakes"]


def test_a_report_not_computed_yet_is_a_404_that_says_how(
    client: TestClient, reported: ReportedRun
) -> None:
    missing = client.get(f"{API}/runs/{reported.run_id}/reports/last", params={"split": "test"})
    assert missing.status_code == 404
    message = missing.json()["error"]["message"]
    assert "no evaluation report for checkpoint 'last' on test" in message


def test_a_report_is_computed_on_demand_and_then_listed(
    client: TestClient, reported: ReportedRun
) -> None:
    computed = client.post(f"{API}/runs/{reported.run_id}/reports/epoch_1?split=test")
    assert computed.status_code == 200, computed.text
    body = computed.json()
    assert body["checkpoint"]["name"] == "epoch_001" and body["split"] == "test"
    assert report_path(reported.folder, "epoch_001", "test").is_file()
    listed = client.get(f"{API}/runs/{reported.run_id}/reports").json()["items"]
    assert [(r["checkpoint"], r["split"]) for r in listed] == [
        ("best", "val"),
        ("epoch_001", "test"),
    ]
    again = client.get(f"{API}/runs/{reported.run_id}/reports/epoch_001?split=test").json()
    assert again == body


@pytest.mark.parametrize(
    ("method", "path", "status", "says"),
    [
        ("post", "reports/epoch_9", 404, "no checkpoint 'epoch_009' (available: best, last"),
        ("get", "reports/model", 422, "checkpoint"),
        ("post", "reports/..%2fbest", 404, "no API route"),
        ("get", "reports/best?split=train", 422, "split"),
        ("post", "reports/best?split=train", 422, "split"),
        ("get", "reports/best/images/-1", 422, "index"),
        ("get", "reports/best/images/..%2f..%2fconfig.json", 404, "no API route"),
        ("get", "reports/best/images/0%2e%2e", 422, "index"),
        ("get", "reports/best/images/10000", 404, "there is no image 10000"),
        ("get", "reports/last/images/0", 404, "no evaluation report"),
    ],
)
def test_bad_requests_are_4xx_naming_the_problem(
    client: TestClient, reported: ReportedRun, method: str, path: str, status: int, says: str
) -> None:
    response = client.request(method.upper(), f"{API}/runs/{reported.run_id}/{path}")
    assert response.status_code == status, response.text
    assert says in json.dumps(response.json())


def test_a_listed_image_is_served_by_its_index(client: TestClient, reported: ReportedRun) -> None:
    stored = json.loads(report_path(reported.folder, "best", "val").read_text())
    mistake = stored["mistakes"][0]
    response = client.get(f"{API}/runs/{reported.run_id}/reports/best/images/{mistake['image']}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.content == (reported.dataset / mistake["path"]).read_bytes()


@pytest.mark.parametrize(
    "planted", ["../../../../etc/passwd", "/etc/passwd", "val/../../secret.png", "train/0/a.png"]
)
def test_a_tampered_report_cannot_serve_files_outside_the_split(
    client: TestClient, reported: ReportedRun, planted: str
) -> None:
    """A report is a file (an imported run's could say anything): what it names is served only
    when it is an image of its split inside the run's dataset folder."""
    secret = reported.dataset.parent / "secret.png"
    secret.write_bytes(b"\x89PNG not for you")
    path = report_path(reported.folder, "best", "val")
    report = json.loads(path.read_text())
    report["images"][0]["path"] = planted
    path.write_text(json.dumps(report))
    response = client.get(f"{API}/runs/{reported.run_id}/reports/best/images/0")
    assert response.status_code == 409, response.text
    assert "compute the report again" in response.json()["error"]["message"]


def test_a_dataset_outside_the_datasets_root_is_refused(
    app: FastAPI, client: TestClient, reported: ReportedRun, digits_root: Path
) -> None:
    config = json.loads((reported.folder / "config.json").read_text())
    (reported.folder / "config.json").write_text(json.dumps(config | {"root": str(digits_root)}))
    for method, path in (("GET", "reports/best/images/0"), ("POST", "reports/best")):
        response = client.request(method, f"{API}/runs/{reported.run_id}/{path}")
        assert response.status_code == 409, response.text
        assert "resolves outside DATASETS_DIR" in response.json()["error"]["message"]


def test_an_unreadable_report_is_a_409_and_left_out_of_the_list(
    client: TestClient, reported: ReportedRun
) -> None:
    report_path(reported.folder, "best", "val").write_text('{"version": 1, "split": 3}')
    assert client.get(f"{API}/runs/{reported.run_id}/reports").json()["items"] == []
    response = client.get(f"{API}/runs/{reported.run_id}/reports/best")
    assert response.status_code == 409 and "compute it again" in response.json()["error"]["message"]


def test_a_run_without_a_folder_has_no_reports(app: FastAPI, client: TestClient) -> None:
    project = client.post(f"{API}/projects", json={"name": "p"}).json()["id"]
    run_id = add_run(app, project, name="queued", run_dir=None)
    for method, path in (("GET", "reports"), ("POST", "reports/best"), ("GET", "reports/best")):
        response = client.request(method, f"{API}/runs/{run_id}/{path}")
        assert response.status_code == 404
        assert "has no files yet" in response.json()["error"]["message"]
    assert client.get(f"{API}/runs/999999/reports").status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "reports"),
        ("GET", "reports/best"),
        ("POST", "reports/best"),
        ("GET", "reports/best/images/0"),
    ],
)
def test_anonymous_requests_are_401(
    anon: TestClient, reported: ReportedRun, method: str, path: str
) -> None:
    response = anon.request(method, f"{API}/runs/{reported.run_id}/{path}")
    assert response.status_code == 401


def _labelled_zip(dataset: Path, flips: dict[str, str]) -> bytes:
    """The dataset's val split zipped as <class>/<image> under one top folder, some images
    filed under another class (`flips`: file name -> wrong class)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted((dataset / "val").rglob("*.png")):
            cls = flips.get(path.name, path.parent.name)
            archive.write(path, f"my-digits/{cls}/{path.name}")
    return buffer.getvalue()


def test_a_labelled_zip_gets_a_full_report_with_its_images_and_wrong_labels(
    client: TestClient, reported: ReportedRun
) -> None:
    val = sorted((reported.dataset / "val").rglob("*.png"))
    flipped = {path.name: str((int(path.parent.name) + 5) % 10) for path in val[::40]}
    response = client.post(
        f"{API}/runs/{reported.run_id}/reports/best/upload",
        content=_labelled_zip(reported.dataset, flipped),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["split"] == "upload" and report["num_samples"] == len(val)
    assert sum(row["support"] for row in report["per_class"]) == len(val)
    listed = client.get(f"{API}/runs/{reported.run_id}/reports").json()["items"]
    assert ("best", "upload") in {(r["checkpoint"], r["split"]) for r in listed}
    # The gallery's images come from the upload, kept with the run.
    first = report["mistakes"][0]
    image = client.get(
        f"{API}/runs/{reported.run_id}/reports/best/images/{first['image']}",
        params={"split": "upload"},
    )
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    name = first["path"].split("/")[-1]
    [original] = [path for path in val if path.name == name]
    assert image.content == original.read_bytes()
    # The relabelled images are among the label issues the report lists.
    issues = {item["path"].split("/")[-1] for item in report["label_issues"]["items"]}
    assert len(issues & set(flipped)) >= len(flipped) // 2, (issues, flipped)


@pytest.mark.parametrize(
    ("body", "status", "named"),
    [
        (b"not a zip", 422, "not a readable zip"),
        (None, 422, "class folders the model does not know: cats"),
    ],
)
def test_a_bad_labelled_zip_is_refused_by_name(
    client: TestClient, reported: ReportedRun, body: bytes | None, status: int, named: str
) -> None:
    if body is None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("cats/a.png", b"x")
        body = buffer.getvalue()
    response = client.post(
        f"{API}/runs/{reported.run_id}/reports/best/upload",
        content=body,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert response.status_code == status, response.text
    assert named in response.json()["error"]["message"]
    assert not (reported.folder / "reports" / "uploaded" / "best").exists()
