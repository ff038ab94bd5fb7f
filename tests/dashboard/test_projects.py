"""Projects API: CRUD, list paging/sort/filter, and deletes that remove run folders safely."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from visionyard.dashboard.services.files import delete_run_files, run_dir_target
from visionyard.db.models import Agent, ExperimentGroup, Run, RunState, RunTag
from visionyard.errors import ConflictError

API = "/api/v1"


def add_run(
    app: FastAPI,
    project_id: int,
    *,
    name: str = "r",
    state: RunState = RunState.succeeded,
    run_dir: str | None = None,
    group_id: int | None = None,
) -> int:
    """Insert a run row directly (the runs API belongs to another module)."""
    with app.state.vy.sessions() as session, session.begin():
        agent_id = None
        lease = None
        if state == RunState.running:  # the schema demands an owner and a lease
            agent = Agent(name=f"agent-{name}")
            session.add(agent)
            session.flush()
            agent_id, lease = agent.id, 1e12
        run = Run(
            project_id=project_id,
            group_id=group_id,
            name=name,
            config_snapshot={"epochs": 1},
            config_hash="0" * 64,
            state=state,
            agent_id=agent_id,
            lease_expires_at=lease,
            run_dir=run_dir,
            tags=[RunTag(tag="t")],
        )
        session.add(run)
        session.flush()
        return run.id


def count(app: FastAPI, model: type, *where) -> int:
    with app.state.vy.sessions() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def make_run_folder(path: Path) -> Path:
    (path / "checkpoints" / "last").mkdir(parents=True)
    (path / "checkpoints" / "last" / "model.safetensors").write_bytes(b"\0" * 16)
    (path / "config.json").write_text("{}")
    return path


def error_fields(response) -> list[str]:
    return [f["field"] for f in response.json()["error"].get("fields", [])]


def test_project_crud_duplicates_and_validation(client: TestClient) -> None:
    made = client.post(f"{API}/projects", json={"name": "cats", "description": "meow"})
    assert made.status_code == 201, made.text
    project = made.json()
    assert project["name"] == "cats" and project["description"] == "meow"
    # Timestamps carry their offset on both backends (SQLite returns naive datetimes).
    assert datetime.fromisoformat(project["created_at"]).utcoffset() is not None

    dup = client.post(f"{API}/projects", json={"name": "cats"})
    assert dup.status_code == 409 and "already exists" in dup.json()["error"]["message"]

    pid = project["id"]
    assert client.get(f"{API}/projects/{pid}").json() == project
    missing = client.get(f"{API}/projects/999999")
    assert missing.status_code == 404 and "999999" in missing.json()["error"]["message"]
    assert client.get(f"{API}/projects/{2**31}").status_code == 422  # beyond int32: no 500
    assert client.patch(f"{API}/projects/999999", json={"name": "x"}).status_code == 404
    assert client.delete(f"{API}/projects/999999").status_code == 404

    renamed = client.patch(f"{API}/projects/{pid}", json={"name": "felines"})
    assert renamed.status_code == 200
    body = renamed.json()
    assert body["name"] == "felines" and body["description"] == "meow"
    updated = datetime.fromisoformat(body["updated_at"])
    assert updated > datetime.fromisoformat(project["updated_at"])
    described = client.patch(f"{API}/projects/{pid}", json={"description": "new"}).json()
    assert described["name"] == "felines" and described["description"] == "new"

    client.post(f"{API}/projects", json={"name": "dogs"})
    clash = client.patch(f"{API}/projects/{pid}", json={"name": "dogs"})
    assert clash.status_code == 409

    for bad, field in (
        ({"name": ""}, "name"),
        ({"name": "x" * 129}, "name"),
        ({"name": "a\x00b"}, "name"),
        ({"description": "d"}, "name"),
        ({"name": "ok", "owner": "me"}, "owner"),
        ({"name": "ok", "description": "x" * 10_001}, "description"),
    ):
        response = client.post(f"{API}/projects", json=bad)
        assert response.status_code == 422, (bad, response.text)
        assert field in error_fields(response), (bad, response.json())

    assert client.delete(f"{API}/projects/{pid}").status_code == 204
    assert client.get(f"{API}/projects/{pid}").status_code == 404


def test_list_pages_sorts_and_filters(client: TestClient) -> None:
    names = ["delta", "alpha", "charlie", "bravo", "echo_1", "echo%2"]
    ids = {n: client.post(f"{API}/projects", json={"name": n}).json()["id"] for n in names}

    default = client.get(f"{API}/projects").json()
    assert default["total"] == 6 and default["limit"] == 50 and default["offset"] == 0
    # newest first by default; ids break created_at ties
    assert [p["name"] for p in default["items"]] == list(reversed(names))

    by_name = client.get(f"{API}/projects", params={"sort": "name", "order": "asc"}).json()
    assert [p["name"] for p in by_name["items"]] == sorted(names)

    page2 = client.get(
        f"{API}/projects", params={"sort": "name", "order": "asc", "limit": 2, "offset": 2}
    ).json()
    assert [p["name"] for p in page2["items"]] == ["charlie", "delta"]
    assert page2["total"] == 6 and page2["limit"] == 2 and page2["offset"] == 2

    assert [p["name"] for p in client.get(f"{API}/projects?q=ALP").json()["items"]] == ["alpha"]
    # % and _ are literal characters in the filter, not SQL wildcards
    assert [p["name"] for p in client.get(f"{API}/projects?q=%25").json()["items"]] == ["echo%2"]
    assert [p["name"] for p in client.get(f"{API}/projects?q=_").json()["items"]] == ["echo_1"]
    assert client.get(f"{API}/projects?q=zzz").json() == {
        "items": [],
        "total": 0,
        "limit": 50,
        "offset": 0,
    }

    client.patch(f"{API}/projects/{ids['alpha']}", json={"description": "touched"})
    recent = client.get(f"{API}/projects", params={"sort": "updated_at", "limit": 1}).json()
    assert recent["items"][0]["name"] == "alpha"

    for params, field in (
        ({"sort": "password"}, "sort"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"offset": -1}, "offset"),
        ({"order": "sideways"}, "order"),
        ({"q": "a\x00"}, "q"),
        ({"q": "x" * 129}, "q"),
    ):
        response = client.get(f"{API}/projects", params=params)
        assert response.status_code == 422, params
        assert any(field in f for f in error_fields(response)), (params, response.json())


def test_list_counts_runs_and_shows_the_latest_runs_state(client: TestClient, app: FastAPI) -> None:
    busy = client.post(f"{API}/projects", json={"name": "busy"}).json()["id"]
    empty = client.post(f"{API}/projects", json={"name": "empty"}).json()["id"]
    add_run(app, busy, name="a", state=RunState.succeeded)
    add_run(app, busy, name="b", state=RunState.failed)
    add_run(app, busy, name="c", state=RunState.queued)
    items = {p["id"]: p for p in client.get(f"{API}/projects").json()["items"]}
    assert (items[busy]["run_count"], items[busy]["latest_run_state"]) == (3, "queued")
    assert (items[empty]["run_count"], items[empty]["latest_run_state"]) == (0, None)


def test_delete_removes_rows_and_run_folders(client: TestClient, app: FastAPI) -> None:
    runs_root: Path = app.state.vy.settings.runs_root
    pid = client.post(f"{API}/projects", json={"name": "doomed"}).json()["id"]
    keep_pid = client.post(f"{API}/projects", json={"name": "kept"}).json()["id"]
    group = client.post(f"{API}/projects/{pid}/groups", json={"name": "g"}).json()

    absolute = make_run_folder(runs_root / "doomed-1")
    relative = make_run_folder(runs_root / "nested" / "doomed-2")
    # A link inside a run folder to something outside: rmtree must remove the link only.
    outside = make_run_folder(runs_root.parent / "precious")
    os.symlink(outside, absolute / "link-out")
    other = make_run_folder(runs_root / "kept-1")
    add_run(app, pid, name="a", run_dir=str(absolute), group_id=group["id"])
    add_run(app, pid, name="b", run_dir="nested/doomed-2", state=RunState.failed)
    add_run(app, pid, name="c", run_dir=None, state=RunState.canceled)
    add_run(app, pid, name="gone", run_dir=str(runs_root / "never-written"))
    add_run(app, keep_pid, name="k", run_dir=str(other))

    response = client.delete(f"{API}/projects/{pid}")
    assert response.status_code == 204, response.text
    assert not absolute.exists() and not relative.exists()
    assert (outside / "config.json").is_file()  # never followed
    assert (other / "config.json").is_file() and (runs_root / "nested").is_dir()
    assert count(app, Run, Run.project_id == pid) == 0
    assert count(app, ExperimentGroup, ExperimentGroup.project_id == pid) == 0
    assert count(app, RunTag) == 1  # only the kept project's run's tag
    assert count(app, Run) == 1
    assert client.get(f"{API}/projects/{keep_pid}").status_code == 200


def test_delete_refused_while_runs_are_queued_or_running(client: TestClient, app: FastAPI) -> None:
    runs_root: Path = app.state.vy.settings.runs_root
    pid = client.post(f"{API}/projects", json={"name": "busy"}).json()["id"]
    folder = make_run_folder(runs_root / "busy-done")
    add_run(app, pid, name="done", run_dir=str(folder))
    queued = add_run(app, pid, name="q", state=RunState.queued)
    add_run(app, pid, name="r", state=RunState.running)

    response = client.delete(f"{API}/projects/{pid}")
    assert response.status_code == 409
    message = response.json()["error"]["message"]
    assert "cancel them first" in message and f"{queued} (queued)" in message
    assert "(running)" in message
    assert folder.is_dir() and count(app, Run, Run.project_id == pid) == 3


def test_delete_refuses_run_folders_outside_the_runs_root(
    client: TestClient, app: FastAPI, tmp_path: Path
) -> None:
    runs_root: Path = app.state.vy.settings.runs_root
    elsewhere = make_run_folder(tmp_path / "elsewhere")
    sibling = make_run_folder(runs_root.parent / f"{runs_root.name}-evil" / "x")  # prefix trick
    link = runs_root / "link-out"
    os.symlink(elsewhere, link)
    inside = make_run_folder(runs_root / "inside")

    bads = (str(elsewhere), str(sibling), "../elsewhere", str(link), ".", str(runs_root))
    for i, bad in enumerate(bads):
        pid = client.post(f"{API}/projects", json={"name": f"p{i}"}).json()["id"]
        add_run(app, pid, name="ok", run_dir=str(inside))
        add_run(app, pid, name="bad", run_dir=bad)
        response = client.delete(f"{API}/projects/{pid}")
        assert response.status_code == 409, (bad, response.text)
        message = response.json()["error"]["message"]
        assert "outside the runs root" in message and "nothing was deleted" in message, message
        # validated before anything was deleted: the inside folder is still there
        assert (inside / "config.json").is_file()
        assert client.get(f"{API}/projects/{pid}").status_code == 200

    assert (elsewhere / "config.json").is_file() and (sibling / "config.json").is_file()
    assert runs_root.is_dir()

    # The way out: delete the rows and keep every folder.
    pid = client.post(f"{API}/projects", json={"name": "escape"}).json()["id"]
    add_run(app, pid, name="bad", run_dir=str(elsewhere))
    kept = client.delete(f"{API}/projects/{pid}", params={"keep_files": "true"})
    assert kept.status_code == 204
    assert (elsewhere / "config.json").is_file()
    assert client.get(f"{API}/projects/{pid}").status_code == 404


def test_delete_run_files_service(client: TestClient, app: FastAPI) -> None:
    """The reusable service: idempotent inside the root, refuses outside, ignores no folder."""
    settings = app.state.vy.settings
    pid = client.post(f"{API}/projects", json={"name": "svc"}).json()["id"]
    folder = make_run_folder(settings.runs_root / "svc-run")
    run_id = add_run(app, pid, name="svc", run_dir="svc-run")
    with app.state.vy.sessions() as session:
        run = session.get(Run, run_id)
        assert run_dir_target(settings, run) == folder
        delete_run_files(settings, run)
        assert not folder.exists()
        delete_run_files(settings, run)  # already gone: fine
        run.run_dir = None
        delete_run_files(settings, run)
        # A run folder that is a link to another run's folder: the link goes, the folder stays.
        other = make_run_folder(settings.runs_root / "other-run")
        os.symlink(other, settings.runs_root / "alias")
        run.run_dir = "alias"
        assert run_dir_target(settings, run) == other
        delete_run_files(settings, run)
        assert not (settings.runs_root / "alias").exists()
        assert (other / "config.json").is_file()
        run.run_dir = "/"
        try:
            delete_run_files(settings, run)
        except ConflictError as exc:
            assert "outside the runs root" in str(exc)
        else:
            raise AssertionError("a run folder at / must be refused")


def test_project_routes_need_authentication(anon: TestClient) -> None:
    for method, path in (
        ("GET", "/projects"),
        ("POST", "/projects"),
        ("GET", "/projects/1"),
        ("PATCH", "/projects/1"),
        ("DELETE", "/projects/1"),
    ):
        kwargs = {"json": {"name": "x"}} if method in ("POST", "PATCH") else {}
        response = anon.request(method, f"{API}{path}", **kwargs)
        assert response.status_code == 401, (method, path)
        bad = anon.request(
            method, f"{API}{path}", headers={"Authorization": "Bearer vy_wrong"}, **kwargs
        )
        assert bad.status_code == 401, (method, path)
