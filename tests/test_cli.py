"""The front doors as a user runs them: real subprocesses, real exit codes, no tracebacks."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from visionyard.cli import setup_logging

REPO = Path(__file__).resolve().parents[1]
VISIONYARD = [sys.executable, "-m", "visionyard.cli"]


def run(args: list[str], *, cwd: Path = REPO, env: dict | None = None, timeout: int = 300):
    return subprocess.run(
        args,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
    )


def write(path: Path, cfg: dict) -> Path:
    path.write_text(json.dumps(cfg))
    return path


@pytest.mark.slow
def test_train_with_overrides_prints_results(base_config: dict, tmp_path: Path) -> None:
    cfg = write(tmp_path / "cfg.json", base_config)
    proc = run(
        [*VISIONYARD, "train", "--config", str(cfg), "--set", "epochs=2", "--set", "run_name=cli"]
    )
    assert proc.returncode == 0, proc.stderr
    # One line: an agent stores the trainer's output line by line, and an indented summary
    # arrived in the run's logs as a dozen records of brackets and fragments.
    assert len(proc.stdout.splitlines()) == 1, proc.stdout
    out = json.loads(proc.stdout)
    assert out["run_dir"].endswith("cli") and out["val"]["acc@1"] >= 0
    stored = json.loads((Path(out["run_dir"]) / "config.json").read_text())
    assert stored["epochs"] == 2 and stored["class_labels"] == ["0", "1", "2"]


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ({"i2label": {}}, "unknown key"),
        ({"batch_size": "big"}, "batch_size"),
        ({"eval_topk": [1, 5], "monitor_metric": "acc@5"}, "acc@5"),
    ],
)
def test_bad_config_is_one_clear_line_not_a_traceback(
    base_config: dict, tmp_path: Path, patch: dict, expected: str
) -> None:
    cfg = write(tmp_path / "cfg.json", base_config | patch)
    proc = run([*VISIONYARD, "train", "--config", str(cfg)])
    assert proc.returncode == 2
    assert expected in proc.stderr and "Traceback" not in proc.stderr
    assert not Path(base_config["output_dir"]).exists()


def test_corrupt_image_via_cli_names_the_file(
    base_config: dict, small_dataset: Path, tmp_path: Path
) -> None:
    bad = small_dataset / "val" / "0" / "broken.png"
    bad.write_bytes(b"not an image at all")
    proc = run([*VISIONYARD, "train", "--config", str(write(tmp_path / "c.json", base_config))])
    assert proc.returncode == 2 and "val/0/broken.png" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_mistyped_local_model_is_a_did_you_mean_before_training(
    base_config: dict, tiny_model, tmp_path: Path
) -> None:
    """`visionyard train` and `python main.py --config` with a local model name one letter off:
    exit 2 with the folder it was probably meant to be, before anything is written. A bare name
    or a path is refused at once; an `org/name` is a Hub id first, and only once the Hub has
    failed does the message point at the local folder of nearly that name."""
    models = tiny_model("resnet").parent
    absolute = str(models / "tiny-resnet")
    cases = [
        ([*VISIONYARD, "train"], "tiny-resnett", models, "'tiny-resnet'"),
        ([*VISIONYARD, "train"], absolute + "t", REPO, repr(absolute)),
        ([sys.executable, str(REPO / "main.py")], f"{models.name}/tiny-resnett", models.parent,
         repr(f"{models.name}/tiny-resnet")),
    ]  # fmt: skip
    for index, (command, flavour, cwd, meant) in enumerate(cases):
        cfg = write(tmp_path / f"c{index}.json", base_config | {"model_flavour": flavour})
        proc = run([*command, "--config", str(cfg)], cwd=cwd)
        assert proc.returncode == 2, (flavour, proc.stderr)
        # The closest folder comes first; others as close may follow ("... or 'tiny-resnet2'?"
        # when another test of the same worker left a second model beside it).
        assert f"Did you mean {meant}" in proc.stderr, (flavour, proc.stderr)
        assert "Traceback" not in proc.stderr
        assert not Path(base_config["output_dir"]).exists()
        if index == 0:  # the rule that made it a local name is stated
            assert "a name without '/'" in proc.stderr and "'org/name'" in proc.stderr


@pytest.mark.slow
def test_python_main_and_module_entry_points(base_config: dict, tmp_path: Path) -> None:
    cfg = write(tmp_path / "cfg.yaml", base_config)  # JSON is valid YAML
    main = run([sys.executable, "main.py", "--config", str(cfg), "--set", "run_name=main"])
    assert main.returncode == 0, main.stderr
    module = run(
        [sys.executable, "-m", "visionyard.training", "--config", str(cfg), "--set", "run_name=mod"]
    )
    assert module.returncode == 0, module.stderr
    assert (Path(base_config["output_dir"]) / "main" / "model" / "model.safetensors").is_file()
    assert (Path(base_config["output_dir"]) / "mod" / "results.json").is_file()


@pytest.mark.slow
def test_python_main_runs_experiments_from_python(tmp_path: Path) -> None:
    proc = run(
        [sys.executable, "main.py", "--only", "digits-resnet-ce", "--set", "epochs=1"],
        env={"VISIONYARD_DEMO_DIR": str(tmp_path / "demo")},
    )
    assert proc.returncode == 0, proc.stderr
    assert "digits-resnet-ce: succeeded" in proc.stdout
    assert (tmp_path / "demo" / "runs" / "digits-resnet-ce" / "results.json").is_file()
    unknown = run(
        [sys.executable, "main.py", "--only", "nope"],
        env={"VISIONYARD_DEMO_DIR": str(tmp_path / "demo")},
    )
    assert unknown.returncode == 2 and "nope" in unknown.stderr


def _without_pythonpath() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def _bare_python_without_visionyard() -> str:
    """The interpreter the venv was made from: what `python` is in a shell that has not
    activated the venv."""
    base = getattr(sys, "_base_executable", None) or ""
    if not base or sys.prefix == sys.base_prefix:
        pytest.skip("this Python is not a virtual environment's: no bare interpreter to try")
    probe = subprocess.run(
        [base, "-c", "import importlib.util as u; print(u.find_spec('visionyard'))"],
        env=_without_pythonpath(),
        capture_output=True,
        text=True,
    )
    if probe.stdout.strip() != "None":
        pytest.skip(f"{base} has visionyard installed itself")
    return base


def test_python_main_py_without_the_venv_activated(tmp_path: Path) -> None:
    bare = _bare_python_without_visionyard()
    project = tmp_path / "project"
    project.mkdir()
    for name in ("main.py", "experiments.py"):
        (project / name).write_text((REPO / name).read_text())
    env = _without_pythonpath()

    no_venv = subprocess.run(
        [bare, "main.py", "--only", "nope"], cwd=project, env=env, capture_output=True, text=True
    )
    assert no_venv.returncode == 2, no_venv.stderr
    assert "make setup" in no_venv.stderr and "Traceback" not in no_venv.stderr

    (project / ".venv").symlink_to(sys.prefix)  # this test's own virtual environment
    in_venv = subprocess.run(
        [bare, "main.py", "--only", "nope"], cwd=project, env=env, capture_output=True, text=True
    )
    # Ran on: the project's .venv interpreter found experiments.py and the unknown name.
    assert in_venv.returncode == 2, in_venv.stderr
    assert "no experiment named nope in experiments.py" in in_venv.stderr


def test_demo_data_schema_and_validate(tmp_path: Path) -> None:
    proc = run([*VISIONYARD, "demo-data", str(tmp_path / "d"), "--arch", "vit"])
    assert proc.returncode == 0, proc.stderr
    config = tmp_path / "d" / "demo-config.json"
    assert (tmp_path / "d" / "digits" / "train" / "7").is_dir()
    assert (tmp_path / "d" / "tiny-vit" / "config.json").is_file()
    valid = run([*VISIONYARD, "validate", "--config", str(config), "--set", "lr=1e-3"])
    assert valid.returncode == 0 and json.loads(valid.stdout)["lr"] == 1e-3
    schema = run([*VISIONYARD, "schema"])
    assert "model_flavour" in json.loads(schema.stdout)["properties"]


@pytest.mark.slow
def test_sigterm_stops_with_a_checkpoint_and_resume_finishes(
    digits_root: Path, tiny_model, tmp_path: Path
) -> None:
    """The cancel/drain path with a real signal: exit code 3, `last` saved mid-epoch, and the
    same command afterwards completes the run."""
    runs = tmp_path / "runs"
    cfg = write(
        tmp_path / "cfg.json",
        {
            "root": str(digits_root),
            "model_flavour": str(tiny_model("resnet")),
            "epochs": 30,
            "batch_size": 16,
            "num_workers": 0,
            "output_dir": str(runs),
            "run_name": "sig",
            "log_every_steps": 1,
            "progress_bar": False,
            "eval_topk": [1],
        },
    )
    proc = subprocess.Popen(
        [*VISIONYARD, "train", "--config", str(cfg)],
        cwd=REPO,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    events = runs / "sig" / "events.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if events.exists() and '"train_step"' in events.read_text():
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err
    state = json.loads((runs / "sig" / "checkpoints" / "last" / "state.json").read_text())
    assert state["step"] >= 1 and state["epoch"] < 30
    finish = run([*VISIONYARD, "train", "--config", str(cfg), "--set", "epochs=1"])
    # epochs may be lowered below progress already made: the run just finalises
    assert finish.returncode == 0, finish.stderr
    assert (runs / "sig" / "model" / "config.json").is_file()


def test_logging_keeps_applied_migrations_and_drops_alembic_chatter(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every agent, dashboard and `up` start opens the schema; a user should see a migration
    being applied, not alembic's per-connection set-up lines."""
    setup_logging()
    migration = logging.getLogger("alembic.runtime.migration")
    with caplog.at_level(logging.INFO):
        migration.info("Context impl SQLiteImpl.")
        migration.info("Will assume non-transactional DDL.")
        logging.getLogger("alembic.runtime.plugins").info("setup plugin alembic.autogenerate.types")
        migration.info("Running upgrade  -> 0001, initial schema")
        migration.warning("something alembic warns about")
    assert [r.getMessage() for r in caplog.records] == [
        "Running upgrade  -> 0001, initial schema",
        "something alembic warns about",
    ]
