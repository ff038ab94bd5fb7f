"""`POST /runs/{id}/export` (exportRun) and `GET /runs/{id}/export/{name}` (downloadRunExport)
in-process on SQLite and PostgreSQL, on a really trained run brought in through importRun."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.dashboard.test_fuzz import API, Seeded, fuzz_dataset_source, seeded

__all__ = ["fuzz_dataset_source", "seeded"]  # fixtures this module uses


def _tar_of_folder(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "exports" not in path.relative_to(folder).parts:
                # Plain members: the trainer hard-links identical checkpoint files, and an
                # upload may hold no links.
                info = tarfile.TarInfo(path.relative_to(folder).as_posix())
                info.size = path.stat().st_size
                with path.open("rb") as fh:
                    tar.addfile(info, fh)
    return buffer.getvalue()


@pytest.fixture
def run_id(client: TestClient, analysis_run: Path) -> int:
    project = client.post(f"{API}/projects", json={"name": "exports"}).json()["id"]
    response = client.post(
        f"{API}/projects/{project}/runs/import",
        content=_tar_of_folder(analysis_run),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 201, response.text
    return int(response.json()["run"]["id"])


def test_a_checkpoint_exports_with_onnx_and_downloads(client: TestClient, run_id: int) -> None:
    response = client.post(
        f"{API}/runs/{run_id}/export", json={"checkpoint": "epoch_2", "onnx": True}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "epoch_002-onnx.tar.gz"
    assert body["checkpoint"] == {
        "name": "epoch_002",
        "epoch": 2,
        "step": body["checkpoint"]["step"],
    }
    assert body["onnx"]["validated"] and body["onnx"]["top1_agreement"] == 1.0
    assert body["onnx"]["max_abs_logit_diff"] <= body["onnx"]["tolerance"] == 1e-3
    assert body["download_url"] == f"/api/v1/runs/{run_id}/export/epoch_002-onnx.tar.gz"
    download = client.get(body["download_url"])
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/gzip"
    assert 'attachment; filename="epoch_002-onnx.tar.gz"' in download.headers["content-disposition"]
    assert len(download.content) == body["size"]
    assert hashlib.sha256(download.content).hexdigest() == body["sha256"]
    with tarfile.open(fileobj=io.BytesIO(download.content), mode="r:gz") as tar:
        manifest = json.loads(tar.extractfile("bundle.json").read())  # type: ignore[union-attr]
    assert manifest["checkpoint"]["name"] == "epoch_002"
    # Only the archive is kept in the run folder: an unpacked copy would hold the weights twice.
    listing = client.get(f"{API}/runs/{run_id}/files", params={"path": "exports"}).json()
    assert [e["name"] for e in listing["entries"]] == ["epoch_002-onnx.tar.gz"]


@pytest.mark.parametrize("checkpoint", ["final", "epoch_", "../best", "BEST", ""])
def test_a_bad_checkpoint_name_is_a_422_naming_the_choices(
    client: TestClient, run_id: int, checkpoint: str
) -> None:
    response = client.post(f"{API}/runs/{run_id}/export", json={"checkpoint": checkpoint})
    assert response.status_code == 422, response.text
    assert "best|last|epoch_" in response.json()["error"]["message"]


def test_missing_things_are_404s(client: TestClient, run_id: int) -> None:
    missing = client.post(f"{API}/runs/{run_id}/export", json={"checkpoint": "epoch_9"})
    assert missing.status_code == 404
    assert "available: best, last, epoch_001, epoch_002" in missing.json()["error"]["message"]
    assert client.post(f"{API}/runs/999999/export", json={}).status_code == 404
    not_built = client.get(f"{API}/runs/{run_id}/export/best.tar.gz")
    assert not_built.status_code == 404 and "build it first" in not_built.text
    # Only bundle archives are served from there, never another file of the run folder.
    for name in ("..%2Fconfig.json", "config.json", "best.tar.gz%00", "best.tar.gz.tmp"):
        response = client.get(f"{API}/runs/{run_id}/export/{name}")
        assert response.status_code == 404, (name, response.text)


def test_a_run_without_a_folder_is_a_404(client: TestClient, seeded: Seeded) -> None:
    response = client.post(f"{API}/runs/{seeded.queued_run_id}/export", json={})
    assert response.status_code == 404 and "has no files yet" in response.text
    # A folder without checkpoints (the seeded finished run) is a 404 naming what there is.
    response = client.post(f"{API}/runs/{seeded.finished_run_id}/export", json={})
    assert response.status_code == 404 and "available: none" in response.text


def test_a_tampered_checkpoint_is_a_422(client: TestClient, run_id: int, app) -> None:
    folder = Path(client.get(f"{API}/runs/{run_id}").json()["run_dir"])
    if not folder.is_absolute():
        folder = app.state.vy.settings.runs_root / folder
    weights = folder / "checkpoints" / "last" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    response = client.post(f"{API}/runs/{run_id}/export", json={"checkpoint": "last"})
    assert response.status_code == 422
    assert "hash mismatch for model.safetensors" in response.json()["error"]["message"]


def test_exports_need_credentials(anon: TestClient) -> None:
    assert anon.post(f"{API}/runs/1/export", json={}).status_code == 401
    assert anon.get(f"{API}/runs/1/export/best.tar.gz").status_code == 401
