"""Run one TrainConfig end to end: prepare, train epoch by epoch, evaluate, export.

The phases live in their own modules: ``setup.py`` (check the input before anything is written,
build the training parts), ``resume.py`` (checkpoints and continuing from one), ``results.py``
(results.json and the exported model). This module drives the epochs and owns the teardown.

Under torchrun every rank runs this same code (see ``distributed.py``): ``batch_size`` is per
process, every rank trains and evaluates its shard, and only rank 0 writes the run folder. Every
decision that ends in a collective (stop, resume point) is made identically on all ranks.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import NoReturn

from torch import nn
from tqdm.auto import tqdm

from visionyard.training.checkpoint import load_checkpoint
from visionyard.training.config import TrainConfig
from visionyard.training.control import StopSignal
from visionyard.training.engine import EpochStats, StepInfo
from visionyard.training.export import unwrap_model
from visionyard.training.metrics import EvalResult, is_improvement
from visionyard.training.results import (
    RunResult,
    publish_results,
    run_result,
    write_eval_report,
)
from visionyard.training.resume import (
    Progress,
    choose_checkpoint,
    gather_epoch_sums,
    restore_checkpoint,
    save_run_checkpoint,
)
from visionyard.training.setup import (
    RunSetup,
    build_training,
    open_tracker,
    prepare_run,
    write_metadata,
)
from visionyard.training.tracking import Tracker

log = logging.getLogger("visionyard.train")

__all__ = ["Run", "RunResult", "train"]


def train(cfg: TrainConfig, *, stop: StopSignal | None = None) -> RunResult:
    """Train one config to completion (or until `stop` is set). Raises VisionyardError subclasses
    for input the user must fix; anything else is a bug or a crash."""
    setup = prepare_run(cfg)  # bad input fails here, before anything is written
    try:
        write_metadata(setup)
        with open_tracker(setup) as tracker:
            return _train_tracked(setup, tracker, stop or StopSignal())
    finally:
        # Last, after Run.close() dropped the DDP wrapper (see there).
        setup.ctx.shutdown()


def _train_tracked(setup: RunSetup, tracker: Tracker, stop: StopSignal) -> RunResult:
    """Build, resume and train; a failure is recorded in the run's events before it propagates."""
    try:
        run = Run(setup, tracker, stop)
        try:
            tracker.state("starting", resume=setup.resuming)
            run.say_choices()
            run.restore()
            return run.train()
        finally:
            run.close()
    except BaseException as exc:
        tracker.state("failed", error=f"{type(exc).__name__}: {exc}")
        raise


class Run:
    """The epochs of one run: training, mid-epoch checkpoints, stop requests, per-epoch
    evaluation, and the final evaluation of the best checkpoint."""

    def __init__(self, setup: RunSetup, tracker: Tracker, stop: StopSignal) -> None:
        parts = build_training(setup, stop)
        self.setup = setup
        self.cfg = setup.cfg
        self.ctx = setup.ctx
        self.tracker = tracker
        self.stop = stop
        self.data = parts.data
        self.loop = parts.loop
        self.metrics = parts.metrics
        self.steps_per_epoch = parts.steps_per_epoch
        self.progress = Progress()
        # The resumed epoch's train sums from before the stop (None: none to carry, or a
        # checkpoint older than the saved sums).
        self.carried: EpochStats | None = None
        self.memory_format = parts.memory_format

    def close(self) -> None:
        """Drop the training loop, which alone holds the DDP wrapper. The wrapper's reducer holds
        the process group: dropped first, destroy_process_group() (after this) frees the group now
        rather than at interpreter shutdown, where tearing down gloo's threads can abort a worker
        after a successful run. Nothing refers back to this Run (see setup._stop_agreed), so no
        reference cycle keeps the wrapper alive either."""
        del self.loop

    # ---- checkpoints -----------------------------------------------------------------------------
    def save(
        self, names: list[str], *, sync: bool = True, running: EpochStats | None = None
    ) -> None:
        """Save `last` (full state at the current position), then copy it to other names.
        Rank 0 writes; with `sync` every rank waits for it (no rank runs ahead of a checkpoint).
        Mid-epoch, `running` are the epoch's train sums so far: every rank's are saved (a
        collective, so every rank calls save)."""
        sums = gather_epoch_sums(running, self.ctx) if running is not None else None
        if self.ctx.is_main:
            save_run_checkpoint(
                self.setup,
                self.tracker,
                self.loop,
                self.data,
                self.progress,
                names,
                epoch_sums=sums,
            )
        if sync:
            self.ctx.barrier()

    def restore(self) -> None:
        """Continue from the newest valid checkpoint (or the one `resume` names)."""
        path, skipped = choose_checkpoint(self.setup)
        for bad, reason in skipped:
            self.say(f"skipping invalid checkpoint {bad}: {reason}", "warning")
        if path is None:
            return
        self.loop.step, self.progress, self.carried = restore_checkpoint(
            path,
            self.setup,
            model=unwrap_model(self.loop.model),
            optimizer=self.loop.optimizer,
            scheduler=self.loop.scheduler,
            scaler=self.loop.scaler,
            data=self.data,
            total_steps=self.steps_per_epoch * self.cfg.epochs,
        )
        self.say(
            f"resumed from {path} at epoch {self.progress.epoch + 1}, "
            f"batch {self.progress.batches_done}, step {self.loop.step}"
        )
        self.tracker.state("resumed", checkpoint=str(path), step=self.loop.step)
        if self.progress.batches_done and self.carried is None:
            self.say(
                f"checkpoint {path} predates saved train sums: epoch {self.progress.epoch + 1} "
                "will report no train metrics (its other metrics are unaffected)",
                "warning",
            )

    # ---- reporting -------------------------------------------------------------------------------
    def say_choices(self) -> None:
        """What the settings left to the machine and the model came to, in the attempt's log
        (after its "starting" state: a run's reader splits attempts there)."""
        workers = self.data.workers
        self.say(f"data loader workers: {workers.count} ({workers.reason})")
        self.say(f"memory format: {self.memory_format}")
        jpeg_decoding = self.data.train_set.jpeg_decoding()
        if jpeg_decoding is not None:
            self.say(f"training JPEG decoding: {jpeg_decoding}")

    def say(self, message: str, level: str = "info") -> None:
        if self.ctx.is_main:
            log.log(logging.getLevelName(level.upper()), message)
            self.tracker.log(message, level)

    def _log_step(
        self, info: StepInfo, loss: float, bar: tqdm[NoReturn], started: float, first_step: int
    ) -> None:
        cfg = self.cfg
        lr = float(self.loop.scheduler.get_last_lr()[0])
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

    def _on_step(
        self, bar: tqdm[NoReturn], started: float, first_step: int
    ) -> Callable[[StepInfo], None]:
        cfg = self.cfg

        def on_step(info: StepInfo) -> None:
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
                self.save([], running=info.stats)

        return on_step

    # ---- the loop ------------------------------------------------------------------------------
    def train(self) -> RunResult:
        cfg = self.cfg
        self.tracker.state(
            "running",
            run_dir=str(self.setup.paths.run_dir),
            epochs=cfg.epochs,
            steps_per_epoch=self.steps_per_epoch,
        )
        num_classes = len(self.setup.classes)
        for k in self.setup.skipped_topk:
            self.say(
                f"eval_topk: acc@{k} skipped, the dataset has only {num_classes} classes",
                "warning",
            )
        started, first_step = time.monotonic(), self.loop.step
        show_bar = cfg.progress_bar and self.ctx.is_main and sys.stderr.isatty()
        while self.progress.epoch < cfg.epochs:
            epoch = self.progress.epoch
            start_batch = self.progress.batches_done
            carried, self.carried = self.carried, None
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
                    carried=carried,
                    on_step=self._on_step(bar, started, first_step),
                )
            if stats.stopped:
                self.progress.batches_done = stats.batches_done
                self.save([], sync=False, running=stats)
                self.say(f"stop requested: saved a checkpoint at step {self.loop.step}")
                self.tracker.state("stopped", step=self.loop.step)
                # Only now may the other ranks exit: when one worker exits, torchrun signals the
                # rest, and rank 0 must have recorded the stop by then.
                self.ctx.barrier()
                return run_result(self.setup, "stopped", self.progress, self.loop.step)
            self._end_epoch(epoch, stats, whole=start_batch == 0 or carried is not None)
            # Collective: a signal that reached one rank only must stop all of them here.
            if self.ctx.any_flag(self.stop.is_set(), self.setup.device):
                self.tracker.state("stopped", step=self.loop.step)
                self.ctx.barrier()
                return run_result(self.setup, "stopped", self.progress, self.loop.step)
        return self.finish()

    def _end_epoch(self, epoch: int, stats: EpochStats, *, whole: bool) -> None:
        """`whole`: the sums cover the entire epoch (it was not resumed mid-way, or it was and
        its checkpoint carried the sums from before the stop)."""
        cfg = self.cfg
        # Only a resumed epoch whose earlier part's sums were not saved (an older checkpoint)
        # reports no train means: half an epoch's mean would mislead. The same on every rank,
        # so the collective inside summary() runs on all or none.
        train = stats.summary(self.ctx.all_reduce_sum) if whole else {}
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
        """Evaluate the best checkpoint on val (and test); rank 0 exports it and writes
        results.json."""
        model = unwrap_model(self.loop.model)
        val, test = self._evaluate_best()
        if self.ctx.is_main:
            publish_results(
                self.setup, self.tracker, model, val, test, self.progress, self.loop.step
            )
            if self.cfg.eval_report:
                self._write_eval_report(model)
            self.say(f"results in {self.setup.paths.run_dir}")
            self.tracker.state("succeeded", run_dir=str(self.setup.paths.run_dir))
        # No rank reports success before rank 0 has written the results and the export.
        self.ctx.barrier()
        result = run_result(self.setup, "succeeded", self.progress, self.loop.step)
        result.val = val.scalars
        result.test = test.scalars if test else None
        return result

    def _write_eval_report(self, model: nn.Module) -> None:
        """Rank 0: the best checkpoint's report on val. The run's model and results are already
        written, so whatever goes wrong here (a dataset changed meanwhile, an estimator that
        rejects this data, running out of memory) becomes a warning in the run's log, never a
        failed run: the report can be computed again later for any checkpoint."""
        try:
            path = write_eval_report(self.setup, model)
        except Exception as exc:
            self.say(f"evaluation report not written: {type(exc).__name__}: {exc}", "warning")
            return
        if path is None:
            self.say("evaluation report skipped: the run saved no best checkpoint", "warning")
            return
        self.tracker.artifact("report", path)
        self.say(f"evaluation report: {path}")

    def _evaluate_best(self) -> tuple[EvalResult, EvalResult | None]:
        """Load the best checkpoint (if one was saved) into the model; evaluate it on val and,
        when configured and present, on test. Every rank takes part."""
        best_dir = self.setup.paths.ckpt_dir / "best"
        if best_dir.is_dir():
            load_checkpoint(
                best_dir, model=unwrap_model(self.loop.model), map_location=self.setup.device
            )
        val = self.loop.evaluate(self.data.val_batches(), self.metrics)
        test: EvalResult | None = None
        if self.cfg.eval_test and self.data.has_test:
            test = self.loop.evaluate(self.data.test_batches(), self.metrics)
        return val, test
