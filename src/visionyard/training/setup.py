"""Everything before a run's first step: check the input, agree across ranks, write the run
folder's metadata, build the training parts.

:func:`prepare_run` checks everything that can fail because of user input (config, dataset,
model) before the run folder is created, so a bad start writes nothing. Under torchrun every rank
prepares the same run: the run name and the resume decision are rank 0's, broadcast.
"""

from __future__ import annotations

import functools
import math
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from visionyard.analysis.checkpoints import ARCHITECTURE_DIR
from visionyard.errors import ConfigError
from visionyard.training import confighash
from visionyard.training.config import TrainConfig
from visionyard.training.control import StopSignal
from visionyard.training.dataset_index import DatasetIndex
from visionyard.training.distributed import DistContext, resolve_device
from visionyard.training.engine import BatchMixer, TrainLoop, resolve_amp_dtype
from visionyard.training.fsutil import atomic_write_json
from visionyard.training.hf_quiet import quiet_transformers
from visionyard.training.imagefolder import scan_dataset
from visionyard.training.loaders import DataPipeline, build_pipeline
from visionyard.training.losses import as_float_weights, build_loss
from visionyard.training.metrics import ClassificationMetrics, scalar_metric_names, skipped_topk
from visionyard.training.modeling import build_model, choose_channels_last
from visionyard.training.optim import build_optimizer, build_scheduler
from visionyard.training.repro import environment_info, seed_everything
from visionyard.training.rundir import RunPaths, check_resume_policy, default_run_name, run_paths
from visionyard.training.tracking import Tracker


@dataclass(frozen=True)
class RunSetup:
    """A run whose input has been checked: what every later phase reads and none changes."""

    cfg: TrainConfig  # resolved: run name and label maps filled in from the dataset
    ctx: DistContext  # its process group is initialised; the caller owns its shutdown()
    device: torch.device
    amp_dtype: torch.dtype | None
    index: DatasetIndex
    classes: list[str]
    skipped_topk: list[int]  # eval_topk values larger than the class count
    model: nn.Module  # the bare model, on the CPU until build_training() places it
    processor: Any
    paths: RunPaths
    resuming: bool  # the run folder holds an earlier start of this run to continue

    @functools.cached_property
    def config_hash(self) -> str:
        """The resolved config's hash, as env.json and every checkpoint record it."""
        return confighash.config_hash(self.cfg.model_dump(mode="json"))

    @functools.cached_property
    def dataset_fingerprint(self) -> dict[str, Any]:
        """``index.fingerprint()`` (dataset.json, the model card), computed once: it sorts and
        hashes the whole file list."""
        return self.index.fingerprint()


def prepare_run(cfg: TrainConfig) -> RunSetup:
    """Check ``cfg`` against its dataset and model and join the process group; writes nothing.

    Raises VisionyardError subclasses for input the user must fix. On any failure after the
    process group was joined, it is shut down again before the error propagates.
    """
    ctx = DistContext.from_env()
    device = resolve_device(cfg.device, ctx)
    seed_everything(cfg.seed, deterministic=cfg.deterministic)
    index = scan_dataset(
        cfg.root,
        image_check=cfg.image_check,
        skip_corrupt=cfg.skip_corrupt_images,
        max_per_class=cfg.max_datapoints_per_class,
        seed=cfg.seed,
        expected_classes=cfg.expected_classes,
    )
    skipped = _validate_against_dataset(cfg, index)
    classes = list(index.classes)
    model, processor = build_model(
        cfg.model_flavour,
        class_names=classes,
        load_pretrained=cfg.load_pretrained,
        freeze_backbone=cfg.freeze_backbone,
    )
    ctx.init_process_group(device)
    try:
        # One run name for all ranks: a generated one holds a timestamp.
        run_name = ctx.broadcast_object(cfg.run_name or default_run_name(cfg))
        paths = run_paths(cfg, run_name)
        resuming = check_resume_policy(cfg, paths)
        # Every rank has read the folder's state before rank 0 starts writing into it.
        ctx.barrier()
        return RunSetup(
            cfg=_resolved_config(cfg, run_name, index),
            ctx=ctx,
            device=device,
            amp_dtype=resolve_amp_dtype(cfg.autocast_dtype, device),
            index=index,
            classes=classes,
            skipped_topk=skipped,
            model=model,
            processor=processor,
            paths=paths,
            resuming=resuming,
        )
    except BaseException:
        ctx.shutdown()
        raise


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


def write_metadata(setup: RunSetup) -> None:
    """Rank 0 creates the run folder and writes config.json, env.json and dataset.json."""
    if not setup.ctx.is_main:
        return
    paths = setup.paths
    paths.create()
    config = setup.cfg.model_dump(mode="json")
    atomic_write_json(paths.config_json, config)
    atomic_write_json(
        paths.env_json,
        environment_info(seed=setup.cfg.seed, devices=[str(setup.device)])
        | {"config_hash": setup.config_hash, "world_size": setup.ctx.world_size},
    )
    atomic_write_json(paths.dataset_json, setup.dataset_fingerprint)
    _write_architecture(setup)


def _write_architecture(setup: RunSetup) -> None:
    """The model's Hugging Face config (with the dataset's label maps) and image processor, so
    that any checkpoint of the run can be rebuilt and tested before the run exports its model."""
    final = setup.paths.run_dir / ARCHITECTURE_DIR
    if (final / "config.json").is_file():
        return
    tmp = final.with_name(f".tmp-{ARCHITECTURE_DIR}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    config: Any = setup.model.config  # a PretrainedConfig: build_model makes HF models only
    with quiet_transformers():
        config.save_pretrained(tmp)
    setup.processor.save_pretrained(tmp)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)


def open_tracker(setup: RunSetup) -> Tracker:
    """The run's TensorBoard and events.jsonl; files only on rank 0 (a no-op elsewhere)."""
    return Tracker(
        setup.paths.run_dir,
        tb_dir=setup.paths.tb_dir,
        enabled=setup.ctx.is_main,
        class_names=setup.classes,
    )


@dataclass(frozen=True)
class TrainingParts:
    """What the epochs run on, built from a :class:`RunSetup`."""

    data: DataPipeline
    loop: TrainLoop  # holds the only reference to the DDP wrapper, when there is one
    metrics: ClassificationMetrics
    steps_per_epoch: int  # optimizer steps in one full epoch
    memory_format: str  # the batches' and weights' layout, and why: for the run's log


def place_model(model: nn.Module, device: torch.device, channels_last: bool) -> nn.Module:
    """The model on ``device``, its weights channels-last when its batches are."""
    model = model.to(device)
    return model.to(memory_format=torch.channels_last) if channels_last else model


def build_loop(
    cfg: TrainConfig,
    base_model: nn.Module,
    *,
    device: torch.device,
    amp_dtype: torch.dtype | None,
    total_steps: int,
    num_classes: int,
    run_model: nn.Module | None = None,
    class_weights: Tensor | None = None,
    stop_requested: Callable[[], bool] = lambda: False,
) -> TrainLoop:
    """The loss, optimizer, schedule, batch mixing and loss scaling ``cfg`` asks for, in the
    train loop: what the runner trains with, and what the benchmarks time. ``base_model`` is
    placed (`place_model`) and its parameters are optimized; ``run_model`` is what steps call,
    the same model compiled or DDP-wrapped (default: ``base_model``)."""
    loss_fn = build_loss(
        cfg.loss_name,
        class_weights=class_weights,
        label_smoothing=cfg.label_smoothing,
        focal_gamma=cfg.focal_gamma,
    ).to(device)
    optimizer = build_optimizer(
        base_model,
        name=cfg.optimizer,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        momentum=cfg.momentum,
    )
    scheduler = build_scheduler(
        optimizer,
        name=cfg.scheduler,
        total_steps=total_steps,
        warmup_ratio=cfg.warmup_ratio,
        min_lr_ratio=cfg.min_lr_ratio,
    )
    mixer = None
    if cfg.mixup_alpha > 0 or cfg.cutmix_alpha > 0:
        mixer = BatchMixer(
            num_classes=num_classes,
            mixup_alpha=cfg.mixup_alpha,
            cutmix_alpha=cfg.cutmix_alpha,
        )
    use_scaler = amp_dtype is torch.float16
    return TrainLoop(
        model=run_model if run_model is not None else base_model,
        optimizer=optimizer,
        scheduler=scheduler,
        loss_fn=loss_fn,
        device=device,
        amp_dtype=amp_dtype,
        scaler=torch.amp.GradScaler(device.type) if use_scaler else None,
        grad_accum_steps=cfg.grad_accum_steps,
        max_grad_norm=cfg.max_grad_norm,
        mixer=mixer,
        stop_requested=stop_requested,
    )


def build_training(setup: RunSetup, stop: StopSignal) -> TrainingParts:
    """Data loaders, the model on its device (compiled, DDP-wrapped as configured), loss,
    optimizer, schedule and the train loop that polls ``stop``."""
    cfg, ctx, device = setup.cfg, setup.ctx, setup.device
    channels_last, channels_last_reason = choose_channels_last(cfg.channels_last, setup.model)
    # The batches (built by the pipeline) and the model's weights take the same layout.
    cfg = cfg.model_copy(update={"channels_last": channels_last})
    data = build_pipeline(cfg, setup.index, setup.processor, device=device, ctx=ctx)
    base_model = place_model(setup.model, device, channels_last)
    model = base_model
    if cfg.compile:
        # A compiled Module is an OptimizedModule (a Module); torch.compile's signature says only
        # that it returns a callable like its argument.
        model = cast(nn.Module, torch.compile(model))
    if ctx.is_distributed:
        model = DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    weights = None
    if cfg.class_weights == "balanced":
        weights = data.balanced_class_weights()
    elif isinstance(cfg.class_weights, list):
        weights = as_float_weights(cfg.class_weights, len(setup.classes))
    steps_per_epoch = math.ceil(data.train_batches / cfg.grad_accum_steps)
    loop = build_loop(
        cfg,
        base_model,
        device=device,
        amp_dtype=setup.amp_dtype,
        total_steps=steps_per_epoch * cfg.epochs,
        num_classes=len(setup.classes),
        run_model=model,
        class_weights=weights,
        stop_requested=functools.partial(_stop_agreed, ctx, stop, device),
    )
    metrics = ClassificationMetrics(
        len(setup.classes), setup.classes, topk=cfg.eval_topk, device=device
    )
    return TrainingParts(
        data=data,
        loop=loop,
        metrics=metrics,
        steps_per_epoch=steps_per_epoch,
        memory_format=("channels-last" if channels_last else "contiguous")
        + f" ({channels_last_reason})",
    )


def _stop_agreed(ctx: DistContext, stop: StopSignal, device: torch.device) -> bool:
    """Whether any rank was asked to stop. A plain function of its parts rather than a closure
    over the Run: a closure would make a reference cycle (Run -> loop -> closure -> Run) that
    keeps the DDP wrapper, and with it the process group, alive until interpreter shutdown."""
    return ctx.any_flag(stop.is_set(), device)
