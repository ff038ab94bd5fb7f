"""Embedded TensorBoard (`/tb/<view>/`): real TensorBoard processes over real event files,
behind the dashboard's log-in, started on demand, capped, reaped when idle, and stopped after a
dashboard that was killed starts again."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from tests.dashboard.conftest import AUTH
from tests.liveserver import start_serving
from visionyard.dashboard.csp import TENSORBOARD_POLICY
from visionyard.dashboard.tensorboard import proxy, views
from visionyard.dashboard.tensorboard.instances import Instance, TensorBoards
from visionyard.db.models import Project, Run, RunState
from visionyard.errors import NotFoundError
from visionyard.settings import Settings

TB = "/tb"


def write_scalars(folder: Path, tag: str = "train/loss", steps: int = 5) -> None:
    """A real TensorBoard event file with `steps` points of `tag`."""
    writer = EventFileWriter(str(folder))
    for step in range(steps):
        value = summary_pb2.Summary.Value(tag=tag, simple_value=1.0 / (step + 1))
        writer.add_event(
            event_pb2.Event(
                wall_time=time.time(), step=step, summary=summary_pb2.Summary(value=[value])
            )
        )
    writer.close()


def add_run(app: FastAPI, name: str, *, logs: bool = True, run_dir: str | None = None) -> int:
    """A finished run whose folder (under the runs root) holds TensorBoard logs."""
    settings: Settings = app.state.vy.settings
    folder = settings.runs_root / "tb-tests" / name
    if logs:
        write_scalars(folder / "tb", tag=f"{name}/loss")
    with app.state.vy.sessions() as session, session.begin():
        project = session.query(Project).filter_by(name="tb-tests").one_or_none()
        if project is None:
            project = Project(name="tb-tests")
            session.add(project)
            session.flush()
        run = Run(
            project_id=project.id,
            name=name,
            config_snapshot={},
            config_hash="0" * 64,
            state=RunState.succeeded,
            progress={},
            run_dir=run_dir if run_dir is not None else str(folder),
        )
        session.add(run)
        session.flush()
        return run.id


def boards(app: FastAPI) -> TensorBoards:
    return app.state.vy.services["tensorboard"]


@pytest.fixture
def tb_app(sqlite_url: str, settings_factory: Callable[..., Settings]) -> Iterator[FastAPI]:
    from visionyard.dashboard.app import create_app

    application = create_app(settings_factory(sqlite_url, tb_max_instances=2))
    yield application
    application.state.vy.engine.dispose()


@pytest.fixture
def tb_client(tb_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(tb_app, headers=AUTH) as client:
        yield client


# ---- views and paths ----------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["1", "12", "3+12+40", "+".join(map(str, range(1, 21)))])
def test_canonical_view_keys_parse(key: str) -> None:
    assert views.key_of(views.parse_key(key)) == key


@pytest.mark.parametrize(
    "key",
    ["", "0", "01", "2+1", "1+1", "1+", "+1", "abc", "1;2", "1 2", "1%2B2", "-1", "1.0",
     "+".join(map(str, range(1, 22))), "9" * 13, "../1", "1/..", "１"],
)  # fmt: skip
def test_other_view_keys_are_a_404_naming_the_form(key: str) -> None:
    with pytest.raises(NotFoundError, match=r"/tb/<run id>/"):
        views.parse_key(key)


def fake_instance() -> Instance:
    return Instance(key="7", port=1, process=None, last_used=0.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "path",
    ["..", "../..", "../../etc/passwd", "a/../../b", "./x", "data/./runs", "a\\..\\b", "x\x00y",
     "..\\..", "data/plugin/../../../8"],
)  # fmt: skip
def test_paths_stepping_out_of_the_view_are_refused(path: str) -> None:
    with pytest.raises(NotFoundError, match=r"'\.' and '\.\.'"):
        proxy.upstream_path(fake_instance(), path)


@pytest.mark.parametrize("path", ["", "data/runs", "data/plugin/scalars/tags", "index.js", "a..b"])
def test_paths_inside_the_view_stay_under_its_prefix(path: str) -> None:
    assert proxy.upstream_path(fake_instance(), path) == f"/tb/7/{path}"


# ---- through the dashboard ----------------------------------------------------------------------


def test_a_logged_in_user_gets_the_runs_scalars_and_anonymous_requests_are_refused(
    tb_app: FastAPI, tb_client: TestClient
) -> None:
    run_id = add_run(tb_app, "alpha")
    anon = TestClient(tb_app)  # no credentials (and no second lifespan of the same app)
    for path in (f"{TB}/{run_id}/", f"{TB}/{run_id}/data/runs", f"{TB}/{run_id}"):
        response = anon.get(path, follow_redirects=False)
        assert response.status_code == 401, (path, response.text)
    assert boards(tb_app).keys() == []  # nothing was started for them
    page = tb_client.get(f"{TB}/{run_id}/")
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert "set-cookie" not in page.headers
    # TensorBoard's pages run its inline scripts: a policy of their own, framed by the dashboard.
    assert page.headers["content-security-policy"] == TENSORBOARD_POLICY
    assert page.headers["x-frame-options"] == "SAMEORIGIN"
    assert page.headers["x-content-type-options"] == "nosniff"
    tags = tb_client.get(f"{TB}/{run_id}/data/plugin/scalars/tags").json()
    assert "alpha/loss" in next(iter(tags.values()))
    points = tb_client.get(
        f"{TB}/{run_id}/data/plugin/scalars/scalars", params={"run": ".", "tag": "alpha/loss"}
    ).json()
    assert [p[1] for p in points] == [0, 1, 2, 3, 4]
    # Without the slash, a redirect to the view.
    bare = tb_client.get(f"{TB}/{run_id}", follow_redirects=False)
    assert bare.status_code == 308 and bare.headers["location"] == f"/tb/{run_id}/"


def test_one_tensorboard_over_several_runs(tb_app: FastAPI, tb_client: TestClient) -> None:
    a, b = add_run(tb_app, "first"), add_run(tb_app, "second")
    key = views.key_of([a, b])
    runs = tb_client.get(f"{TB}/{key}/data/runs").json()
    assert sorted(runs) == [f"run-{a}/.", f"run-{b}/."]  # TensorBoard's names: "<name>/<subdir>"


def test_traversal_and_host_header_corpus_never_leave_the_view(
    tb_app: FastAPI, tb_client: TestClient
) -> None:
    run_id = add_run(tb_app, "gamma")
    assert tb_client.get(f"{TB}/{run_id}/data/runs").status_code == 200
    for path in (
        "%2e%2e/%2e%2e/etc/passwd",
        "..%2f..%2fetc%2fpasswd",
        "data/%2e%2e/%2e%2e/%2e%2e/",
        "%2E%2E/",
        "..%5c..%5cetc",
        "%00",
    ):
        response = tb_client.get(f"{TB}/{run_id}/{path}")
        assert response.status_code == 404, (path, response.status_code, response.text[:200])
        assert "not allowed" in response.json()["error"]["message"]
    # Whatever Host the browser sends, the request goes to this view's own loopback instance.
    for host in ("127.0.0.1", "localhost", "127.0.0.1:1", "localhost:6006"):
        response = tb_client.get(f"{TB}/{run_id}/data/runs", headers={"Host": host})
        assert response.status_code == 200 and response.json() == ["."], host
    # A host the dashboard does not serve is refused before anything is forwarded.
    assert tb_client.get(f"{TB}/{run_id}/", headers={"Host": "evil.example"}).status_code == 400
    # A run recorded outside the runs root, or without logs, is not served.
    outside = add_run(tb_app, "outside", logs=False, run_dir="/etc")
    assert tb_client.get(f"{TB}/{outside}/").status_code == 409
    bare = add_run(tb_app, "no-logs", logs=False)
    response = tb_client.get(f"{TB}/{bare}/")
    assert response.status_code == 404 and "no TensorBoard logs" in response.text
    assert tb_client.get(f"{TB}/999999/").status_code == 404
    assert tb_client.get(f"{TB}/2+1/").status_code == 404


def test_the_cap_stops_the_least_recently_used_and_idle_ones_are_reaped(
    tb_app: FastAPI, tb_client: TestClient
) -> None:
    ids = [add_run(tb_app, name) for name in ("one", "two", "three")]
    manager = boards(tb_app)
    tb_client.get(f"{TB}/{ids[0]}/data/runs")
    first = manager.get(str(ids[0]))
    assert first is not None
    tb_client.get(f"{TB}/{ids[1]}/data/runs")
    tb_client.get(f"{TB}/{ids[0]}/data/runs")  # the first is now the more recent
    tb_client.get(f"{TB}/{ids[2]}/data/runs")  # cap 2: the second goes
    assert sorted(manager.keys()) == sorted([str(ids[0]), str(ids[2])])
    # Idle: nothing touches the instances for the timeout, the reaper stops them.
    now = [time.monotonic()]
    manager._clock = lambda: now[0]  # noqa: SLF001 - the test drives the clock
    manager.get(str(ids[0]))
    manager.get(str(ids[2]))
    now[0] += manager.idle_timeout - 1
    assert manager.reap_idle() == []
    tb_client.get(f"{TB}/{ids[2]}/data/runs")  # a real request keeps one alive
    now[0] += 2
    assert manager.reap_idle() == [str(ids[0])]
    assert first.process.poll() is not None  # really stopped
    now[0] += manager.idle_timeout
    assert manager.reap_idle() == [str(ids[2])]
    assert manager.keys() == []


def _pid_gone(pid: int, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_no_tensorboard_outlives_a_killed_dashboard_once_it_starts_again(
    sqlite_url: str, settings_factory: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = settings_factory(sqlite_url)
    folder = settings.runs_root / "killed" / "run"
    write_scalars(folder / "tb")
    from visionyard.dashboard.app import create_app

    app = create_app(settings)  # migrates the database and makes the run row
    run_id = add_run(app, "killed", run_dir=str(folder))
    app.state.vy.engine.dispose()

    dashboard, url = start_serving(settings, tmp_path / "serve-1.log")
    try:
        response = httpx.get(f"{url}{TB}/{run_id}/data/runs", headers=AUTH, timeout=60)
        assert response.status_code == 200, response.text
        records = list((settings.data_dir / "tensorboard").glob("owner-*.json"))
        assert len(records) == 1
        tb_pid = json.loads(records[0].read_text())["instances"][str(run_id)]
        dashboard.send_signal(signal.SIGKILL)
        dashboard.wait()
        time.sleep(0.5)
        assert not _pid_gone(tb_pid, timeout=0.5), "the instance should outlive the kill"
    finally:
        if dashboard.poll() is None:
            dashboard.kill()
            dashboard.wait()
    again, url = start_serving(settings, tmp_path / "serve-2.log")
    try:
        assert _pid_gone(tb_pid), "the restarted dashboard left the orphan running"
        assert not (settings.data_dir / "tensorboard" / records[0].name).exists()
        # And it serves the view again, with an instance of its own.
        response = httpx.get(f"{url}{TB}/{run_id}/data/runs", headers=AUTH, timeout=60)
        assert response.status_code == 200
    finally:
        again.terminate()
        again.wait(timeout=30)
    # A clean stop leaves neither processes nor records.
    assert list((settings.data_dir / "tensorboard").glob("owner-*.json")) == []
