"""S4 at the agent: a run's stored snapshot is checked again before any process starts, and the
trainer gets an argument vector (never a shell string) and an allowlisted environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.agent.platform import Platform
from visionyard.agent.environment import trainer_env
from visionyard.agent.launch import AgentDevices, LaunchRefused, prepare_launch, trainer_argv
from visionyard.training.config import build_config
from visionyard.training.demo import write_tiny_model


@pytest.fixture
def roots(tmp_path: Path, small_dataset: Path) -> dict[str, Path]:
    datasets, models, runs = tmp_path / "datasets", tmp_path / "models", tmp_path / "runs"
    datasets.mkdir()
    small_dataset.rename(datasets / "small")
    write_tiny_model(models / "tiny", arch="resnet")
    runs.mkdir()
    return {"datasets": datasets, "models": models, "runs": runs, "tmp": tmp_path}


def launch(roots: dict[str, Path], snapshot: dict[str, Any], **kw: Any):
    args: dict[str, Any] = {
        "run_id": 7,
        "attempt": 1,
        "run_dir": "7-run",
        "gpu_count": 0,
        "snapshot": snapshot,
        "runs_root": roots["runs"],
        "datasets_root": roots["datasets"],
        "models_root": roots["models"],
        "devices": AgentDevices(),
        "agent_env": {"PATH": "/usr/bin"},
        "supervisor_timeout": 2.0,
        "liveness_dir": roots["tmp"] / "alive",
    }
    args.update(kw)
    return prepare_launch(**args)


def good(roots: dict[str, Path], **overrides: Any) -> dict[str, Any]:
    cfg = {
        "root": str(roots["datasets"] / "small"),
        "model_flavour": str(roots["models"] / "tiny"),
        "epochs": 1,
        "num_workers": 0,
    }
    cfg.update(overrides)
    return cfg


def test_a_good_snapshot_becomes_a_placed_config_and_an_argv(roots: dict[str, Path]) -> None:
    result = launch(roots, good(roots, device="cuda:1", resume="never", run_name="x"))
    cfg = build_config(__import__("json").loads(result.config_path.read_text()))
    assert cfg.output_dir == str(roots["runs"].resolve()) and cfg.run_name == "7-run"
    assert cfg.resume == "auto" and cfg.device == "cpu" and cfg.progress_bar is False
    assert result.run_dir == (roots["runs"] / "7-run").resolve()
    assert result.argv[1:4] == ["-m", "visionyard.training", "--config"]
    assert result.env["CUDA_VISIBLE_DEVICES"] == ""
    assert result.supervisor_file.is_file()
    assert not result.supervisor_file.is_relative_to(roots["runs"])


HOSTILE_MODELS = [
    "../models/tiny",
    "http://evil.example/model",
    "https://huggingface.co/org/model",
    "org/model; rm -rf /",
    "$(touch /tmp/pwned)",
    "`id`",
    "org/model && curl evil",
    "org/model|sh",
    "~root/model",
    "a/b/c",
]


@pytest.mark.parametrize("model", HOSTILE_MODELS)
def test_hostile_model_ids_are_refused_before_any_process(
    roots: dict[str, Path], model: str
) -> None:
    with pytest.raises(LaunchRefused):
        launch(roots, good(roots, model_flavour=model))
    assert not (roots["runs"] / "7-run").exists()  # nothing written, nothing started


def test_model_folders_outside_the_models_root_are_refused(roots: dict[str, Path]) -> None:
    outside = write_tiny_model(roots["tmp"] / "elsewhere" / "tiny", arch="resnet")
    sibling = write_tiny_model(Path(f"{roots['models']}-evil") / "tiny", arch="resnet")
    (roots["models"] / "link").symlink_to(outside)
    for model in (outside, sibling, roots["models"] / "link"):
        with pytest.raises(LaunchRefused, match="VISIONYARD_MODELS_DIR"):
            launch(roots, good(roots, model_flavour=str(model)))


def test_dataset_roots_outside_datasets_dir_are_refused(roots: dict[str, Path]) -> None:
    (roots["tmp"] / "other").mkdir()
    for root in (str(roots["tmp"] / "other"), "../other", str(roots["datasets"]) + "/../other"):
        with pytest.raises(LaunchRefused, match="DATASETS_DIR"):
            launch(roots, good(roots, root=root))
    with pytest.raises(LaunchRefused, match="does not exist"):
        launch(roots, good(roots, root="missing"))


@pytest.mark.parametrize("run_dir", ["../escape", "/etc", "a/b", "..", ".hidden", "x;y", ""])
def test_run_folder_names_that_could_point_elsewhere_are_refused(
    roots: dict[str, Path], run_dir: str
) -> None:
    with pytest.raises(LaunchRefused):
        launch(roots, good(roots), run_dir=run_dir)


def test_trust_remote_code_cannot_be_turned_on_by_input(roots: dict[str, Path]) -> None:
    with pytest.raises(LaunchRefused, match="trust_remote_code"):
        launch(roots, good(roots, trust_remote_code=True))


def test_a_run_needing_more_gpus_than_the_agent_serves_is_refused(roots: dict[str, Path]) -> None:
    with pytest.raises(LaunchRefused, match="needs 2 GPU"):
        launch(roots, good(roots), gpu_count=2, devices=AgentDevices((0,)))


def test_multi_gpu_runs_use_torchrun_on_the_agents_gpus(roots: dict[str, Path]) -> None:
    result = launch(roots, good(roots), gpu_count=2, devices=AgentDevices((2, 3, 5)))
    assert result.nproc == 2 and result.env["CUDA_VISIBLE_DEVICES"] == "2,3"
    assert result.argv[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    assert trainer_argv(Path("c.json"), 1, "py") == [
        "py",
        "-m",
        "visionyard.training",
        "--config",
        "c.json",
    ]


def test_trainer_env_is_an_allowlist(tmp_path: Path) -> None:
    agent_env = {
        "PATH": "/usr/bin",
        "HOME": "/home/u",
        "LC_ALL": "C.UTF-8",
        "NCCL_DEBUG": "INFO",
        "HF_HUB_OFFLINE": "1",
        "DASHBOARD_DB_URL": "postgresql://u:pw@db/vy",
        "VISIONYARD_SECRET_KEY": "s3cret-key",
        "VISIONYARD_AGENT_TOKEN": "vy_agent_token",
        "VISIONYARD_ADMIN_PASSWORD": "admin-pw",
        "AWS_SECRET_ACCESS_KEY": "aws",
        "PGPASSWORD": "pg",
        "HF_TOKEN": "hf_agents_own_token",
    }
    env = trainer_env(agent_env, cuda_visible_devices="1")
    assert env["PATH"] == "/usr/bin" and env["LC_ALL"] == "C.UTF-8" and env["NCCL_DEBUG"] == "INFO"
    assert env["CUDA_VISIBLE_DEVICES"] == "1" and env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    for secret in ("pw@db", "s3cret-key", "vy_agent_token", "admin-pw", "aws", "pg", "hf_agents"):
        assert not any(secret in value for value in env.values()), secret
    assert "HF_TOKEN" not in env
    assert (
        trainer_env(agent_env, cuda_visible_devices="", hf_token="hf_run")["HF_TOKEN"] == "hf_run"
    )


@pytest.mark.slow
def test_a_hostile_snapshot_fails_at_once_without_any_trainer(sqlite_platform: Platform) -> None:
    """Through a real agent: the run fails with the reason, no folder or process is created."""
    p = sqlite_platform
    bad = p.enqueue(p.config(model_flavour="org/model;touch${IFS}/tmp/pwned"), name="bad")
    outside = p.enqueue(p.config(root="/etc"), name="outside")
    good_run = p.enqueue(p.config(), name="good")
    p.start_agent("a")
    assert p.wait_state(good_run, "succeeded", "failed").state.value == "succeeded"
    for run_id, needle in ((bad, "metacharacters"), (outside, "DATASETS_DIR")):
        run = p.run(run_id)
        assert run.state.value == "failed" and needle in run.error, run.error
        assert run.attempt == 1 and run.restarts == 0
        assert not (p.runs / f"{run_id}-{run.name}").exists()
    assert not Path("/tmp/pwned").exists()


@pytest.mark.slow
def test_storage_trouble_is_a_crash_not_an_agent_failure(sqlite_platform: Platform) -> None:
    """A run folder that cannot be created fails over as a crash (retryable elsewhere); the
    agent itself keeps serving."""
    p = sqlite_platform
    blocked = p.enqueue(p.config(), name="blocked", max_restarts=0)
    (p.runs / f"{blocked}-blocked").write_text("a file where the run folder should be")
    after = p.enqueue(p.config(), name="after")
    agent = p.start_agent("a")
    assert p.wait_state(after, "succeeded", "failed").state.value == "succeeded"
    run = p.run(blocked)
    assert run.state.value == "failed" and "could not prepare the run" in run.error, run.error
    assert "restart budget used up" in run.error
    assert agent.poll() is None
