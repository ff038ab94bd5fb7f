"""GPU training throughput at real scale: the Visionyard engine vs timm in a plain PyTorch loop vs
the Hugging Face Trainer, on ViT-B/16, ResNet-50 and ConvNeXt-T at 224 px in bf16, each eager and
under torch.compile; then one real-data epoch on generated photo-like JPEGs, decoded on the CPU
(Visionyard's DataLoader pipeline) and on the GPU (nvJPEG, bench/gpu_decode.py).

    python bench/gpu.py                        # the full run: CUDA, <= ~6 min on an H100/H200
    python bench/gpu.py --smoke --json s.json  # tiny models on the CPU in tens of seconds (CI)
    python bench/gpu.py --models vit_b16 --no-compile --skip-real

Synthetic throughput. One random batch, made once on the device, is trained on again and again,
so the data pipeline is out of the picture. Every contender runs `--warmup` steps (compilation,
autotuning, allocator warm-up), a device sync, then `--steps` timed steps and a sync.
  visionyard  `TrainLoop.train_epoch` wired as `setup.build_training()` wires a run with the
              default config: the HF model (`AutoModelForImageClassification.from_config`, random
              init), fused AdamW, cosine schedule, clipping at 1.0, bf16 autocast, channels-last
              for the convnets, `torch.compile(model)` when compiled; the runner's logging sync
              every `log_every_steps` steps and its once-per-epoch summary sync are included.
  timm        `timm.create_model(name, pretrained=False)` in the loop a person writes: bf16
              autocast, cross-entropy, backward, clip_grad_norm_(1.0), torch's default AdamW,
              zero_grad; channels-last for the convnets; `torch.compile(model)` when compiled.
  trainer     `transformers.Trainer` on the HF model, bf16=True (and torch_compile=True), batches
              from a collator that returns the same device batch; timed by a callback that syncs
              after the last warm-up step and after the last step, so set-up is not counted.

MFU. `torch.utils.flop_counter.FlopCounterMode` counts each contender's model's FLOPs on one eager
forward (on 2 images, divided by 2: the count is linear in the batch), not a hand-written formula;
a training step is 3 x forward (see count_flops for why not the counted backward, which is
recorded too); MFU = 3 x forward FLOPs/image x images/s / the card's dense bf16 peak (PEAK_TFLOPS,
matched on the device name). Other cards (and the CPU) get no MFU, and the report says why.

Real data. `--real-images` photo-like 500x375 JPEGs (bench/photos.py) in 10 classes; one epoch of
the engine (eager, --real-model) with the `standard` train preset, timed from the first batch
request to the final sync, so worker start-up counts: real/synthetic = its images/s over the
engine's synthetic images/s on the same model and batch, measured just before it.
"""

from __future__ import annotations

import os

# Before any Hugging Face import: the Hub is never contacted.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import argparse
import gc
import itertools
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import torch
import torch.nn.functional as F
from gpu_decode import FileBytes, GpuDecodeLoader
from gpu_report import environment, peak_for, ratios, render, targets
from photos import write_photo_folder
from torch import Tensor, nn

from visionyard.training.config import TrainConfig
from visionyard.training.distributed import DistContext
from visionyard.training.engine import TrainLoop, logits_of, resolve_amp_dtype
from visionyard.training.fsutil import atomic_write_json
from visionyard.training.imagefolder import scan_dataset
from visionyard.training.loaders import build_pipeline
from visionyard.training.setup import build_loop, place_model

CONTENDERS = ("visionyard", "timm", "trainer")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# --------------------------------------------------------------------------- models


@dataclass(frozen=True)
class ModelSpec:
    label: str
    hf_config: Callable[[bool], Any]  # smoke -> a transformers config
    timm_name: str
    timm_smoke: dict[str, Any]  # create_model overrides for the tiny smoke model
    channels_last: bool


def _vit_config(smoke: bool) -> Any:
    from transformers import ViTConfig

    if smoke:
        return ViTConfig(  # type: ignore[call-arg]
            image_size=32,
            patch_size=8,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            num_labels=10,
        )
    return ViTConfig(num_labels=1000)  # type: ignore[call-arg]  # defaults: ViT-B/16 at 224


def _resnet_config(smoke: bool) -> Any:
    from transformers import ResNetConfig

    if smoke:  # the resnet-50 layout: its stem, 1/8 of its widths, one block per stage
        return ResNetConfig(  # type: ignore[call-arg]
            embedding_size=64,
            hidden_sizes=[32, 64, 128, 256],
            depths=[1, 1, 1, 1],
            layer_type="bottleneck",
            num_labels=10,
        )
    return ResNetConfig(  # type: ignore[call-arg]
        embedding_size=64,
        hidden_sizes=[256, 512, 1024, 2048],
        depths=[3, 4, 6, 3],
        layer_type="bottleneck",
        num_labels=1000,
    )


def _convnext_config(smoke: bool) -> Any:
    from transformers import ConvNextConfig

    if smoke:
        return ConvNextConfig(  # type: ignore[call-arg]
            hidden_sizes=[16, 32, 64, 128], depths=[1, 1, 1, 1], image_size=32, num_labels=10
        )
    return ConvNextConfig(  # type: ignore[call-arg]
        hidden_sizes=[96, 192, 384, 768], depths=[3, 3, 9, 3], num_labels=1000
    )


MODELS = {
    "vit_b16": ModelSpec(
        "ViT-B/16",
        _vit_config,
        "vit_base_patch16_224",
        {
            "img_size": 32,
            "patch_size": 8,
            "embed_dim": 32,
            "depth": 2,
            "num_heads": 2,
            "mlp_ratio": 2.0,
            "num_classes": 10,
        },
        channels_last=False,
    ),
    "resnet50": ModelSpec(
        "ResNet-50",
        _resnet_config,
        "resnet50",
        {"layers": (1, 1, 1, 1), "channels": (8, 16, 32, 64), "num_classes": 10},
        channels_last=True,
    ),
    "convnext_t": ModelSpec(
        "ConvNeXt-T",
        _convnext_config,
        "convnext_tiny",
        {"depths": (1, 1, 1, 1), "dims": (16, 32, 64, 128), "num_classes": 10},
        channels_last=True,
    ),
}


def hf_model(spec: ModelSpec, smoke: bool) -> nn.Module:
    from transformers import AutoModelForImageClassification

    model: nn.Module = AutoModelForImageClassification.from_config(spec.hf_config(smoke))
    return model


def timm_model(spec: ModelSpec, smoke: bool) -> nn.Module:
    import timm

    model: nn.Module = timm.create_model(
        spec.timm_name, pretrained=False, **(spec.timm_smoke if smoke else {})
    )
    return model


# --------------------------------------------------------------------------- shared set-up


@dataclass
class Bench:
    device: torch.device
    smoke: bool
    batch_size: int
    image_size: int
    num_classes: int
    steps: int
    warmup: int
    compile_backend: str  # "inductor"; "eager" (Dynamo capture only) in smoke runs

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def batch(self, channels_last: bool) -> tuple[Tensor, Tensor]:
        """The synthetic batch: normalised float32 images (the DevicePrefetcher's output) and
        labels, on the device."""
        g = torch.Generator(device=self.device).manual_seed(0)
        shape = (self.batch_size, 3, self.image_size, self.image_size)
        x = torch.randn(shape, device=self.device, generator=g)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        y = torch.randint(0, self.num_classes, (self.batch_size,), device=self.device, generator=g)
        return x, y

    def autocast(self) -> torch.autocast:
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

    def compiled(self, model: nn.Module) -> nn.Module:
        out: nn.Module = torch.compile(model, backend=self.compile_backend)  # type: ignore[assignment]
        return out


@dataclass
class Result:
    model: str
    contender: str
    compile: bool
    status: str = "ok"  # ok | failed
    images: int = 0
    seconds: float = 0.0
    images_per_second: float = 0.0
    flops_per_image: float | None = None  # model FLOPs of a training step: 3 x forward
    forward_flops_per_image: float | None = None  # FlopCounterMode, eager forward
    counted_train_flops_per_image: float | None = None  # FlopCounterMode forward + backward
    wall_seconds: float = 0.0  # the whole variant: model build, FLOP count, compile, warm-up
    mfu: float | None = None
    error: str | None = None


def count_flops(model: nn.Module, bench: Bench, x: Tensor, y: Tensor) -> tuple[float, float]:
    """(forward, forward+backward as FlopCounterMode counts it) FLOPs per image of the eager
    `model`, on 2 images; gradients are dropped afterwards.

    MFU uses 3 x forward (backward = 2 x forward: the gradients of the inputs and of the
    weights), not the counted backward: torch's convolution_backward formula ignores `groups`
    and counts a depthwise convolution's weight gradient as a dense one's (C times too many;
    ConvNeXt's 7x7 depthwise convs came out at 7x forward in total)."""
    from torch.utils.flop_counter import FlopCounterMode

    n = min(2, x.shape[0])
    with FlopCounterMode(display=False) as fwd_counter, bench.autocast():
        loss = F.cross_entropy(logits_of(model(x[:n])), y[:n])
    with FlopCounterMode(display=False) as bwd_counter:
        loss.backward()
    model.zero_grad(set_to_none=True)
    forward = fwd_counter.get_total_flops() / n
    return forward, forward + bwd_counter.get_total_flops() / n


def engine_loop(model: nn.Module, cfg: TrainConfig, bench: Bench, total_steps: int) -> TrainLoop:
    """The train loop as `setup.build_training()` builds it for `cfg` (no DDP, no mixing)."""
    base = place_model(model, bench.device, cfg.channels_last is True)
    ctx = DistContext()
    return build_loop(
        cfg,
        base,
        device=bench.device,
        amp_dtype=resolve_amp_dtype(cfg.autocast_dtype, bench.device),
        total_steps=total_steps,
        num_classes=cast(Any, model).config.num_labels,
        run_model=bench.compiled(base) if cfg.compile else base,
        stop_requested=lambda: ctx.any_flag(False, bench.device),
    )


def engine_config(bench: Bench, channels_last: bool, compiled: bool, **extra: Any) -> TrainConfig:
    base: dict[str, Any] = {"root": "synthetic", "model_flavour": "synthetic"}
    return TrainConfig(
        **(base | extra),
        batch_size=bench.batch_size,
        autocast_dtype="bf16",
        channels_last=channels_last,
        compile=compiled,
        device=str(bench.device),
    )


def run_epoch(loop: TrainLoop, cfg: TrainConfig, batches: Any, num_batches: int) -> int:
    """One `train_epoch` with the runner's host syncs: the logged loss every log_every_steps
    optimizer steps and the epoch summary. Returns the images trained."""
    logged: list[float] = []

    def on_step(info: Any) -> None:
        if info.step % cfg.log_every_steps == 0:
            logged.append(float(info.loss))

    stats = loop.train_epoch(batches, epoch=0, num_batches=num_batches, on_step=on_step)
    stats.summary()
    return stats.samples


def time_visionyard(spec: ModelSpec, bench: Bench, compiled: bool, model: nn.Module) -> Result:
    cfg = engine_config(bench, spec.channels_last, compiled)
    loop = engine_loop(model, cfg, bench, bench.warmup + bench.steps)
    x, y = bench.batch(spec.channels_last)
    run_epoch(loop, cfg, itertools.repeat((x, y), bench.warmup), bench.warmup)
    bench.sync()
    start = time.perf_counter()
    images = run_epoch(loop, cfg, itertools.repeat((x, y), bench.steps), bench.steps)
    bench.sync()
    return Result(
        spec.label, "visionyard", compiled, images=images, seconds=time.perf_counter() - start
    )


def time_timm(spec: ModelSpec, bench: Bench, compiled: bool, model: nn.Module) -> Result:
    model = model.to(bench.device)
    if spec.channels_last:
        model = model.to(memory_format=torch.channels_last)
    run_model = bench.compiled(model) if compiled else model
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.05)
    x, y = bench.batch(spec.channels_last)
    run_model.train()

    def step() -> None:
        with bench.autocast():
            loss = F.cross_entropy(run_model(x), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(bench.warmup):
        step()
    bench.sync()
    start = time.perf_counter()
    for _ in range(bench.steps):
        step()
    bench.sync()
    return Result(
        spec.label,
        "timm",
        compiled,
        images=bench.steps * bench.batch_size,
        seconds=time.perf_counter() - start,
    )


def time_trainer(spec: ModelSpec, bench: Bench, compiled: bool, model: nn.Module) -> Result:
    from transformers import PrinterCallback, Trainer, TrainerCallback, TrainingArguments

    if spec.channels_last:
        model = model.to(memory_format=torch.channels_last)
    x, y = bench.batch(spec.channels_last)
    marks: dict[int, float] = {}
    total = bench.warmup + bench.steps

    class Clock(TrainerCallback):  # type: ignore[misc]
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if state.global_step in (bench.warmup, total):
                bench.sync()
                marks[state.global_step] = time.perf_counter()

    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out,
            per_device_train_batch_size=bench.batch_size,
            max_steps=total,
            learning_rate=3e-4,
            weight_decay=0.05,
            bf16=True,
            torch_compile=compiled,
            torch_compile_backend=bench.compile_backend if compiled else None,
            use_cpu=bench.device.type == "cpu",
            dataloader_pin_memory=False,  # the batch is on the device already
            remove_unused_columns=False,
            report_to="none",
            save_strategy="no",
            eval_strategy="no",
            logging_strategy="no",
            disable_tqdm=True,
        )
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=list(range(total * bench.batch_size)),
            data_collator=lambda _features: {"pixel_values": x, "labels": y},
            callbacks=[Clock()],
        )
        trainer.remove_callback(PrinterCallback)
        trainer.train()
    return Result(
        spec.label,
        "trainer",
        compiled,
        images=bench.steps * bench.batch_size,
        seconds=marks[total] - marks[bench.warmup],
    )


TIMERS = {
    "visionyard": (time_visionyard, hf_model),
    "timm": (time_timm, timm_model),
    "trainer": (time_trainer, hf_model),
}


def free_memory(bench: Bench) -> None:
    torch._dynamo.reset()  # drop compiled graphs (and their guards on the old model) first
    gc.collect()
    if bench.device.type == "cuda":
        torch.cuda.empty_cache()


def run_synthetic(
    bench: Bench,
    names: list[str],
    compile_modes: list[bool],
    peak: float | None,
    log: Any,
    on_result: Callable[[list[Result]], None] = lambda _results: None,
) -> list[Result]:
    """Every (model, compile mode, contender) variant in turn; `on_result` sees the results so
    far after each one."""
    results: list[Result] = []
    for name in names:
        spec = MODELS[name]
        flops: dict[str, tuple[float, float]] = {}
        for compiled, contender in itertools.product(compile_modes, CONTENDERS):
            timer, build = TIMERS[contender]
            variant_start = time.perf_counter()
            try:
                torch.manual_seed(0)
                model = build(spec, bench.smoke).to(bench.device)
                if build.__name__ not in flops:
                    x, y = bench.batch(False)
                    flops[build.__name__] = count_flops(model, bench, x, y)
                result = timer(spec, bench, compiled, model)
                result.images_per_second = result.images / result.seconds
                forward, counted = flops[build.__name__]
                result.forward_flops_per_image = forward
                result.counted_train_flops_per_image = counted
                result.flops_per_image = 3 * forward
                if peak is not None:
                    result.mfu = 3 * forward * result.images_per_second / (peak * 1e12)
            except Exception as exc:  # one failing variant must not cost the other results
                traceback.print_exc()
                result = Result(
                    spec.label,
                    contender,
                    compiled,
                    status="failed",
                    error=f"{type(exc).__name__}: {exc}",
                )
            model = None  # type: ignore[assignment]
            free_memory(bench)
            result.wall_seconds = time.perf_counter() - variant_start
            results.append(result)
            on_result(results)
            log(
                f"  {spec.label:<11}{'compile' if compiled else 'eager':<9}{contender:<12}"
                + (
                    f"{result.images_per_second:>10,.1f} img/s"
                    if result.status == "ok"
                    else f"  FAILED {result.error}"
                )
                + f"  ({result.wall_seconds:.1f} s in all)"
            )
    return results


# --------------------------------------------------------------------------- real data


def run_real(
    bench: Bench, args: argparse.Namespace, workdir: Path, synthetic: float | None, log: Any
) -> dict[str, Any]:
    """One epoch on generated JPEGs with CPU decode and with device decode."""
    from transformers import ViTImageProcessor

    spec = MODELS[args.real_model]
    root = workdir / "photos"
    # train/ and a small val/: the ImageFolder layout Visionyard's dataset scan requires
    write_photo_folder(root / "train", args.real_images, 10, seed=0)
    write_photo_folder(root / "val", 20, 10, seed=1)
    index = scan_dataset(root, image_check="off")
    size = bench.image_size
    processor = ViTImageProcessor(
        size={"height": size, "width": size}, image_mean=IMAGENET_MEAN, image_std=IMAGENET_STD
    )
    out: dict[str, Any] = {
        "model": spec.label,
        "images": len(index.splits["train"]),
        "image_size": "500x375 JPEG q90",
        "batch_size": bench.batch_size,
        "num_workers": args.num_workers,
        "synthetic_images_per_second": synthetic,
        "variants": {},
    }
    for decode in ("cpu", "gpu"):
        entry: dict[str, Any] = {"status": "ok", "device": str(bench.device)}
        if decode == "gpu" and bench.device.type != "cuda":
            entry["note"] = (
                "no CUDA device: the batched decode + roi_align path ran on the CPU to exercise "
                "the code; nvJPEG was not measured"
            )
        try:
            torch.manual_seed(0)
            cfg = engine_config(
                bench,
                spec.channels_last,
                False,
                root=str(root),
                num_workers=args.num_workers,
                train_preset="standard",
                image_check="off",
            )
            batches_per_epoch = -(-len(index.splits["train"]) // bench.batch_size)
            loop = engine_loop(hf_model(spec, bench.smoke), cfg, bench, 2 + batches_per_epoch)
            x, y = bench.batch(spec.channels_last)
            run_epoch(loop, cfg, itertools.repeat((x, y), 2), 2)  # kernels, allocator: warm
            if decode == "cpu":
                data = build_pipeline(cfg, index, processor, device=bench.device, ctx=DistContext())
                batches = data.train_batches_from(0, 0)
                num_batches = data.train_batches
            else:
                samples = index.splits["train"]
                loader = GpuDecodeLoader(
                    FileBytes([index.root / s.path for s in samples], [s.label for s in samples]),
                    batch_size=bench.batch_size,
                    size=(size, size),
                    mean=IMAGENET_MEAN,
                    std=IMAGENET_STD,
                    device=bench.device,
                    num_workers=min(args.num_workers, 4),
                    channels_last=spec.channels_last,
                )
                num_batches = len(loader)
            bench.sync()
            start = time.perf_counter()
            if decode == "gpu":
                batches = iter(loader)
            images = run_epoch(loop, cfg, batches, num_batches)
            bench.sync()
            seconds = time.perf_counter() - start
            entry |= {"images": images, "seconds": seconds, "images_per_second": images / seconds}
            if synthetic:
                entry["real_over_synthetic"] = entry["images_per_second"] / synthetic
        except Exception as exc:
            traceback.print_exc()
            entry = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
        # the CPU pipeline's persistent workers must not idle through the GPU-decode epoch
        loop = data = loader = batches = None  # type: ignore[assignment]
        free_memory(bench)
        out["variants"][decode] = entry
        shown = f"{entry['images_per_second']:,.1f} img/s" if "images" in entry else "FAILED"
        log(f"  real data, {decode} decode: {shown}")
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="tiny models on the CPU (CI)")
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--batch-size", type=int, help="default 256 (smoke: 8)")
    parser.add_argument("--steps", type=int, help="timed steps per variant (default 30, smoke 2)")
    parser.add_argument("--warmup", type=int, help="warm-up steps (default 8, smoke 1)")
    parser.add_argument("--no-compile", action="store_true", help="eager variants only")
    parser.add_argument("--skip-real", action="store_true", help="no real-data epoch")
    parser.add_argument("--real-model", choices=list(MODELS), default="resnet50")
    parser.add_argument(
        "--real-images", type=int, help="JPEGs to generate (default 6144, smoke 32)"
    )
    parser.add_argument("--num-workers", type=int, help="DataLoader workers for the real epoch")
    parser.add_argument("--workdir", help="keep the generated JPEGs here (default: a temp folder)")
    parser.add_argument("--json", dest="json_path", help="also write the results to this file")
    args = parser.parse_args(argv)
    defaults = (
        {"batch_size": 8, "steps": 2, "warmup": 1, "real_images": 32, "num_workers": 1}
        if args.smoke
        else {
            "batch_size": 256,
            "steps": 30,
            "warmup": 8,
            "real_images": 6144,
            "num_workers": max(1, min(12, (os.cpu_count() or 2) - 2)),
        }
    )
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    for key in ("batch_size", "steps", "warmup", "real_images"):
        if getattr(args, key) < 1:
            parser.error(f"--{key.replace('_', '-')} must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()

    def log(message: str) -> None:
        print(message, flush=True)

    if args.smoke:
        device = torch.device("cpu")
        torch.set_num_threads(min(2, os.cpu_count() or 1))
    elif torch.cuda.is_available():
        device = torch.device("cuda")
    else:
        print(
            "error: no CUDA device; the full run needs one (use --smoke for the CPU check)",
            file=sys.stderr,
        )
        return 2
    with tempfile.TemporaryDirectory(prefix="visionyard-gpu-") as tmp:
        workdir = Path(args.workdir) if args.workdir else Path(tmp)
        if not args.skip_real:
            # First, before CUDA starts: the JPEG writer forks worker processes.
            t = time.perf_counter()
            write_photo_folder(workdir / "photos" / "train", args.real_images, 10, seed=0)
            log(f"{args.real_images} JPEGs ready in {time.perf_counter() - t:.1f} s")
        peak = peak_for(torch.cuda.get_device_name(device)) if device.type == "cuda" else None
        bench = Bench(
            device=device,
            smoke=args.smoke,
            batch_size=args.batch_size,
            image_size=32 if args.smoke else 224,
            num_classes=10 if args.smoke else 1000,
            steps=args.steps,
            warmup=args.warmup,
            compile_backend="eager" if args.smoke else "inductor",
        )
        env = environment(device, peak)
        log(f"device {env['device_name']}, torch {env['torch']}, CUDA {env['cuda']}")
        compile_modes = [False] if args.no_compile else [False, True]

        def make_report(
            results: list[Result], real: dict[str, Any] | None, complete: bool
        ) -> dict[str, Any]:
            rows = [asdict(r) for r in results]
            ratio_rows = ratios(rows)
            return {
                "smoke": args.smoke,
                # false in the copy written after each variant, which a timeout leaves behind
                "complete": complete,
                "environment": env,
                "settings": {
                    "batch_size": bench.batch_size,
                    "image_size": bench.image_size,
                    "steps": bench.steps,
                    "warmup": bench.warmup,
                    "models": args.models,
                    "compile": not args.no_compile,
                    "compile_backend": None if args.no_compile else bench.compile_backend,
                },
                "synthetic": rows,
                "ratios": ratio_rows,
                "real_data": real,
                "targets": targets(rows, ratio_rows, real, args.smoke, peak and peak[1]),
                "elapsed_seconds": time.perf_counter() - started,
            }

        def save_partial(results: list[Result]) -> None:
            if args.json_path:
                atomic_write_json(Path(args.json_path), make_report(results, None, False))

        log("synthetic data:")
        results = run_synthetic(
            bench, args.models, compile_modes, peak and peak[1], log, save_partial
        )
        real = None
        if not args.skip_real:
            base = [
                r
                for r in results
                if r.model == MODELS[args.real_model].label
                and r.contender == "visionyard"
                and not r.compile
                and r.status == "ok"
            ]
            if not base:  # not measured above: measure the engine's eager synthetic rate now
                base = run_synthetic(bench, [args.real_model], [False], None, log)[:1]
            synthetic = base[0].images_per_second if base and base[0].status == "ok" else None
            real = run_real(bench, args, workdir, synthetic, log)
    report = make_report(results, real, complete=True)
    log(render(report))
    log(f"\ntotal {report['elapsed_seconds']:.0f} s")
    if args.json_path:
        atomic_write_json(Path(args.json_path), report)
    failed = any(r.status != "ok" for r in results) or any(
        v["status"] != "ok" for v in (real or {}).get("variants", {}).values()
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
