"""`visionyard runs import`: a run trained locally with the training core (tiny model, digits;
stopped mid-epoch, then resumed and finished by `python main.py --config`, so it has two trainer
starts) appears in the dashboard beside queued runs, and everything read back through the API
equals the run folder: every metric value at every step, logs, checkpoints, results and files.
The run is trained once per module."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.client.conftest import Cli, Dashboard
from tests.client.helpers import claim, database, queue_run
from tests.training.runfolder import read_events_strictly
from tests.training.test_resume import StopAfterPolls
from visionyard import runqueue
from visionyard.db.models import RunEvent
from visionyard.exitcodes import EXIT_BAD_INPUT
from visionyard.runqueue.metric_chunks import read_points
from visionyard.training.confighash import config_hash

REPO = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.slow  # trains a run (a few seconds) and starts a server per backend

#: puts torch's presence in the client process on its last stderr line (the client must not
#: import it: `runs import` reads the folder as JSON)
TORCH_PROBE = (
    "import atexit, sys\n"
    "atexit.register(lambda: sys.stderr.write(f\"\\ntorch loaded: {'torch' in sys.modules}\\n\"))\n"
    "sys.argv = ['visionyard', *sys.argv[1:]]\n"
    "from visionyard.cli import main\n"
    "main()\n"
)


@pytest.fixture(scope="module")
def local_runs(
    tmp_path_factory: pytest.TempPathFactory,
    digits_root: Path,
    tiny_model: Callable[[str], Path],
) -> dict[str, Path]:
    """{"finished": a run stopped mid-epoch and resumed to the end, "stopped": a copy of it
    as it was after the stop}."""
    from visionyard.training.config import build_config
    from visionyard.training.runner import train

    out = tmp_path_factory.mktemp("local-runs")
    config = {
        "root": str(digits_root),
        "model_flavour": str(tiny_model("resnet")),
        "max_datapoints_per_class": 8,
        "epochs": 2,
        "batch_size": 16,
        "lr": 1e-3,
        "num_workers": 0,
        "eval_topk": [1, 2],
        "output_dir": str(out / "runs"),
        "run_name": "local-run",
        "progress_bar": False,
        "log_every_steps": 1,
        "seed": 0,
    }
    stopped = train(build_config(config), stop=StopAfterPolls(3))
    assert stopped.status == "stopped"
    shutil.copytree(stopped.run_dir, out / "stopped-run")
    # The rest is trained as a user does it from a terminal: `python main.py --config`, which
    # resumes the same run folder and finishes it.
    config_file = out / "local-run.json"
    config_file.write_text(json.dumps(config))
    resumed = subprocess.run(
        [sys.executable, str(REPO / "main.py"), "--config", str(config_file)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    finished = stopped.run_dir
    assert json.loads((finished / "results.json").read_text())["status"] == "succeeded"
    return {"finished": finished, "stopped": out / "stopped-run"}


def import_without_torch(cli: Cli, *args: str) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, "-c", TORCH_PROBE, *args],
        env=cli.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.stderr.rstrip().endswith("torch loaded: False"), done.stderr[-2000:]
    return done.returncode, done.stdout, done.stderr


def expected_series(events: list[dict]) -> dict[str, dict[int, float | None]]:
    """Each metric's points as the run folder states them: within one trainer start the first
    value at a step counts; a later start's values replace the earlier start's from the first
    step it logged on (it resumed from there)."""
    starts: list[list[dict]] = []
    for event in events:
        if not starts or (event["type"] == "state" and event["state"] == "starting"):
            starts.append([])
        starts[-1].append(event)
    series: dict[str, dict[int, float | None]] = defaultdict(dict)
    for start in starts:
        points: dict[str, dict[int, float | None]] = defaultdict(dict)
        for event in start:
            if event["type"] == "train_step":
                pairs = {"train/step_loss": event["loss"], "train/lr": event["lr"]}
            elif event["type"] == "metrics":
                pairs = {f"{event['split']}/{k}": v for k, v in event["values"].items()}
            else:
                continue
            for name, value in pairs.items():
                points[name].setdefault(event["step"], value)
        for name, new in points.items():
            first = min(new)
            kept = {s: v for s, v in series[name].items() if s < first}
            series[name] = kept | new
    return {name: dict(sorted(points.items())) for name, points in series.items()}


def api_files(dashboard: Dashboard, run_id: int, path: str = "") -> dict[str, int]:
    listing = dashboard.api("GET", f"/runs/{run_id}/files", params={"path": path})
    assert listing.status_code == 200, listing.text
    body = listing.json()
    assert not body["truncated"]
    found: dict[str, int] = {}
    for entry in body["entries"]:
        if entry["is_dir"]:
            found |= api_files(dashboard, run_id, entry["path"])
        else:
            found[entry["path"]] = entry["size"]
    return found


def test_an_imported_run_reads_back_identical_to_its_folder(
    dashboard: Dashboard, cli: Cli, local_runs: dict[str, Path]
) -> None:
    run_dir = local_runs["finished"]
    project = dashboard.new_project()
    code, out, err = import_without_torch(
        cli, "runs", "import", str(run_dir), "--project", project["name"], "--json"
    )
    assert code == 0, err
    answer = json.loads(out)
    run_id = answer["run"]["id"]
    files_on_disk = {
        p.relative_to(run_dir).as_posix(): p.stat().st_size
        for p in run_dir.rglob("*")
        if p.is_file()
    }
    assert answer["files"] == len(files_on_disk)

    # The run: finished, in the project, its config and hash, one attempt per trainer start.
    run = dashboard.api("GET", f"/runs/{run_id}").json()
    config = json.loads((run_dir / "config.json").read_text())
    events = read_events_strictly(run_dir / "events.jsonl")
    starts = sum(e["type"] == "state" and e["state"] == "starting" for e in events)
    assert starts == 2
    assert (run["state"], run["project_id"], run["attempt"], run["tags"]) == (
        "succeeded",
        project["id"],
        2,
        ["imported"],
    )
    assert run["name"] == "local-run" and run["error"] is None
    assert run["config_snapshot"] == config and run["config_hash"] == config_hash(config)
    listed = dashboard.api("GET", f"/projects/{project['id']}/runs").json()["items"]
    assert [r["id"] for r in listed] == [run_id]

    # Metrics: the same names, and every value at every step, through the series API...
    expected = expected_series(events)
    names = dashboard.api("GET", f"/runs/{run_id}/metrics").json()["names"]
    assert sorted(names) == sorted(expected)
    assert {"train/step_loss", "train/lr", "val/acc@1", "test/acc@1"} <= set(names)
    for name, points in expected.items():
        response = dashboard.api(
            "GET", f"/runs/{run_id}/metrics/series", params={"names": name, "max_points": 10000}
        )
        assert response.status_code == 200, response.text
        (series,) = response.json()["series"]
        assert series["steps"] == list(points), name
        assert series["values"] == list(points.values()), name
        assert series["total"] == len(points) and not series["downsampled"]
    # ... and every stored row, with its attempt, against the events of that trainer start.
    stored = defaultdict(dict)
    with database(dashboard) as engine, Session(engine) as session:
        names = session.scalars(
            select(RunEvent.name).where(RunEvent.run_id == run_id, RunEvent.kind == "metric")
        ).all()
        found = read_points(session, [run_id], set(names))
    for (_, name), points in found.items():
        for attempt, step, value in zip(
            points.attempts.tolist(), points.steps.tolist(), points.value_list(), strict=True
        ):
            stored[(attempt, name)][step] = value
    logged = defaultdict(dict)
    attempt = 0
    for event in events:
        if event["type"] == "state" and event["state"] == "starting":
            attempt += 1
        if event["type"] == "train_step":
            logged[(attempt, "train/step_loss")].setdefault(event["step"], event["loss"])
            logged[(attempt, "train/lr")].setdefault(event["step"], event["lr"])
        elif event["type"] == "metrics":
            for key, value in event["values"].items():
                logged[(attempt, f"{event['split']}/{key}")].setdefault(event["step"], value)
    assert dict(stored) == dict(logged)

    # Results, checkpoints, logs and files.
    results = dashboard.api("GET", f"/runs/{run_id}/results")
    assert results.json() == json.loads((run_dir / "results.json").read_text())
    checkpoints = dashboard.api(
        "GET", f"/runs/{run_id}/checkpoints", params={"order": "asc", "limit": 200}
    ).json()["items"]
    # One record per checkpoint folder, at its newest save (the last one the log records).
    newest_save = {e["name"]: e["step"] for e in events if e["type"] == "checkpoint"}
    assert sorted((c["name"], c["step"]) for c in checkpoints) == sorted(newest_save.items())
    logs = dashboard.api("GET", f"/runs/{run_id}/logs", params={"tail": 5000}).json()["items"]
    assert [line["message"] for line in logs] == [
        e["message"] for e in events if e["type"] == "log"
    ]
    assert api_files(dashboard, run_id) == files_on_disk
    for name in ("config.json", "model/model.safetensors", "events.jsonl"):
        download = dashboard.api("GET", f"/runs/{run_id}/files", params={"path": name})
        assert download.content == (run_dir / name).read_bytes(), name
    folder = dashboard.settings.runs_root / run["run_dir"]
    assert folder.parent == dashboard.settings.runs_root and folder.name.startswith(f"{run_id}-")

    shown = cli("runs", "show", str(run_id))
    assert shown.returncode == 0 and "succeeded" in shown.stdout and "imported" in shown.stdout


def test_a_stopped_run_is_imported_as_canceled_under_the_given_name(
    dashboard: Dashboard, cli: Cli, local_runs: dict[str, Path]
) -> None:
    project = dashboard.new_project()
    code, out, err = import_without_torch(
        cli, "runs", "import", str(local_runs["stopped"]), "-p", str(project["id"]),
        "--name", "half-way",
    )  # fmt: skip
    assert code == 0, err
    assert "imported run" in out and "half-way" in out
    (run,) = dashboard.api("GET", f"/projects/{project['id']}/runs").json()["items"]
    assert (run["name"], run["state"], run["attempt"]) == ("half-way", "canceled", 1)
    assert "stopped on request" in run["error"]
    results = dashboard.api("GET", f"/runs/{run['id']}/results")
    assert results.status_code == 404


def test_resume_continues_a_canceled_run_from_the_checkpoint_in_its_folder(
    dashboard: Dashboard, cli: Cli, local_runs: dict[str, Path]
) -> None:
    """`runs resume`: a queued run that an agent (the run queue's own functions here) trained
    until a stop, its folder holding that stop's checkpoint, goes back to the queue as the same
    run's next attempt."""
    project = dashboard.new_project()
    run = queue_run(dashboard, project["id"], priority=1_000_000)
    with database(dashboard) as engine:
        agent, attempt = claim(engine, run["id"])
        shutil.copytree(local_runs["stopped"], dashboard.settings.runs_root / run["run_dir"])
        runqueue.finish_run(engine, run["id"], attempt, agent, "canceled")
    done = cli("runs", "resume", str(run["id"]))
    assert done.returncode == 0, done.stderr
    assert f"run {run['id']}" in done.stdout and "queued again, attempt 2" in done.stdout
    after = dashboard.api("GET", f"/runs/{run['id']}").json()
    assert (after["state"], after["attempt"]) == ("queued", 2)

    # An imported run resumes by the same rules: this one names a model folder outside the
    # dashboard's models root, which the dashboard refuses naming the field.
    code, out, err = import_without_torch(
        cli, "runs", "import", str(local_runs["stopped"]), "-p", str(project["id"]), "--json"
    )
    assert code == 0, err
    imported = json.loads(out)["run"]["id"]
    refused = cli("runs", "resume", str(imported))
    assert refused.returncode == EXIT_BAD_INPUT and "model_flavour" in refused.stderr


def test_a_folder_that_is_not_a_run_is_refused_before_any_upload(
    dashboard: Dashboard, cli: Cli, local_runs: dict[str, Path], tmp_path: Path
) -> None:
    project = dashboard.new_project()
    empty = tmp_path / "not-a-run"
    empty.mkdir()
    (empty / "notes.txt").write_text("hello")
    code, _, err = import_without_torch(cli, "runs", "import", str(empty), "-p", project["name"])
    assert code == EXIT_BAD_INPUT
    assert "is not a run folder: it has no config.json and no events.jsonl" in err

    linked = tmp_path / "linked-run"
    shutil.copytree(local_runs["stopped"], linked)
    (linked / "escape").symlink_to("/etc/passwd")
    code, _, err = import_without_torch(cli, "runs", "import", str(linked), "-p", project["name"])
    assert code == EXIT_BAD_INPUT
    assert "symbolic links (escape)" in err

    damaged = tmp_path / "damaged-run"
    shutil.copytree(local_runs["stopped"], damaged)
    with (damaged / "events.jsonl").open("a") as fh:
        fh.write("{not json\n")
    code, _, err = import_without_torch(cli, "runs", "import", str(damaged), "-p", project["name"])
    assert code == EXIT_BAD_INPUT and "is not a JSON event" in err and "line" in err
    for message in (err,):
        assert "Traceback" not in message
    assert dashboard.api("GET", f"/projects/{project['id']}/runs").json()["items"] == []
