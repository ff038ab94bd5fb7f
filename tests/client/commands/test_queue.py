"""`visionyard queue`: a config file with --set overrides (the rules of `visionyard train`)
saved on the dashboard as a config version, and a run of it queued."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.client.conftest import Cli, Dashboard
from tests.client.helpers import tiny_config
from visionyard.exitcodes import EXIT_BAD_INPUT


def test_queue_applies_overrides_and_versions_the_config(
    dashboard: Dashboard, cli: Cli, tmp_path: Path
) -> None:
    project = dashboard.new_project()
    config_file = tmp_path / "small-run.yaml"
    config_file.write_text(yaml.safe_dump(tiny_config(dashboard)))

    done = cli(
        "queue", "--config", str(config_file), "--project", project["name"],
        "--set", "epochs=3", "--set", "lr=0.01", "--set", "eval_topk=[1,2]",
        "--name", "my-run", "--priority", "5", "--gpus", "0",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "queued run" in done.stdout and "my-run" in done.stdout
    runs = dashboard.api("GET", f"/projects/{project['id']}/runs").json()["items"]
    assert len(runs) == 1
    run = dashboard.api("GET", f"/runs/{runs[0]['id']}").json()
    assert (run["name"], run["priority"], run["gpu_count"], run["state"]) == (
        "my-run",
        5,
        0,
        "queued",
    )
    snapshot = run["config_snapshot"]
    assert (snapshot["epochs"], snapshot["lr"], snapshot["eval_topk"]) == (3, 0.01, [1, 2])
    assert snapshot["batch_size"] == 8  # from the file
    configs = dashboard.api("GET", f"/projects/{project['id']}/configs").json()["items"]
    assert [(c["name"], c["latest_version"]) for c in configs] == [("small-run", 1)]

    # The same file again with another override: a new version of the same config.
    again = cli(
        "queue", "-c", str(config_file), "-p", str(project["id"]), "--set", "epochs=4", "--json"
    )
    assert again.returncode == 0, again.stderr
    second = json.loads(again.stdout)
    assert second["config_version"] == 2 and second["config_snapshot"]["epochs"] == 4
    assert second["name"] == "small-run-v2"


def test_queue_refuses_bad_overrides_locally_and_bad_configs_with_the_apis_message(
    dashboard: Dashboard, cli: Cli, tmp_path: Path
) -> None:
    project = dashboard.new_project()
    config_file = tmp_path / "run.json"
    config_file.write_text(json.dumps(tiny_config(dashboard)))
    typo = cli("queue", "-c", str(config_file), "-p", project["name"], "--set", "epochz=3")
    assert typo.returncode == EXIT_BAD_INPUT
    assert "unknown key 'epochz'" in typo.stderr and "did you mean 'epochs'" in typo.stderr

    missing = cli("queue", "-c", str(tmp_path / "nope.yaml"), "-p", project["name"])
    assert missing.returncode == EXIT_BAD_INPUT and "does not exist" in missing.stderr

    outside = cli("queue", "-c", str(config_file), "-p", project["name"], "--set", "root=/etc")
    assert outside.returncode == EXIT_BAD_INPUT
    assert "DATASETS_DIR" in outside.stderr  # the dashboard's own rule and message
    invalid = cli("queue", "-c", str(config_file), "-p", project["name"], "--set", "lr=-1")
    assert invalid.returncode == EXIT_BAD_INPUT and "lr" in invalid.stderr
    for done in (typo, missing, outside, invalid):
        assert "Traceback" not in done.stderr
    assert dashboard.api("GET", f"/projects/{project['id']}/runs").json()["items"] == []
