"""From a claimed run to a trainer command line: everything is checked before any process starts.

The run's config snapshot was validated when it was saved, but the agent trusts nothing it reads
from the database (S4): the snapshot could predate a rule, or have been written by another tool.
So the agent re-checks the run folder name, the dataset root (inside DATASETS_DIR), the model
source (a Hub id, or a folder inside the models root; no URLs, no `..`, no shell metacharacters)
and then builds an argument vector (never a shell string) and an allowlisted environment.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from visionyard.agent.environment import trainer_env
from visionyard.errors import ConfigError, ModelLoadError, VisionyardError
from visionyard.modelsource import resolve_model_source
from visionyard.paths import SHELL_METACHARACTERS, resolve_under
from visionyard.training.config import TrainConfig, build_config
from visionyard.training.fsutil import atomic_write_json
from visionyard.training.watchdog import SUPERVISOR_FILE_ENV, SUPERVISOR_TIMEOUT_ENV

#: agent-owned files inside the run folder (configs it handed over, liveness, raw output)
AGENT_SUBDIR = "agent"
_FOLDER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


class LaunchRefused(VisionyardError):
    """The run cannot be started as stored (bad config, path outside its root): a permanent
    failure, reported before any subprocess exists."""


@dataclass(frozen=True)
class AgentDevices:
    """What an agent serves: the CPU, or these physical GPU indices."""

    gpu_indices: tuple[int, ...] = ()

    @property
    def is_cpu(self) -> bool:
        return not self.gpu_indices

    @property
    def capacity(self) -> int:
        """How many GPUs a run claimed by this agent may ask for."""
        return len(self.gpu_indices)

    def describe(self) -> str:
        return "cpu" if self.is_cpu else "cuda:" + ",".join(map(str, self.gpu_indices))


@dataclass(frozen=True)
class Launch:
    run_id: int
    attempt: int
    run_dir: Path
    config_path: Path
    supervisor_file: Path
    output_path: Path
    argv: list[str]
    env: dict[str, str]
    nproc: int
    #: values that must never appear in stored logs (redacted from the trainer's output)
    secrets: tuple[str, ...] = field(default=(), repr=False)


def run_folder(runs_root: Path, run_id: int, run_dir: str | None) -> Path:
    """The run's folder under the runs root; refuses names that could point elsewhere."""
    name = run_dir if run_dir is not None else f"{run_id}-run"
    if not _FOLDER_NAME.fullmatch(name) or ".." in name:
        raise LaunchRefused(
            f"run {run_id}: its folder name {name[:80]!r} is not a plain folder name (letters, "
            "digits, '.', '_', '-'); re-queue the run from the dashboard"
        )
    return resolve_under(name, runs_root, what="run folder", env_name="VISIONYARD_RUNS_DIR")


def check_model_source(model_flavour: str, models_root: Path) -> str:
    """A Hub id, or a save_pretrained folder inside the models root (S4)."""
    if SHELL_METACHARACTERS.search(model_flavour):
        raise LaunchRefused(
            f"model_flavour {model_flavour[:200]!r} contains shell or URL metacharacters; use a "
            "Hugging Face id or a plain folder path"
        )
    try:
        source = resolve_model_source(model_flavour)
    except ModelLoadError as exc:
        raise LaunchRefused(str(exc)) from None
    if Path(source).is_absolute():
        resolve_under(source, models_root, what="model folder", env_name="VISIONYARD_MODELS_DIR")
    return source


def trainer_config(
    snapshot: Mapping[str, Any],
    *,
    runs_root: Path,
    datasets_root: Path,
    models_root: Path,
    folder: Path,
    devices: AgentDevices,
) -> TrainConfig:
    """The snapshot with placement and device decided by the agent."""
    try:
        cfg = build_config(dict(snapshot))
    except ConfigError as exc:
        raise LaunchRefused(f"the run's config is invalid: {exc}") from None
    root = resolve_under(cfg.root, datasets_root, what="dataset root", env_name="DATASETS_DIR")
    if not root.is_dir():
        raise LaunchRefused(
            f"dataset root {root} does not exist (was the dataset deleted, or is DATASETS_DIR "
            "not shared with this agent's machine?)"
        )
    source = check_model_source(cfg.model_flavour, models_root)
    # CUDA_VISIBLE_DEVICES renumbers the agent's GPUs from 0; "auto" picks each rank's own.
    device = "cpu" if devices.is_cpu or cfg.device == "cpu" else "auto"
    return cfg.model_copy(
        update={
            "root": str(root),
            "model_flavour": source,
            "output_dir": str(runs_root),
            "run_name": folder.name,
            "tb_root": None,
            "ckpt_dir": None,
            # A retried or drained run must continue from its newest valid checkpoint.
            "resume": "auto",
            "progress_bar": False,
            "device": device,
        }
    )


def trainer_argv(config_path: Path, nproc: int, python: str = sys.executable) -> list[str]:
    """One process, or torchrun with one process per GPU (DDP)."""
    train = ["-m", "visionyard.training", "--config", str(config_path)]
    if nproc == 1:
        return [python, *train]
    return [
        python,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        *train,
    ]


def prepare_launch(
    *,
    run_id: int,
    attempt: int,
    run_dir: str | None,
    gpu_count: int,
    snapshot: Mapping[str, Any],
    runs_root: Path,
    datasets_root: Path,
    models_root: Path,
    devices: AgentDevices,
    agent_env: Mapping[str, str],
    supervisor_timeout: float,
    liveness_dir: Path,
    stop_grace_seconds: float = 30.0,
    hf_token: str | None = None,
    python: str = sys.executable,
) -> Launch:
    """Check the run and write its trainer config; raises LaunchRefused (permanent) if it
    cannot run as stored. Nothing is started here."""
    if gpu_count > devices.capacity:
        raise LaunchRefused(
            f"run {run_id} needs {gpu_count} GPU(s) but this agent serves {devices.describe()}"
        )
    try:
        folder = run_folder(runs_root, run_id, run_dir)
        cfg = trainer_config(
            snapshot,
            runs_root=runs_root,
            datasets_root=datasets_root,
            models_root=models_root,
            folder=folder,
            devices=devices,
        )
    except LaunchRefused:
        raise
    except VisionyardError as exc:  # a path outside its root, an unresolvable path
        raise LaunchRefused(str(exc)) from None
    agent_dir = folder / AGENT_SUBDIR
    agent_dir.mkdir(parents=True, exist_ok=True)
    config_path = agent_dir / f"attempt-{attempt}.config.json"
    atomic_write_json(config_path, cfg.model_dump(mode="json"))
    # On local disk, not the shared runs folder: the trainer compares its mtime with this
    # host's clock, and a network file system stamps it with the server's.
    liveness_dir.mkdir(parents=True, exist_ok=True)
    supervisor_file = liveness_dir / f"run-{run_id}-attempt-{attempt}.alive"
    supervisor_file.touch()
    nproc = max(1, gpu_count)
    visible = ",".join(map(str, devices.gpu_indices[:nproc])) if not devices.is_cpu else ""
    env = trainer_env(
        agent_env,
        cuda_visible_devices=visible,
        hf_token=hf_token,
        extra={
            SUPERVISOR_FILE_ENV: str(supervisor_file),
            SUPERVISOR_TIMEOUT_ENV: f"{supervisor_timeout:g}",
            # torchrun forwards a stop to its workers, then SIGKILLs them after this many
            # seconds (default 30): give them the agent's whole grace period to checkpoint.
            "TORCH_ELASTIC_SHUTDOWN_TIMEOUT": str(max(1, int(stop_grace_seconds))),
        },
    )
    secrets: Sequence[str] = (hf_token,) if hf_token else ()
    return Launch(
        run_id=run_id,
        attempt=attempt,
        run_dir=folder,
        config_path=config_path,
        supervisor_file=supervisor_file,
        output_path=agent_dir / f"attempt-{attempt}.log",
        argv=trainer_argv(config_path, nproc, python),
        env=env,
        nproc=nproc,
        secrets=tuple(secrets),
    )
