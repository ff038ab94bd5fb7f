"""The run directory contract and the resume policy that guards it (docs/architecture.md,
"The run folder contract")."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from visionyard.errors import RunStateError
from visionyard.training.config import TrainConfig

# Fields that may change between a run and its resumption: they change how the run executes,
# not what it computes (or, for `epochs`, extend it).
RESUMABLE_CHANGES = frozenset(
    {
        "epochs",
        "resume",
        "progress_bar",
        "num_workers",
        "prefetch_factor",
        "persistent_workers",
        "pin_memory",
        "log_every_steps",
        "device",
        "eval_test",
        "export_model",
        "eval_report",
        "checkpoint_every_steps",
        "save_per_epoch_checkpoint",
        "cache_images",
        "image_check",
        "compile",
        "channels_last",
        # filled in from the dataset on the first start
        "class_labels",
        "label2id",
        "id2label",
        "run_name",
    }
)


@dataclass(frozen=True)
class RunPaths:
    run_dir: Path
    tb_dir: Path
    ckpt_dir: Path

    @property
    def model_dir(self) -> Path:
        return self.run_dir / "model"

    @property
    def config_json(self) -> Path:
        return self.run_dir / "config.json"

    @property
    def env_json(self) -> Path:
        return self.run_dir / "env.json"

    @property
    def dataset_json(self) -> Path:
        return self.run_dir / "dataset.json"

    @property
    def events(self) -> Path:
        return self.run_dir / "events.jsonl"

    @property
    def results_json(self) -> Path:
        return self.run_dir / "results.json"

    def create(self) -> None:
        for path in (self.run_dir, self.tb_dir, self.ckpt_dir):
            path.mkdir(parents=True, exist_ok=True)


def default_run_name(cfg: TrainConfig) -> str:
    base = Path(cfg.model_flavour.rstrip("/")).name or "model"
    base = "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in base).strip("-.") or "model"
    suffix = f"-{cfg.model_suffix}" if cfg.model_suffix else ""
    return f"{base}{suffix}-{time.strftime('%Y%m%d-%H%M%S')}"


def run_paths(cfg: TrainConfig, run_name: str) -> RunPaths:
    run_dir = Path(cfg.output_dir).expanduser() / run_name
    tb_dir = Path(cfg.tb_root).expanduser() / run_name if cfg.tb_root else run_dir / "tb"
    ckpt_dir = (
        Path(cfg.ckpt_dir).expanduser() / run_name if cfg.ckpt_dir else run_dir / "checkpoints"
    )
    return RunPaths(run_dir=run_dir, tb_dir=tb_dir, ckpt_dir=ckpt_dir)


def config_differences(stored: dict[str, Any], current: dict[str, Any]) -> list[str]:
    keys = (set(stored) | set(current)) - RESUMABLE_CHANGES
    return sorted(k for k in keys if stored.get(k) != current.get(k))


def check_resume_policy(cfg: TrainConfig, paths: RunPaths) -> bool:
    """Decide, before anything is written, whether this start continues an existing run.

    Returns True when the run folder already holds this run (resume), False for a fresh run.
    """
    exists = paths.config_json.is_file()
    if not exists:
        if paths.run_dir.is_dir() and any(paths.run_dir.iterdir()) and cfg.resume == "never":
            raise RunStateError(
                f"run folder {paths.run_dir} exists and is not empty; choose another run_name"
            )
        return False
    if cfg.resume == "never":
        raise RunStateError(
            f"run folder {paths.run_dir} already holds a run; choose another run_name, or set "
            "resume=auto to continue it"
        )
    try:
        stored = json.loads(paths.config_json.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RunStateError(
            f"cannot read {paths.config_json} ({exc}); choose another run_name or delete the folder"
        ) from None
    diff = config_differences(stored, cfg.model_dump(mode="json"))
    if diff:
        shown = ", ".join(f"{k}: {stored.get(k)!r} -> {getattr(cfg, k, None)!r}" for k in diff[:8])
        raise RunStateError(
            f"run folder {paths.run_dir} holds a run with a different config ({shown}); choose "
            "another run_name to start a new run, or restore those values to continue it"
        )
    return True
