"""A run's position and its checkpoints: what a checkpoint holds beside the weights, and how a
run continues from one exactly where it stopped (bit-identical to a run that never stopped).

Every save writes ``last`` (the full state at the current position) and copies it to the other
names asked for (``best``, ``epoch_NNN``). The format on disk is ``checkpoint.py``'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from visionyard.errors import CheckpointError
from visionyard.training.checkpoint import (
    copy_checkpoint,
    find_resumable,
    load_checkpoint,
    save_checkpoint,
)
from visionyard.training.engine import TrainLoop
from visionyard.training.export import unwrap_model
from visionyard.training.loaders import DataPipeline
from visionyard.training.optim import WarmupSchedule
from visionyard.training.repro import capture_rng_state, restore_rng_state
from visionyard.training.setup import RunSetup
from visionyard.training.tracking import Tracker


@dataclass
class Progress:
    """Where training stands; saved in every checkpoint's state.json."""

    epoch: int = 0  # epoch in progress (0-based)
    batches_done: int = 0  # micro-batches of `epoch` already trained
    best: float | None = None
    best_epoch: int | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


def save_run_checkpoint(
    setup: RunSetup,
    tracker: Tracker,
    loop: TrainLoop,
    data: DataPipeline,
    progress: Progress,
    names: list[str],
) -> None:
    """Save ``last`` at the current position, then copy it to ``names``. Rank 0 only."""
    ckpt_dir = setup.paths.ckpt_dir
    training_state, state = _checkpoint_payload(setup, loop, data, progress)
    path = save_checkpoint(
        ckpt_dir,
        "last",
        model=unwrap_model(loop.model),
        training_state=training_state,
        state=state,
    )
    tracker.checkpoint("last", path, progress.epoch, loop.step, None)
    for name in names:
        copied = copy_checkpoint(ckpt_dir, "last", name)
        metric = progress.best if name == "best" else None
        tracker.checkpoint(name, copied, progress.epoch, loop.step, metric)


def _checkpoint_payload(
    setup: RunSetup, loop: TrainLoop, data: DataPipeline, progress: Progress
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(tensor state, JSON state) of everything a resume needs beside the weights."""
    rng_json, rng_tensors = capture_rng_state()
    training_state: dict[str, Any] = {
        "optimizer": loop.optimizer.state_dict(),
        "scheduler": loop.scheduler.state_dict(),
        "rng": rng_tensors,
        "device_aug": data.preprocess_state(),
    }
    if loop.scaler is not None:
        training_state["scaler"] = loop.scaler.state_dict()
    state = {
        "epoch": progress.epoch,
        "batches_done": progress.batches_done,
        "step": loop.step,
        "best": progress.best,
        "best_epoch": progress.best_epoch,
        "monitor": setup.cfg.monitor_metric,
        "history": progress.history,
        "rng": rng_json,
        "config_hash": setup.config_hash,
        "world_size": setup.ctx.world_size,
    }
    return training_state, state


def choose_checkpoint(setup: RunSetup) -> tuple[Path | None, list[tuple[Path, str]]]:
    """The checkpoint to continue from (None: start afresh), and the invalid ones passed over.

    ``resume`` names one, or (``auto`` on a folder holding an earlier start) rank 0 picks the
    newest valid one. Every rank gets rank 0's choice; the skipped list is rank 0's alone.
    """
    cfg, ctx = setup.cfg, setup.ctx
    if cfg.resume not in ("auto", "never"):
        return Path(cfg.resume).expanduser(), []
    if not setup.resuming:
        return None, []
    path: Path | None = None
    skipped: list[tuple[Path, str]] = []
    if ctx.is_main:
        path, skipped = find_resumable(setup.paths.ckpt_dir)
    # Rank 0 chose (and hashed) it once; every rank resumes from that same checkpoint.
    return ctx.broadcast_object(path), skipped


def restore_checkpoint(
    path: Path,
    setup: RunSetup,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LambdaLR,
    scaler: torch.amp.GradScaler | None,
    data: DataPipeline,
    total_steps: int,
) -> tuple[int, Progress]:
    """Load ``path`` into the bare model and the training state; returns (step, progress).

    Takes the loop's parts rather than the loop: an error raised here must not keep the DDP
    wrapper alive (the traceback holds this frame) past the process group's shutdown.
    """
    ckpt = load_checkpoint(path, model=model, map_location=setup.device)
    ts, st = ckpt.training_state, ckpt.state
    saved_world = int(st.get("world_size", 1))
    world = setup.ctx.world_size
    if saved_world != world:
        raise CheckpointError(
            f"checkpoint {path} was written by a run of {saved_world} process(es) but this "
            f"launch has {world}; relaunch with --nproc_per_node={saved_world} "
            "(the global batch, the step count and the position in the epoch depend on it), "
            "or start a new run (another run_name)"
        )
    try:
        optimizer.load_state_dict(ts["optimizer"])
        scheduler.load_state_dict(ts["scheduler"])
        # `epochs` may have been extended for this resume: stretch the schedule to the new end.
        schedule = scheduler.lr_lambdas[0]
        assert isinstance(schedule, WarmupSchedule)  # what build_scheduler puts there
        schedule.total_steps = total_steps
        if scaler is not None and "scaler" in ts:
            scaler.load_state_dict(ts["scaler"])
        data.load_preprocess_state(ts.get("device_aug"))
        restore_rng_state(st["rng"], ts["rng"])
    except (KeyError, ValueError, RuntimeError) as exc:
        raise CheckpointError(
            f"checkpoint {path} does not fit this model/optimizer ({exc}); "
            "start a new run (another run_name) or fix resume"
        ) from None
    progress = Progress(
        epoch=int(st["epoch"]),
        batches_done=int(st["batches_done"]),
        best=st.get("best"),
        best_epoch=st.get("best_epoch"),
        history=list(st.get("history", [])),
    )
    return int(st["step"]), progress
