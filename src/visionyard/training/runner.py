"""Run one TrainConfig end to end: validate, build, train, checkpoint, evaluate, export.

Everything that can fail because of user input (config, dataset, model) is checked before the run
folder is created, so a bad start writes nothing.

Under torchrun every rank runs this same code (see ``distributed.py``): ``batch_size`` is per
process, every rank trains and evaluates its shard, and only rank 0 writes the run folder. Every
decision that ends in a collective (stop, resume point) is made identically on all ranks.
"""

from __future__ import annotations

import functools
import logging
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from visionyard.errors import CheckpointError, ConfigError
from visionyard.training.checkpoint import (
    copy_checkpoint,
    find_resumable,
    load_checkpoint,
    save_checkpoint,
)
from visionyard.training.config import TrainConfig
from visionyard.training.control import StopSignal
from visionyard.training.data import DatasetIndex, scan_dataset
from visionyard.training.distributed import DistContext, resolve_device
from visionyard.training.engine import (
    BatchMixer,
    EpochStats,
    StepInfo,
    TrainLoop,
    resolve_amp_dtype,
)
from visionyard.training.export import export_hf_model, unwrap_model
from visionyard.training.fsutil import atomic_write_json
from visionyard.training.losses import as_float_weights, build_loss
from visionyard.training.metrics import (
    ClassificationMetrics,
    EvalResult,
    is_improvement,
    scalar_metric_names,
    skipped_topk,
)
from visionyard.training.modeling import build_model, count_parameters
from visionyard.training.optim import build_optimizer, build_scheduler
from visionyard.training.pipeline import DataPipeline, build_pipeline
from visionyard.training.repro import (
    capture_rng_state,
    config_hash,
    environment_info,
    restore_rng_state,
    seed_everything,
)
from visionyard.training.rundir import RunPaths, check_resume_policy, default_run_name, run_paths
from visionyard.training.tracking import Tracker

log = logging.getLogger("visionyard.train")


@dataclass
class RunResult:
    run_dir: Path
    status: str  # "succeeded" or "stopped" (a stop request; resumable)
    epochs_completed: int
    step: int
    best_metric: float | None = None
    best_epoch: int | None = None
    val: dict[str, float] = field(default_factory=dict)
    test: dict[str, float] | None = None


@dataclass
class Progress:
    """Where training stands; saved in every checkpoint's state.json."""

    epoch: int = 0  # epoch in progress (0-based)
    batches_done: int = 0  # micro-batches of `epoch` already trained
    best: float | None = None
    best_epoch: int | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


def _stop_agreed(ctx: DistContext, stop: StopSignal, device: torch.device) -> bool:
    """Whether any rank was asked to stop. A plain function of its parts rather than a closure
    over the Run: a closure would make a reference cycle (Run -> loop -> closure -> Run) that
    keeps the DDP wrapper, and with it the process group, alive until interpreter shutdown."""
    return ctx.any_flag(stop.is_set(), device)


def _validate_against_dataset(cfg: TrainConfig, index: DatasetIndex) -> list[int]:
    num_classes = len(index.classes)
    if num_classes < 2:
        raise ConfigError(
            f"the dataset at {cfg.root} has {num_classes} class; classification needs at least 2"
        )
    names = scalar_metric_names(num_classes, cfg.eval_topk)
    if cfg.monitor_metric not in names:
        raise ConfigError(
            f"monitor_metric {cfg.monitor_metric!r} is not computed for this dataset "
            f"({num_classes} classes, eval_topk={cfg.eval_topk}); choose one of {', '.join(names)}"
        )
    if isinstance(cfg.class_weights, list) and len(cfg.class_weights) != num_classes:
        raise ConfigError(
            f"class_weights has {len(cfg.class_weights)} values but the dataset has "
            f"{num_classes} classes ({', '.join(index.classes[:10])}…); give one per class"
        )
    return skipped_topk(num_classes, cfg.eval_topk)


def _resolved_config(cfg: TrainConfig, run_name: str, index: DatasetIndex) -> TrainConfig:
    return cfg.model_copy(
        update={
            "run_name": run_name,
            "class_labels": list(index.classes),
            "label2id": dict(index.label2id),
            "id2label": dict(index.id2label),
        }
    )


class Run:
    """State shared by the phases of one training run."""

    def __init__(self, cfg: TrainConfig, *, stop: StopSignal | None = None) -> None:
        self.ctx = DistContext.from_env()
        self.stop = stop or StopSignal()
        self.device = resolve_device(cfg.device, self.ctx)
        seed_everything(cfg.seed, deterministic=cfg.deterministic)
        # --- everything that can reject the input, before any file is written ---
        self.index = scan_dataset(
            cfg.root,
            image_check=cfg.image_check,
            skip_corrupt=cfg.skip_corrupt_images,
            max_per_class=cfg.max_datapoints_per_class,
            seed=cfg.seed,
            expected_classes=cfg.expected_classes,
        )
        self.skipped_topk = _validate_against_dataset(cfg, self.index)
        self.classes = list(self.index.classes)
        self.model, self.processor = build_model(
            cfg.model_flavour,
            class_names=self.classes,
            load_pretrained=cfg.load_pretrained,
            freeze_backbone=cfg.freeze_backbone,
        )
        self.ctx.init_process_group(self.device)
        try:
            # One run name for all ranks: a generated one holds a timestamp.
            run_name = self.ctx.broadcast_object(cfg.run_name or default_run_name(cfg))
            self.paths: RunPaths = run_paths(cfg, run_name)
            self.resuming = check_resume_policy(cfg, self.paths)
            # Every rank has read the folder's state before rank 0 starts writing into it.
            self.ctx.barrier()
            self.cfg = _resolved_config(cfg, run_name, self.index)
            self.amp_dtype = resolve_amp_dtype(self.cfg.autocast_dtype, self.device)
        except BaseException:
            self.ctx.shutdown()
            raise

    # ---- set-up ------------------------------------------------------------------------------
    def write_metadata(self) -> None:
        if not self.ctx.is_main:
            return
        self.paths.create()
        config = self.cfg.model_dump(mode="json")
        atomic_write_json(self.paths.config_json, config)
        atomic_write_json(
            self.paths.env_json,
            environment_info(seed=self.cfg.seed, devices=[str(self.device)])
            | {"config_hash": config_hash(config), "world_size": self.ctx.world_size},
        )
        atomic_write_json(self.paths.dataset_json, self.index.fingerprint())

    def build(self) -> None:
        cfg = self.cfg
        self.tracker = Tracker(
            self.paths.run_dir,
            tb_dir=self.paths.tb_dir,
            enabled=self.ctx.is_main,
            class_names=self.classes,
        )
        self.data: DataPipeline = build_pipeline(
            cfg, self.index, self.processor, device=self.device, ctx=self.ctx
        )
        model = self.model.to(self.device)
        if cfg.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.base_model = model
        if cfg.compile:
            model = torch.compile(model)
        if self.ctx.is_distributed:
            model = DistributedDataParallel(
                model, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        weights = None
        if cfg.class_weights == "balanced":
            weights = self.data.balanced_class_weights()
        elif isinstance(cfg.class_weights, list):
            weights = as_float_weights(cfg.class_weights, len(self.classes))
        loss_fn = build_loss(
            cfg.loss_name,
            class_weights=weights,
            label_smoothing=cfg.label_smoothing,
            focal_gamma=cfg.focal_gamma,
        ).to(self.device)
        optimizer = build_optimizer(
            self.base_model,
            name=cfg.optimizer,
            lr=cfg.lr,
            weight_decay=cfg.weight_decay,
            momentum=cfg.momentum,
        )
        self.steps_per_epoch = math.ceil(self.data.train_batches / cfg.grad_accum_steps)
        scheduler = build_scheduler(
            optimizer,
            name=cfg.scheduler,
            total_steps=self.steps_per_epoch * cfg.epochs,
            warmup_ratio=cfg.warmup_ratio,
            min_lr_ratio=cfg.min_lr_ratio,
        )
        use_scaler = self.amp_dtype is torch.float16
        mixer = None
        if cfg.mixup_alpha > 0 or cfg.cutmix_alpha > 0:
            mixer = BatchMixer(
                num_classes=len(self.classes),
                mixup_alpha=cfg.mixup_alpha,
                cutmix_alpha=cfg.cutmix_alpha,
            )
        self.loop = TrainLoop(
            model=model,
            optimizer=optimizer,
            scheduler=scheduler,
            loss_fn=loss_fn,
            device=self.device,
            amp_dtype=self.amp_dtype,
            scaler=torch.amp.GradScaler(self.device.type) if use_scaler else None,
            grad_accum_steps=cfg.grad_accum_steps,
            max_grad_norm=cfg.max_grad_norm,
            mixer=mixer,
            stop_requested=functools.partial(_stop_agreed, self.ctx, self.stop, self.device),
        )
        self.metrics = ClassificationMetrics(
            len(self.classes), self.classes, topk=cfg.eval_topk, device=self.device
        )
        self.progress = Progress()

    # ---- checkpoints -----------------------------------------------------------------------------
    def _checkpoint_payload(self) -> tuple[dict, dict]:
        rng_json, rng_tensors = capture_rng_state()
        loop = self.loop
        training_state: dict[str, Any] = {
            "optimizer": loop.optimizer.state_dict(),
            "scheduler": loop.scheduler.state_dict(),
            "rng": rng_tensors,
            "device_aug": self.data.preprocess_state(),
        }
        if loop.scaler is not None:
            training_state["scaler"] = loop.scaler.state_dict()
        p = self.progress
        state = {
            "epoch": p.epoch,
            "batches_done": p.batches_done,
            "step": loop.step,
            "best": p.best,
            "best_epoch": p.best_epoch,
            "monitor": self.cfg.monitor_metric,
            "history": p.history,
            "rng": rng_json,
            "config_hash": config_hash(self.cfg.model_dump(mode="json")),
            "world_size": self.ctx.world_size,
        }
        return training_state, state

    def save(self, names: list[str], *, sync: bool = True) -> None:
        """Save `last` (full state at the current position), then copy it to other names.
        Rank 0 writes; with `sync` every rank waits for it (no rank runs ahead of a checkpoint)."""
        if self.ctx.is_main:
            training_state, state = self._checkpoint_payload()
            path = save_checkpoint(
                self.paths.ckpt_dir,
                "last",
                model=unwrap_model(self.loop.model),
                training_state=training_state,
                state=state,
            )
            self.tracker.checkpoint("last", path, self.progress.epoch, self.loop.step, None)
            for name in names:
                copied = copy_checkpoint(self.paths.ckpt_dir, "last", name)
                metric = self.progress.best if name == "best" else None
                self.tracker.checkpoint(name, copied, self.progress.epoch, self.loop.step, metric)
        if sync:
            self.ctx.barrier()

    def restore(self) -> None:
        """Continue from the newest valid checkpoint (or the one `resume` names)."""
        cfg = self.cfg
        if cfg.resume not in ("auto", "never"):
            path: Path | None = Path(cfg.resume).expanduser()
        elif self.resuming:
            path = None
            if self.ctx.is_main:
                path, skipped = find_resumable(self.paths.ckpt_dir)
                for bad, reason in skipped:
                    self.say(f"skipping invalid checkpoint {bad}: {reason}", "warning")
            # Rank 0 chose (and hashed) it once; every rank resumes from that same checkpoint.
            path = self.ctx.broadcast_object(path)
        else:
            path = None
        if path is None:
            return
        ckpt = load_checkpoint(path, model=unwrap_model(self.loop.model), map_location=self.device)
        ts, st = ckpt.training_state, ckpt.state
        saved_world = int(st.get("world_size", 1))
        if saved_world != self.ctx.world_size:
            raise CheckpointError(
                f"checkpoint {path} was written by a run of {saved_world} process(es) but this "
                f"launch has {self.ctx.world_size}; relaunch with --nproc_per_node={saved_world} "
                "(the global batch, the step count and the position in the epoch depend on it), "
                "or start a new run (another run_name)"
            )
        try:
            self.loop.optimizer.load_state_dict(ts["optimizer"])
            self.loop.scheduler.load_state_dict(ts["scheduler"])
            # `epochs` may have been extended for this resume: stretch the schedule to the new end.
            self.loop.scheduler.lr_lambdas[0].total_steps = self.steps_per_epoch * cfg.epochs
            if self.loop.scaler is not None and "scaler" in ts:
                self.loop.scaler.load_state_dict(ts["scaler"])
            self.data.load_preprocess_state(ts.get("device_aug"))
            restore_rng_state(st["rng"], ts["rng"])
        except (KeyError, ValueError, RuntimeError) as exc:
            raise CheckpointError(
                f"checkpoint {path} does not fit this model/optimizer ({exc}); "
                "start a new run (another run_name) or fix resume"
            ) from None
        self.loop.step = int(st["step"])
        self.progress = Progress(
            epoch=int(st["epoch"]),
            batches_done=int(st["batches_done"]),
            best=st.get("best"),
            best_epoch=st.get("best_epoch"),
            history=list(st.get("history", [])),
        )
        self.say(
            f"resumed from {path} at epoch {self.progress.epoch + 1}, "
            f"batch {self.progress.batches_done}, step {self.loop.step}"
        )
        self.tracker.state("resumed", checkpoint=str(path), step=self.loop.step)

    # ---- reporting -------------------------------------------------------------------------------
    def say(self, message: str, level: str = "info") -> None:
        if self.ctx.is_main:
            log.log(logging.getLevelName(level.upper()), message)
            self.tracker.log(message, level)

    def _log_step(
        self, info: StepInfo, loss: float, bar: tqdm, started: float, first_step: int
    ) -> None:
        cfg = self.cfg
        lr = self.loop.scheduler.get_last_lr()[0]
        self.tracker.train_step(info.step, info.epoch, loss, lr)
        done = info.step - first_step
        total = self.steps_per_epoch * cfg.epochs
        eta = (time.monotonic() - started) / max(done, 1) * (total - info.step)
        self.tracker.progress(
            epoch=info.epoch,
            epochs=cfg.epochs,
            step=info.step,
            total_steps=total,
            eta_s=round(eta, 1),
        )
        bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.2e}", refresh=False)

    def _on_step(self, bar: tqdm, started: float, first_step: int):
        cfg = self.cfg

        def on_step(info) -> None:
            bar.update(cfg.grad_accum_steps)
            if info.step % cfg.log_every_steps == 0:
                # The only host sync in the loop, once every `log_every_steps` steps. Every rank
                # joins the sum so rank 0 logs the mean over all shards, not its own alone.
                summed = self.ctx.all_reduce_sum(info.loss.detach().float().clone())
                if self.ctx.is_main:
                    self._log_step(
                        info, float(summed) / self.ctx.world_size, bar, started, first_step
                    )
            every = cfg.checkpoint_every_steps
            if every and info.step % every == 0 and info.batches_done < self.data.train_batches:
                self.progress.batches_done = info.batches_done
                self.save([])

        return on_step

    # ---- the loop ------------------------------------------------------------------------------
    def train(self) -> RunResult:
        cfg = self.cfg
        self.tracker.state(
            "running",
            run_dir=str(self.paths.run_dir),
            epochs=cfg.epochs,
            steps_per_epoch=self.steps_per_epoch,
        )
        for k in self.skipped_topk:
            self.say(
                f"eval_topk: acc@{k} skipped, the dataset has only {len(self.classes)} classes",
                "warning",
            )
        started, first_step = time.monotonic(), self.loop.step
        show_bar = cfg.progress_bar and self.ctx.is_main and sys.stderr.isatty()
        while self.progress.epoch < cfg.epochs:
            epoch = self.progress.epoch
            start_batch = self.progress.batches_done
            batches = self.data.train_batches_from(epoch, start_batch)
            with tqdm(
                total=self.data.train_batches,
                initial=start_batch,
                desc=f"epoch {epoch + 1}/{cfg.epochs}",
                disable=not show_bar,
                unit="batch",
                leave=False,
            ) as bar:
                stats = self.loop.train_epoch(
                    batches,
                    epoch=epoch,
                    num_batches=self.data.train_batches,
                    start_batch=start_batch,
                    on_step=self._on_step(bar, started, first_step),
                )
            if stats.stopped:
                self.progress.batches_done = stats.batches_done
                self.save([], sync=False)
                self.say(f"stop requested: saved a checkpoint at step {self.loop.step}")
                self.tracker.state("stopped", step=self.loop.step)
                # Only now may the other ranks exit: when one worker exits, torchrun signals the
                # rest, and rank 0 must have recorded the stop by then.
                self.ctx.barrier()
                return self._result("stopped")
            self._end_epoch(epoch, stats, resumed_mid_epoch=start_batch > 0)
            # Collective: a signal that reached one rank only must stop all of them here.
            if self.ctx.any_flag(self.stop.is_set(), self.device):
                self.tracker.state("stopped", step=self.loop.step)
                self.ctx.barrier()
                return self._result("stopped")
        return self.finish()

    def _end_epoch(self, epoch: int, stats: EpochStats, *, resumed_mid_epoch: bool) -> None:
        cfg = self.cfg
        # A partial (resumed) epoch reports no train means: half an epoch's mean would mislead.
        # The same on every rank, so the collective inside summary() runs on all or none.
        train = {} if resumed_mid_epoch else stats.summary(self.ctx.all_reduce_sum)
        self.ctx.broadcast_buffers(unwrap_model(self.loop.model))
        val = self.loop.evaluate(self.data.val_batches(), self.metrics)
        value = val.scalars[cfg.monitor_metric]
        improved = is_improvement(value, self.progress.best, cfg.resolved_monitor_mode)
        if improved:
            self.progress.best, self.progress.best_epoch = value, epoch + 1
        record = {"epoch": epoch + 1, "step": self.loop.step, "train": train, "val": val.scalars}
        self.progress.history.append(record)
        if self.ctx.is_main:
            if train:
                self.tracker.epoch_metrics("train", epoch + 1, self.loop.step, train)
            self.tracker.epoch_metrics("val", epoch + 1, self.loop.step, val.scalars)
            self.tracker.eval_details("val", self.loop.step, val)
            shown = {"loss": val.scalars["loss"], "acc@1": val.scalars["acc@1"]}
            shown[cfg.monitor_metric] = value
            self.say(
                f"epoch {epoch + 1}/{cfg.epochs} "
                + (f"train loss {train['loss']:.4f} | " if train else "")
                + "val "
                + " ".join(f"{k} {v:.4f}" for k, v in shown.items())
                + (" (best)" if improved else "")
            )
        self.progress.epoch, self.progress.batches_done = epoch + 1, 0
        names = (["best"] if improved else []) + (
            [f"epoch_{epoch + 1:03d}"] if cfg.save_per_epoch_checkpoint else []
        )
        self.save(names)

    def finish(self) -> RunResult:
        """Evaluate the best checkpoint on val (and test), export it, write results.json."""
        cfg = self.cfg
        best_dir = self.paths.ckpt_dir / "best"
        model = unwrap_model(self.loop.model)
        if best_dir.is_dir():
            load_checkpoint(best_dir, model=model, map_location=self.device)
        val = self.loop.evaluate(self.data.val_batches(), self.metrics)
        test: EvalResult | None = None
        if cfg.eval_test and self.data.has_test:
            test = self.loop.evaluate(self.data.test_batches(), self.metrics)
        if self.ctx.is_main:
            if test is not None:
                self.tracker.epoch_metrics("test", cfg.epochs, self.loop.step, test.scalars)
                self.tracker.eval_details("test", self.loop.step, test)
            if cfg.export_model:
                export_hf_model(
                    model,
                    self.processor,
                    self.paths.model_dir,
                    class_names=self.classes,
                    metrics={"val": val.scalars} | ({"test": test.scalars} if test else {}),
                    per_class=(test or val).per_class,
                    dataset_fingerprint=self.index.fingerprint(),
                    train_config=self.cfg.model_dump(mode="json"),
                    base_model=cfg.model_flavour,
                )
                self.tracker.artifact("model", self.paths.model_dir)
            total, trainable = count_parameters(model)
            atomic_write_json(
                self.paths.results_json,
                {
                    "status": "succeeded",
                    "monitor": {"metric": cfg.monitor_metric, "mode": cfg.resolved_monitor_mode},
                    "best_metric": self.progress.best,
                    "best_epoch": self.progress.best_epoch,
                    "epochs": cfg.epochs,
                    "steps": self.loop.step,
                    "parameters": {"total": total, "trainable": trainable},
                    "skipped_topk": self.skipped_topk,
                    "val": val.to_json(),
                    "test": test.to_json() if test else None,
                    "history": self.progress.history,
                },
            )
            self.say(f"results in {self.paths.run_dir}")
            self.tracker.state("succeeded", run_dir=str(self.paths.run_dir))
        # No rank reports success before rank 0 has written the results and the export.
        self.ctx.barrier()
        result = self._result("succeeded")
        result.val = val.scalars
        result.test = test.scalars if test else None
        return result

    def _result(self, status: str) -> RunResult:
        return RunResult(
            run_dir=self.paths.run_dir,
            status=status,
            epochs_completed=self.progress.epoch,
            step=self.loop.step,
            best_metric=self.progress.best,
            best_epoch=self.progress.best_epoch,
        )

    def close(self) -> None:
        tracker = getattr(self, "tracker", None)
        if tracker is not None:
            tracker.close()
        if self.ctx.is_distributed:
            # The DDP wrapper's reducer holds the process group: drop it first, so that
            # destroy_process_group() frees the group now rather than at interpreter shutdown,
            # where tearing down gloo's threads can abort a worker after a successful run.
            self.__dict__.pop("loop", None)
        self.ctx.shutdown()


def train(cfg: TrainConfig, *, stop: StopSignal | None = None) -> RunResult:
    """Train one config to completion (or until `stop` is set). Raises VisionyardError subclasses
    for input the user must fix; anything else is a bug or a crash."""
    run = Run(cfg, stop=stop)
    try:
        run.write_metadata()
        run.build()
        run.tracker.state("starting", resume=run.resuming)
        run.restore()
        return run.train()
    except BaseException as exc:
        tracker = getattr(run, "tracker", None)
        if tracker is not None:
            tracker.state("failed", error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        run.close()
