"""`POST /projects/{id}/runs/import` (importRun) in-process on SQLite and PostgreSQL: what an
upload may hold (plain files under plain relative names, bounded in size), what makes it a run
folder, and how its events are stored. The whole path through the CLI with a really trained run:
tests/client/commands/test_runs_import.py."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.dashboard.conftest import AUTH
from tests.dashboard.test_fuzz import API, Seeded
from tests.dashboard.test_traversal import (
    SECRET,
    Planted,
    fuzz_dataset_source,
    payloads,
    planted,
    seeded,
)
from visionyard.dashboard.app import create_app
from visionyard.dashboard.services.run_import import STAGING_DIR
from visionyard.settings import Settings

__all__ = ["fuzz_dataset_source", "planted", "seeded"]  # fixtures this module uses

CONFIG = {"root": "/data/digits", "model_flavour": "org/model", "epochs": 2, "run_name": "laptop"}


def event(seq: int, type_: str, **fields) -> dict:
    return {"seq": seq, "time": 1_700_000_000.0 + seq, "type": type_, **fields}


#: two trainer starts; the second resumed from the step-2 checkpoint, so it redoes step 3
EVENTS = [
    event(1, "state", state="starting", resume=False),
    event(2, "train_step", step=1, epoch=0, loss=2.5, lr=0.001),
    event(3, "train_step", step=2, epoch=0, loss=2.25, lr=0.002),
    event(4, "checkpoint", name="last", path="checkpoints/last", epoch=0, step=2, metric=None),
    event(5, "train_step", step=3, epoch=0, loss=9.0, lr=0.003),
    event(6, "log", level="warning", message="killed after step 3"),
    event(7, "state", state="starting", resume=True),
    event(8, "train_step", step=3, epoch=0, loss=2.125, lr=0.003),
    event(9, "metrics", split="val", epoch=1, step=3, values={"acc@1": 0.5, "loss": 1.25}),
    event(10, "progress", epoch=1, epochs=2, step=3, total_steps=3, eta_s=0),
    event(11, "state", state="succeeded"),
]
RESULTS = {"status": "succeeded", "val": {"acc@1": 0.5}}


def tar_of(
    files: dict[str, bytes], extra: Callable[[tarfile.TarFile], None] | None = None
) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if extra is not None:
            extra(tar)
    return buffer.getvalue()


def run_files(events: list[dict] = EVENTS, **more: bytes) -> dict[str, bytes]:
    lines = "".join(json.dumps(e) + "\n" for e in events)
    return {
        "config.json": json.dumps(CONFIG).encode(),
        "events.jsonl": lines.encode(),
        "results.json": json.dumps(RESULTS).encode(),
        **more,
    }


def post(client: TestClient, project: int, body: bytes | Iterator[bytes], **params):
    return client.post(
        f"{API}/projects/{project}/runs/import",
        content=body,
        params=params,
        headers={"Content-Type": "application/octet-stream"},
    )


@pytest.fixture
def project(client: TestClient) -> int:
    response = client.post(f"{API}/projects", json={"name": "imports"})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def staging_is_empty(app: FastAPI) -> bool:
    staging = app.state.vy.settings.runs_root / STAGING_DIR
    return not staging.exists() or not any(staging.iterdir())


def test_a_run_folder_becomes_a_finished_run_with_its_events(
    client: TestClient, app: FastAPI, project: int
) -> None:
    response = post(client, project, tar_of(run_files(**{"tb/events.out": b"\x00\x01"})))
    assert response.status_code == 201, response.text
    body = response.json()
    run = body["run"]
    assert body["files"] == 4 and "imported run" in body["message"]
    assert (run["state"], run["attempt"], run["name"], run["tags"]) == (
        "succeeded",
        2,
        "laptop",
        ["imported"],
    )
    assert run["config_snapshot"] == CONFIG and run["progress"]["step"] == 3
    series = client.get(
        f"{API}/runs/{run['id']}/metrics/series",
        params={"names": ["train/step_loss", "train/lr", "val/acc@1"]},
    ).json()["series"]
    # Step 3 of the first start was redone by the second: its value is the second start's.
    assert [(s["name"], s["steps"], s["values"]) for s in series] == [
        ("train/step_loss", [1, 2, 3], [2.5, 2.25, 2.125]),
        ("train/lr", [1, 2, 3], [0.001, 0.002, 0.003]),
        ("val/acc@1", [3], [0.5]),
    ]
    logs = client.get(f"{API}/runs/{run['id']}/logs").json()["items"]
    assert [(line["attempt"], line["level"], line["message"]) for line in logs] == [
        (1, "warning", "killed after step 3")
    ]
    checkpoints = client.get(f"{API}/runs/{run['id']}/checkpoints").json()["items"]
    assert [(c["name"], c["step"], c["attempt"]) for c in checkpoints] == [("last", 2, 1)]
    # Summarised like an agent's run: its monitored metric, epochs, and its events' time span.
    summary = run["summary"]
    assert (summary["monitor"]["best"], summary["epochs_done"], summary["epochs_total"]) == (
        0.5,
        1,
        2,
    )
    assert summary["duration_s"] == 10.0
    # The redone step's 9.0 is no current point, so not the loss's maximum.
    below = client.get(f"{API}/runs", params={"filter": "max:train/step_loss<3"}).json()
    assert [item["id"] for item in below["items"]] == [run["id"]]
    assert client.get(f"{API}/runs/{run['id']}/results").json() == RESULTS
    tb = client.get(f"{API}/runs/{run['id']}/files", params={"path": "tb/events.out"})
    assert tb.content == b"\x00\x01"
    assert run["created_at"].startswith("2023-11-14") and run["finished_at"] is not None
    assert staging_is_empty(app)


def test_how_the_run_ended_decides_its_state(client: TestClient, project: int) -> None:
    failed = [event(1, "state", state="starting"), event(2, "state", state="failed", error="OOM")]
    stopped = [event(1, "state", state="starting"), event(2, "state", state="stopped", step=4)]
    killed = [event(1, "state", state="starting"), event(2, "train_step", step=1, loss=1, lr=1)]
    cases = [(failed, "failed", "OOM"), (stopped, "canceled", "stopped on request"),
             (killed, "failed", "without a final state")]  # fmt: skip
    for events, state, error in cases:
        files = run_files(events)
        del files["results.json"]
        response = post(client, project, tar_of(files), name=f"ended-{state}")
        assert response.status_code == 201, response.text
        run = response.json()["run"]
        assert run["state"] == state and error in run["error"], run


def test_a_torn_last_line_is_left_out_and_a_damaged_line_is_refused(
    client: TestClient, project: int
) -> None:
    files = run_files()
    files["events.jsonl"] += b'{"seq": 12, "type": "train_st'
    assert post(client, project, tar_of(files)).status_code == 201
    files["events.jsonl"] += b"\n"
    refused = post(client, project, tar_of(files))
    assert refused.status_code == 422
    assert "line 12 is not a JSON event" in refused.json()["error"]["message"]


def test_an_upload_that_is_not_a_run_folder_names_what_is_missing(
    client: TestClient, app: FastAPI, project: int
) -> None:
    nothing = post(client, project, tar_of({"notes.txt": b"hi"}))
    assert nothing.status_code == 422
    message = nothing.json()["error"]["message"]
    assert "no config.json and no events.jsonl" in message
    nested = post(client, project, tar_of({f"run/{k}": v for k, v in run_files().items()}))
    assert nested.status_code == 422 and "at its top level" in nested.json()["error"]["message"]
    bad_config = run_files(**{"config.json": json.dumps({"epochs": "many"}).encode()})
    refused = post(client, project, tar_of(bad_config))
    assert refused.status_code == 422
    text = refused.json()["error"]["message"]
    assert "epochs" in text and "model_flavour" in text and "is required" in text
    not_tar = post(client, project, b"this is not a tar archive" * 40)
    assert not_tar.status_code == 400 and "not a readable tar" in not_tar.json()["error"]["message"]
    empty = post(client, project, b"")
    assert empty.status_code == 400
    assert client.get(f"{API}/projects/{project}/runs").json()["items"] == []
    assert staging_is_empty(app)


def test_links_and_special_files_are_refused_by_name(
    client: TestClient, app: FastAPI, project: int
) -> None:
    def symlink(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo("tb/escape")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(info)

    def hardlink(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo("copy.json")
        info.type, info.linkname = tarfile.LNKTYPE, "config.json"
        tar.addfile(info)

    def fifo(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo("pipe")
        info.type = tarfile.FIFOTYPE
        tar.addfile(info)

    for extra, name, words in ((symlink, "tb/escape", "is a link"),
                               (hardlink, "copy.json", "is a link"),
                               (fifo, "pipe", "not a regular file")):  # fmt: skip
        response = post(client, project, tar_of(run_files(), extra))
        assert response.status_code == 400, response.text
        message = response.json()["error"]["message"]
        assert repr(name) in message and words in message

    def again(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo("./config.json")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"{}"))

    duplicate = post(client, project, tar_of(run_files(), again))
    assert duplicate.status_code == 400 and "twice" in duplicate.json()["error"]["message"]
    assert client.get(f"{API}/projects/{project}/runs").json()["items"] == []
    assert staging_is_empty(app)


def _escapes(name: str) -> bool:
    """A member name that names a place outside the folder it is unpacked into. (A tar name
    ends at its first NUL, so that is where this looks.)"""
    name = name.split("\x00")[0]
    return (
        name.startswith("/")
        or "\\" in name
        or ".." in name.split("/")
        or any(ord(ch) < 32 for ch in name)
    )


def test_traversal_member_names_are_refused_and_write_nothing_outside(
    client: TestClient, app: FastAPI, seeded: Seeded, planted: Planted
) -> None:
    """test_traversal's payload corpus as member names: those that lead out are refused (4xx);
    the others are odd but literal names (`..%2f`, `.../`, a full-width solidus) and stay
    inside the run's own folder. Nothing is written anywhere else."""
    outside_before = sorted(planted.outside.rglob("*"))
    datasets_before = sorted(planted.datasets_root.rglob("*"))
    corpus = payloads(planted) + ["/etc/cron.d/x", "../../x", "a/../../x", "./../x", "a\\..\\x"]
    failures = []
    for payload in corpus:
        try:
            body = tar_of({**run_files(), payload: SECRET.encode()})
        except (UnicodeEncodeError, ValueError):
            continue  # not expressible as a tar member name at all
        response = post(client, seeded.project_id, body)
        if SECRET.encode() in response.content:
            failures.append(f"{payload!r}: the secret is in the answer")
        if _escapes(payload) and not 400 <= response.status_code < 500:
            failures.append(f"{payload!r}: {response.status_code} {response.text[:120]}")
        elif response.status_code == 201:
            folder = planted.runs_root / response.json()["run"]["run_dir"]
            for path in folder.rglob("*"):
                if path.is_symlink() or not path.resolve().is_relative_to(folder):
                    failures.append(f"{payload!r}: wrote {path}")
        elif not 400 <= response.status_code < 500:
            failures.append(f"{payload!r}: {response.status_code} {response.text[:120]}")
    assert not failures, "\n".join(failures[:30])
    assert sorted(planted.outside.rglob("*")) == outside_before
    assert sorted(planted.datasets_root.rglob("*")) == datasets_before
    top = {p.name for p in planted.runs_root.iterdir()} - {STAGING_DIR, "link-out"}
    assert all(name.split("-")[0].isdigit() for name in top), top
    assert staging_is_empty(app)


def test_uploads_over_the_limit_are_413_whether_their_size_is_declared_or_not(
    db_url: str, settings_factory: Callable[..., Settings]
) -> None:
    app = create_app(settings_factory(db_url, max_import_bytes=50_000))
    try:
        with TestClient(app, headers=AUTH) as client:
            project = client.post(f"{API}/projects", json={"name": "big"}).json()["id"]
            big = tar_of(run_files(**{"model.safetensors": b"\x00" * 60_000}))
            declared = post(client, project, big)
            assert declared.status_code == 413, declared.text
            assert "VISIONYARD_MAX_IMPORT_BYTES" in declared.json()["error"]["message"]
            streamed = post(
                client, project, iter([big[i : i + 8192] for i in range(0, len(big), 8192)])
            )
            assert streamed.status_code == 413, streamed.text
            small = post(client, project, tar_of(run_files()))
            assert small.status_code == 201, small.text
            assert staging_is_empty(app)
    finally:
        app.state.vy.engine.dispose()


def test_an_unknown_project_is_404_and_no_credentials_401(
    client: TestClient, anon: TestClient, project: int
) -> None:
    missing = post(client, 987654, tar_of(run_files()))
    assert missing.status_code == 404 and "project 987654" in missing.json()["error"]["message"]
    assert post(anon, project, tar_of(run_files())).status_code == 401
