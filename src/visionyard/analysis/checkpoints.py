"""Which checkpoints a run folder holds and where they are, without torch.

A run's checkpoints live in ``<run>/checkpoints/`` unless its config set ``ckpt_dir`` (then
``<ckpt_dir>/<run_name>``). Their names are ``best``, ``last`` and ``epoch_NNN``; a user may
write ``epoch_3`` for ``epoch_003``. The model's architecture (Hugging Face config and image
processor) is saved once per run in ``<run>/architecture/``; runs from before that folder existed
fall back to the exported model folder ``<run>/model/``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from visionyard.errors import CheckpointError, NotFoundError
from visionyard.training.checkpoint_files import (
    WEIGHTS_FILE,
    check_files,
    read_state_json,
)

ARCHITECTURE_DIR = "architecture"
_EPOCH_RE = re.compile(r"^epoch_(\d{1,6})$")
_FIXED_NAMES = ("best", "last")


@dataclass(frozen=True)
class CheckpointInfo:
    name: str  # "best", "last" or "epoch_NNN"
    path: Path
    epoch: int | None  # epochs completed when it was saved
    step: int
    saved_at: str | None


def _run_config(run_dir: Path) -> dict[str, Any]:
    try:
        config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return config if isinstance(config, dict) else {}


def checkpoints_root(run_dir: Path) -> Path:
    config = _run_config(run_dir)
    ckpt_dir, run_name = config.get("ckpt_dir"), config.get("run_name")
    if isinstance(ckpt_dir, str) and ckpt_dir and isinstance(run_name, str) and run_name:
        return Path(ckpt_dir).expanduser() / run_name
    return run_dir / "checkpoints"


def canonical_name(name: str) -> str:
    """``best``/``last``/``epoch_NNN`` from what a user typed (``epoch_3`` -> ``epoch_003``)."""
    cleaned = name.strip().lower()
    if cleaned in _FIXED_NAMES:
        return cleaned
    match = _EPOCH_RE.match(cleaned)
    if match:
        return f"epoch_{int(match.group(1)):03d}"
    raise CheckpointError(
        f"unknown checkpoint {name!r}: use best, last or epoch_N (for example epoch_3)"
    )


def _info(name: str, path: Path) -> CheckpointInfo | None:
    if check_files(path, hashes=False) is not None:
        return None
    state, _ = read_state_json(path)
    if state is None:
        return None
    epoch, saved_at = state.get("epoch"), state.get("saved_at")
    return CheckpointInfo(
        name=name,
        path=path,
        epoch=epoch if isinstance(epoch, int) and not isinstance(epoch, bool) else None,
        step=state["step"],
        saved_at=saved_at if isinstance(saved_at, str) else None,
    )


def list_checkpoints(run_dir: Path) -> list[CheckpointInfo]:
    """The run's complete checkpoints (structure checked, hashes not): best, last, then epochs."""
    root = checkpoints_root(Path(run_dir))
    if not root.is_dir():
        return []
    found: list[CheckpointInfo] = []
    epochs: list[CheckpointInfo] = []
    for entry in sorted(root.iterdir()):
        if not entry.is_dir() or entry.is_symlink():
            continue
        if entry.name in _FIXED_NAMES or _EPOCH_RE.match(entry.name):
            info = _info(entry.name, entry)
            if info is not None:
                (found if entry.name in _FIXED_NAMES else epochs).append(info)
    found.sort(key=lambda info: _FIXED_NAMES.index(info.name))
    return found + epochs


def locate_checkpoint(run_dir: Path, name: str) -> Path:
    """The folder of the run's checkpoint `name`, checked to exist (not validated)."""
    canonical = canonical_name(name)
    path = checkpoints_root(Path(run_dir)) / canonical
    if not path.is_dir() or path.is_symlink():
        available = ", ".join(info.name for info in list_checkpoints(run_dir)) or "none"
        raise NotFoundError(
            f"the run has no checkpoint {canonical!r} (available: {available}); pick one of "
            "those, or keep per-epoch checkpoints with save_per_epoch_checkpoint=true"
        )
    return path


def resolve_checkpoint(run_dir: Path, name: str) -> CheckpointInfo:
    """The checkpoint `name` of the run, fully validated (every file's hash included)."""
    path = locate_checkpoint(run_dir, name)
    reason = check_files(path, hashes=True)
    if reason is not None:
        raise CheckpointError(f"checkpoint {path.name!r} cannot be used: {reason}")
    info = _info(path.name, path)
    if info is None or not (path / WEIGHTS_FILE).is_file():
        raise CheckpointError(f"checkpoint {path.name!r} has unreadable metadata")
    return info


def architecture_dir(run_dir: Path) -> Path:
    """The folder holding the run's Hugging Face model config and image processor."""
    run_dir = Path(run_dir)
    for candidate in (run_dir / ARCHITECTURE_DIR, run_dir / "model"):
        if (candidate / "config.json").is_file():
            return candidate
    raise NotFoundError(
        f"{run_dir} records no model architecture (no {ARCHITECTURE_DIR}/config.json or "
        "model/config.json): the run was made by an older Visionyard before it finished; "
        "resume it to the end to export its model"
    )
