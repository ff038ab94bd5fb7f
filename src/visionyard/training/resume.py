"""A run's position and its checkpoints: what a checkpoint holds beside the weights, and how a
run continues from one exactly where it stopped (bit-identical to a run that never stopped).

Every save writes ``last`` (the full state at the current position) and copies it to the other
names asked for (``best``, ``epoch_NNN``). The format on disk is ``checkpoint.py``'s.

A mid-epoch checkpoint also holds the epoch's running train sums (loss sum, correct count,
sample count), one slot per rank under ``training_state["train_epoch_sums"]``: the resumed epoch
adds to them and reports the same train means as a run that never stopped. A mid-epoch
checkpoint written before these sums were saved still resumes; that one epoch then reports no
train means (``"train": {}``: half an epoch's mean would mislead), as every resumed epoch did
before, and the run says so in its log.
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
from visionyard.training.distributed import DistContext
from visionyard.training.engine import EpochStats, TrainLoop
from visionyard.training.export import unwrap_model
from visionyard.training.loaders import DataPipeline
from visionyard.training.optim import WarmupSchedule
from visionyard.training.repro import capture_rng_state, restore_rng_state
from visionyard.training.setup import RunSetup
from visionyard.training.tracking import Tracker

#: training_state key of the interrupted epoch's running train sums (absent at an epoch boundary)
EPOCH_SUMS_KEY = "train_epoch_sums"


@dataclass
class Progress:
    """Where training stands; saved in every checkpoint's state.json."""

    epoch: int = 0  # epoch in progress (0-based)
    batches_done: int = 0  # micro-batches of `epoch` already trained
    best: float | None = None
    best_epoch: int | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


def gather_epoch_sums(stats: EpochStats, ctx: DistContext) -> dict[str, torch.Tensor]:
    """Every rank's running train sums, slot `rank` holding that rank's, on the CPU. A
    collective: every rank calls it. Each rank fills only its own slot and the others' are
    zeros, so the sum over ranks copies every value exactly."""
    device = stats.loss_sum.device
    slots = {
        "loss_sum": (stats.loss_sum, stats.loss_sum.dtype),
        "correct": (stats.correct, stats.correct.dtype),
        "samples": (torch.tensor(stats.samples, device=device), torch.long),
    }
    gathered = {}
    for name, (value, dtype) in slots.items():
        slot = torch.zeros(ctx.world_size, dtype=dtype, device=device)
        slot[ctx.rank] = value
        gathered[name] = ctx.all_reduce_sum(slot).cpu()
    return gathered


def save_run_checkpoint(
    setup: RunSetup,
    tracker: Tracker,
    loop: TrainLoop,
    data: DataPipeline,
    progress: Progress,
    names: list[str],
    *,
    epoch_sums: dict[str, torch.Tensor] | None = None,
) -> None:
    """Save ``last`` at the current position, then copy it to ``names``. Rank 0 only.
    `epoch_sums` (from `gather_epoch_sums`) are the running train sums of a mid-epoch save."""
    ckpt_dir = setup.paths.ckpt_dir
    training_state, state = _checkpoint_payload(setup, loop, data, progress)
    if epoch_sums is not None:
        training_state[EPOCH_SUMS_KEY] = epoch_sums
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
) -> tuple[int, Progress, EpochStats | None]:
    """Load ``path`` into the bare model and the training state; returns (step, progress, this
    rank's running train sums of the interrupted epoch). The sums are None at an epoch boundary,
    and for a mid-epoch checkpoint written before they were saved (see the module docstring).

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
        carried = _carried_sums(ts, setup, batches_done=int(st["batches_done"]))
    except (KeyError, ValueError, RuntimeError, IndexError) as exc:
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
    return int(st["step"]), progress, carried


def _carried_sums(ts: dict[str, Any], setup: RunSetup, *, batches_done: int) -> EpochStats | None:
    """This rank's slot of the saved running train sums, on its device."""
    sums = ts.get(EPOCH_SUMS_KEY)
    if batches_done == 0 or sums is None:
        return None
    rank, device = setup.ctx.rank, setup.device
    return EpochStats(
        loss_sum=sums["loss_sum"][rank].to(device),
        correct=sums["correct"][rank].to(device),
        samples=int(sums["samples"][rank]),
        batches_done=batches_done,
    )
