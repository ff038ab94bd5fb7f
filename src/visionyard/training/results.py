"""What a run leaves behind: the :class:`RunResult` its caller gets and, once it succeeded, the
exported Hugging Face model, ``results.json`` (the best checkpoint's final evaluation) and the
best checkpoint's evaluation report on val (``reports/best-val.json``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from visionyard.analysis.checkpoints import list_checkpoints
from visionyard.analysis.classifier import Classifier
from visionyard.analysis.report import report_for_classifier
from visionyard.analysis.report_store import save_report
from visionyard.training.export import export_hf_model
from visionyard.training.fsutil import atomic_write_json
from visionyard.training.metrics import EvalResult
from visionyard.training.modeling import count_parameters
from visionyard.training.resume import Progress
from visionyard.training.setup import RunSetup
from visionyard.training.tracking import Tracker


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


def run_result(setup: RunSetup, status: str, progress: Progress, step: int) -> RunResult:
    return RunResult(
        run_dir=setup.paths.run_dir,
        status=status,
        epochs_completed=progress.epoch,
        step=step,
        best_metric=progress.best,
        best_epoch=progress.best_epoch,
    )


def publish_results(
    setup: RunSetup,
    tracker: Tracker,
    model: nn.Module,
    val: EvalResult,
    test: EvalResult | None,
    progress: Progress,
    step: int,
) -> None:
    """Rank 0: the test metrics to the tracker, the exported model, ``results.json``."""
    cfg, paths = setup.cfg, setup.paths
    if test is not None:
        tracker.epoch_metrics("test", cfg.epochs, step, test.scalars)
        tracker.eval_details("test", step, test)
    if cfg.export_model:
        export_hf_model(
            model,
            setup.processor,
            paths.model_dir,
            class_names=setup.classes,
            metrics={"val": val.scalars} | ({"test": test.scalars} if test else {}),
            per_class=(test or val).per_class,
            dataset_fingerprint=setup.dataset_fingerprint,
            train_config=cfg.model_dump(mode="json"),
            base_model=cfg.model_flavour,
        )
        tracker.artifact("model", paths.model_dir)
    total, trainable = count_parameters(model)
    atomic_write_json(
        paths.results_json,
        {
            "status": "succeeded",
            "monitor": {"metric": cfg.monitor_metric, "mode": cfg.resolved_monitor_mode},
            "best_metric": progress.best,
            "best_epoch": progress.best_epoch,
            "epochs": cfg.epochs,
            "steps": step,
            "parameters": {"total": total, "trainable": trainable},
            "skipped_topk": setup.skipped_topk,
            "val": val.to_json(),
            "test": test.to_json() if test else None,
            "history": progress.history,
        },
    )


def write_eval_report(setup: RunSetup, model: nn.Module) -> Path | None:
    """Rank 0: the best checkpoint's evaluation report on val, from `model` (which holds the best
    checkpoint's weights already, on the run's device); None when the run saved no best
    checkpoint (its monitored metric was never finite)."""
    best = next((c for c in list_checkpoints(setup.paths.run_dir) if c.name == "best"), None)
    if best is None:
        return None
    classifier = Classifier(
        model=model.eval(),
        processor=setup.processor,
        class_names=setup.classes,
        checkpoint=best,
        device=setup.device,
    )
    report = report_for_classifier(
        classifier, setup.index.root, setup.index.splits["val"], "val", setup.cfg.eval_topk
    )
    return save_report(setup.paths.run_dir, report)
