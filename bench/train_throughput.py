"""Training throughput: the Visionyard engine vs a plain PyTorch loop vs the Hugging Face Trainer.

All three contenders train the same tiny model (identical initial weights every round) on the same
digits train split, with the same dataset class (`ImageFolderDataset`), per-sample transform (the
model's eval resize), batch size, worker count and decode cache, in one process. A round is a
short training run per contender: a fresh model copy, fresh dataset/loader objects, then
--epochs-per-round epochs (so --cache pays off from a round's second epoch on). Rounds run all
three in a rotating order; round 0 is a warm-up and is discarded. The table reports the median
images/s per contender and the median of the per-round ratios (a slow moment of a shared machine
hits the contenders of one round alike, so per-round ratios cancel most of that noise), plus the
median over "clean" rounds only, where no contender ran far below its best round.

    python bench/train_throughput.py                       # tiny ViT, batch 64, 2 threads
    python bench/train_throughput.py --arch resnet --cache --num-workers 2 --json out.json
    python bench/train_throughput.py --photos --arch convnext   # 224 px photos, ~3 min

--photos trains tiny 224-px models (ViT with 16-px patches, ResNet, ConvNeXt with a 4-px stem,
built from transformers config classes) on photo-like 500x375 JPEGs (`photo_data.py`) with
random-resized-crop + flip. There each contender loads data the way its users do: the engine
through its own `DataPipeline` (train_preset "standard"), the plain loop and the Trainer through
torchvision's `ImageFolder` with v2 RandomResizedCrop(224) + RandomHorizontalFlip + ToImage +
ToDtype + Normalize per sample (the recipe of the torchvision and Transformers examples), so the
ratios are end to end: data pipeline and loop together.

What is timed:
  engine   `TrainLoop.train_epoch` over `DataPipeline.train_batches_from` (plus the runner's
           per-epoch `stats.summary()` host sync), built from a `TrainConfig` as the runner builds
           it: fused AdamW, cosine schedule, grad clipping at 1.0, fp32, channels-last batches
           and weights for the convolutional models (the engine's default memory format).
  plain    the loop a person writes: DataLoader, normalise on the host, forward, cross-entropy,
           backward, clip_grad_norm_, torch's default AdamW, zero_grad, `loss.item()` per step.
  trainer  `transformers.Trainer.train()` for the same epochs: "with setup" is the wall time of
           building TrainingArguments + Trainer + train(); "loop" is its own `train_runtime`
           (started after the dataloader, optimizer and accelerate preparation).
"""

from __future__ import annotations

import os

# Before any Hugging Face import: the Hub is never contacted.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import argparse
import copy
import gc
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from photo_data import write_photo_dataset
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from visionyard.errors import VisionyardError
from visionyard.training.config import TrainConfig
from visionyard.training.control import StopSignal
from visionyard.training.dataset_index import DatasetIndex
from visionyard.training.demo import TINY_ARCHS, write_digits_dataset, write_tiny_model
from visionyard.training.distributed import DistContext, resolve_device
from visionyard.training.engine import StepInfo, resolve_amp_dtype
from visionyard.training.fsutil import atomic_write_json
from visionyard.training.image_dataset import ImageFolderDataset
from visionyard.training.imagefolder import scan_dataset
from visionyard.training.loaders import build_pipeline
from visionyard.training.modeling import build_model, choose_channels_last
from visionyard.training.setup import build_loop, place_model
from visionyard.training.transforms import ProcessorSpec, build_eval_transform, processor_spec
from visionyard.training.workers import choose_num_workers

CONTENDERS = ("engine", "plain", "trainer")
# The acceptance targets of the issue (CPU): engine >= 0.95x plain and >= 1.0x Trainer; on the
# 224-px photos (--photos), where the data pipeline counts: >= 1.0x plain and >= 1.2x Trainer.
TARGETS = {"engine/plain": 0.95, "engine/trainer": 1.0}
PHOTO_TARGETS = {"engine/plain": 1.0, "engine/trainer": 1.2}
PHOTO_SIZE = 224
CLEAN_FRACTION = 0.85  # see summarise()
RATIOS = ("engine/plain", "engine/trainer", "engine/trainer+setup", "plain/trainer")


# --------------------------------------------------------------------------- shared set-up


@dataclass
class Setup:
    """Everything the three contenders share, built once."""

    cfg: TrainConfig
    index: DatasetIndex
    pristine: nn.Module  # initial weights; every contender trains a deep copy of it
    processor: Any
    spec: ProcessorSpec
    device: torch.device
    epochs: int
    threads: int
    workdir: Path
    photos: bool = False

    @property
    def train_images(self) -> int:
        return len(self.index.splits["train"])

    def dataset(self) -> Dataset[tuple[Tensor, int]]:
        """The plain loop's and the Trainer's dataset: on digits the same dataset type,
        transform and cache setting the engine's pipeline uses; on photos torchvision's
        ImageFolder recipe, which yields normalised float images."""
        if self.photos:
            return torchvision_photo_dataset(self.index.root / "train", self.spec)
        return ImageFolderDataset(
            self.index.root,
            self.index.splits["train"],
            build_eval_transform(self.spec),
            seed=self.cfg.seed,
            cache_decoded=self.cfg.cache_images,
        )

    def fresh_model(self) -> nn.Module:
        return copy.deepcopy(self.pristine).to(self.device)

    def loader_kwargs(self) -> dict[str, Any]:
        # As the engine resolves it (the script always sets a count; None would mean "auto").
        workers = choose_num_workers(self.cfg.num_workers, self.device).count
        kwargs: dict[str, Any] = {"num_workers": workers}
        if workers > 0:
            kwargs["persistent_workers"] = self.cfg.persistent_workers
        return kwargs

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


@dataclass
class Timing:
    images: int
    seconds: float  # what the contender's throughput is computed from
    # Building loaders/optimizer/etc. before the timed part; for the Trainer: TrainingArguments +
    # constructor + what train() does before its own clock starts (dataloader, optimizer, prepare).
    setup_seconds: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def ips(self) -> float:
        return self.images / self.seconds


def torchvision_photo_dataset(root: Path, spec: ProcessorSpec) -> Dataset[tuple[Tensor, int]]:
    from torchvision import datasets
    from torchvision.transforms import v2

    transform = v2.Compose(
        [
            v2.RandomResizedCrop((spec.height, spec.width)),
            v2.RandomHorizontalFlip(),
            v2.ToImage(),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(list(spec.mean), list(spec.std)),
        ]
    )
    dataset: Dataset[tuple[Tensor, int]] = datasets.ImageFolder(str(root), transform=transform)
    return dataset


def write_photo_model(folder: Path, arch: str, num_labels: int) -> Path:
    """A tiny model for 224-px input, from transformers config classes (no download)."""
    from transformers import (
        AutoModelForImageClassification,
        ConvNextConfig,
        ConvNextImageProcessor,
        ResNetConfig,
        ViTConfig,
        ViTImageProcessor,
    )

    half = [0.5, 0.5, 0.5]
    config: Any
    if arch == "vit":
        # 14x14 patches of 16 px: the token count of ViT-B/16, the width of a tiny model.
        config = ViTConfig(
            image_size=PHOTO_SIZE,
            patch_size=16,
            hidden_size=48,
            num_hidden_layers=2,
            num_attention_heads=3,
            intermediate_size=96,
        )
        processor: Any = ViTImageProcessor(
            size={"height": PHOTO_SIZE, "width": PHOTO_SIZE}, image_mean=half, image_std=half
        )
    else:
        if arch == "resnet":  # stem /4 (7x7 conv /2 + max-pool), two basic stages
            config = ResNetConfig(
                embedding_size=16, hidden_sizes=[16, 32], depths=[1, 1], layer_type="basic"
            )
        else:  # ConvNeXt's own 4-px patchify stem, two stages
            config = ConvNextConfig(
                num_stages=2, hidden_sizes=[16, 32], depths=[1, 1], patch_size=4
            )
        processor = ConvNextImageProcessor(
            size={"shortest_edge": PHOTO_SIZE}, crop_pct=1.0, image_mean=half, image_std=half
        )
    config.num_labels = num_labels
    torch.manual_seed(0)
    AutoModelForImageClassification.from_config(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def prepare(args: argparse.Namespace, workdir: Path) -> Setup:
    if args.photos:
        data_root = write_photo_dataset(workdir / "photos", train_images=args.photo_images)
        classes = len([p for p in (data_root / "train").iterdir() if p.is_dir()])
        model_dir = write_photo_model(workdir / f"photo-{args.arch}", args.arch, classes)
    else:
        data_root = Path(args.data) if args.data else workdir / "digits"
        if not args.data:
            write_digits_dataset(data_root)
        model_dir = write_tiny_model(workdir / f"tiny-{args.arch}", arch=args.arch)
    cfg = TrainConfig(
        root=str(data_root),
        model_flavour=str(model_dir),
        batch_size=args.batch_size,
        epochs=args.epochs_per_round,
        num_workers=args.num_workers,
        cache_images=args.cache,
        # Digits: "none" = the eval resize, the same per-sample transform the other two
        # contenders get. Photos: random-resized-crop + flip, as their torchvision recipe does.
        train_preset="standard" if args.photos else "none",
        autocast_dtype="fp32",
        device=args.device,
        progress_bar=False,
        output_dir=str(workdir / "runs"),
    )
    index = scan_dataset(cfg.root, image_check=cfg.image_check, seed=cfg.seed)
    model, processor = build_model(cfg.model_flavour, class_names=index.classes)
    device = resolve_device(cfg.device, DistContext())
    return Setup(
        cfg=cfg,
        index=index,
        pristine=model,
        processor=processor,
        spec=processor_spec(processor),
        device=device,
        epochs=args.epochs_per_round,
        threads=args.threads,
        workdir=workdir,
        photos=args.photos,
    )


class Normalise:
    """uint8 NCHW -> (x / 255 - mean) / std, the way a hand-written loop does it."""

    def __init__(self, spec: ProcessorSpec, device: torch.device) -> None:
        self.mean = torch.tensor(spec.mean, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(spec.std, device=device).view(1, 3, 1, 1)

    def __call__(self, images: Tensor) -> Tensor:
        if images.is_floating_point():  # the torchvision photo recipe normalised per sample
            return images
        return (images.float() / 255.0 - self.mean) / self.std


# --------------------------------------------------------------------------- contenders


def run_engine(s: Setup) -> Timing:
    """The engine as `setup.build_training()` wires it, minus tracking/checkpoint/eval."""
    cfg = s.cfg
    ctx = DistContext()
    stop = StopSignal()
    fresh = s.fresh_model()
    setup_start = time.perf_counter()
    channels_last, _ = choose_channels_last(cfg.channels_last, fresh)
    cfg = cfg.model_copy(update={"channels_last": channels_last})
    data = build_pipeline(cfg, s.index, s.processor, device=s.device, ctx=ctx)
    model = place_model(fresh, s.device, channels_last)
    steps_per_epoch = -(-data.train_batches // cfg.grad_accum_steps)
    loop = build_loop(
        cfg,
        model,
        device=s.device,
        amp_dtype=resolve_amp_dtype(cfg.autocast_dtype, s.device),
        total_steps=steps_per_epoch * cfg.epochs,
        num_classes=len(s.index.classes),
        stop_requested=lambda: ctx.any_flag(stop.is_set(), s.device),
    )
    scheduler = loop.scheduler
    logged: list[float] = []

    def on_step(info: StepInfo) -> None:
        # The runner's callback minus file I/O: one host sync every log_every_steps steps.
        if info.step % cfg.log_every_steps == 0:
            logged.append(float(info.loss))
            scheduler.get_last_lr()

    images = 0
    s.sync()
    start = time.perf_counter()
    setup = start - setup_start
    for epoch in range(s.epochs):
        stats = loop.train_epoch(
            data.train_batches_from(epoch, 0),
            epoch=epoch,
            num_batches=data.train_batches,
            on_step=on_step,
        )
        stats.summary()  # the runner's once-per-epoch host sync
        images += stats.samples
    s.sync()
    return Timing(images=images, seconds=time.perf_counter() - start, setup_seconds=setup)


def run_plain(s: Setup) -> Timing:
    """The minimal idiomatic PyTorch loop."""
    cfg = s.cfg
    model = s.fresh_model()
    setup_start = time.perf_counter()
    loader = DataLoader(
        s.dataset(),
        batch_size=cfg.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(cfg.seed),
        pin_memory=s.device.type == "cuda",
        **s.loader_kwargs(),
    )
    normalise = Normalise(s.spec, s.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    images = 0
    s.sync()
    start = time.perf_counter()
    setup = start - setup_start
    for _epoch in range(s.epochs):
        model.train()
        total_loss = 0.0
        for x, y in loader:
            x = normalise(x.to(s.device, non_blocking=True))
            y = y.to(s.device, non_blocking=True)
            logits = model(pixel_values=x).logits
            loss = F.cross_entropy(logits, y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm or float("inf"))
            optimizer.step()
            optimizer.zero_grad()
            total_loss += loss.item() * y.shape[0]
            images += y.shape[0]
    s.sync()
    return Timing(images=images, seconds=time.perf_counter() - start, setup_seconds=setup)


class HFImageDataset(Dataset[dict[str, Any]]):
    """The shared ImageFolderDataset in the dict form the Trainer feeds to the model."""

    def __init__(self, images: Dataset[tuple[Tensor, int]]) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> dict[str, Any]:
        image, label = self.images[index]
        return {"pixel_values": image, "labels": label}


class HFCollate:
    """Stack uint8 images and normalise the batch (the same batched maths as the plain loop)."""

    def __init__(self, spec: ProcessorSpec) -> None:
        self.normalise = Normalise(spec, torch.device("cpu"))

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Tensor]:
        pixels = torch.stack([f["pixel_values"] for f in features])
        labels = torch.tensor([f["labels"] for f in features], dtype=torch.long)
        return {"pixel_values": self.normalise(pixels), "labels": labels}


def run_trainer(s: Setup) -> Timing:
    from transformers import PrinterCallback, Trainer, TrainingArguments

    cfg = s.cfg
    model = s.fresh_model()
    dataset = HFImageDataset(s.dataset())
    with tempfile.TemporaryDirectory(dir=s.workdir) as out:
        s.sync()
        start = time.perf_counter()
        args = TrainingArguments(
            output_dir=out,
            per_device_train_batch_size=cfg.batch_size,
            num_train_epochs=s.epochs,
            learning_rate=cfg.lr,
            weight_decay=cfg.weight_decay,
            max_grad_norm=cfg.max_grad_norm or 0.0,
            seed=cfg.seed,
            use_cpu=s.device.type == "cpu",
            dataloader_num_workers=s.loader_kwargs()["num_workers"],
            dataloader_persistent_workers=s.loader_kwargs().get("persistent_workers", False),
            # As the Transformers image-classification example: keep our dict keys as they are.
            remove_unused_columns=False,
            report_to="none",
            save_strategy="no",
            eval_strategy="no",
            logging_strategy="no",
            disable_tqdm=True,
        )
        trainer = Trainer(
            model=model, args=args, train_dataset=dataset, data_collator=HFCollate(s.spec)
        )
        # With disable_tqdm the Trainer prints its final metrics dict; our table reports them.
        trainer.remove_callback(PrinterCallback)
        result = trainer.train()
        s.sync()
        wall = time.perf_counter() - start
    runtime = float(result.metrics["train_runtime"])
    images = s.train_images * s.epochs
    return Timing(
        images=images,
        seconds=runtime,
        setup_seconds=wall - runtime,
        extra={"with_setup_ips": images / wall, "wall_seconds": wall},
    )


RUNNERS: dict[str, Callable[[Setup], Timing]] = {
    "engine": run_engine,
    "plain": run_plain,
    "trainer": run_trainer,
}


# --------------------------------------------------------------------------- rounds and report


def rotated(round_index: int) -> list[str]:
    k = round_index % len(CONTENDERS)
    return list(CONTENDERS[k:] + CONTENDERS[:k])


def run_rounds(s: Setup, rounds: int, log: Callable[[str], None]) -> list[dict[str, Timing]]:
    results: list[dict[str, Timing]] = []
    for r in range(rounds):
        row: dict[str, Timing] = {}
        for name in rotated(r):
            # Transformers/accelerate must not change the thread count behind our back.
            torch.set_num_threads(s.threads)
            gc.collect()
            row[name] = RUNNERS[name](s)
        results.append(row)
        tag = " (warm-up, discarded)" if r == 0 else ""
        log(
            f"round {r}{tag}: "
            + "  ".join(f"{n} {row[n].ips:,.0f}" for n in CONTENDERS)
            + f"  trainer+setup {row['trainer'].extra['with_setup_ips']:,.0f} img/s"
        )
    return results


def _stats(values: list[float]) -> dict[str, Any]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarise(results: list[dict[str, Timing]], targets: dict[str, float]) -> dict[str, Any]:
    measured = results[1:] if len(results) > 1 else results
    ips = {n: [row[n].ips for row in measured] for n in CONTENDERS}
    ips["trainer+setup"] = [row["trainer"].extra["with_setup_ips"] for row in measured]

    def ratio(row: dict[str, Timing], name: str) -> float:
        num, den = name.split("/")
        value = {n: row[n].ips for n in CONTENDERS}
        value["trainer+setup"] = row["trainer"].extra["with_setup_ips"]
        return value[num] / value[den]

    # Other load only ever slows a contender down, so its best round is the closest to its
    # undisturbed speed. A round is "clean" when every contender ran within CLEAN_FRACTION of
    # its best; on a shared machine the median over clean rounds is the more trustworthy one.
    best = {n: max(ips[n]) for n in CONTENDERS}
    clean = [
        row for row in measured if all(row[n].ips >= CLEAN_FRACTION * best[n] for n in CONTENDERS)
    ]
    ratios: dict[str, Any] = {}
    for name in RATIOS:
        values = [ratio(row, name) for row in measured]
        clean_values = [ratio(row, name) for row in clean]
        ratios[name] = _stats(values) | {
            "clean_median": statistics.median(clean_values) if clean_values else None,
            "rounds": values,
        }
    return {
        "measured_rounds": len(measured),
        "clean_rounds": len(clean),
        "images_per_second": {n: _stats(v) | {"rounds": v} for n, v in ips.items()},
        "ratios": ratios,
        "setup_seconds_median": {
            n: statistics.median(row[n].setup_seconds for row in measured) for n in CONTENDERS
        },
        "targets": {
            name: {"target": target, "met": ratios[name]["median"] >= target}
            for name, target in targets.items()
        },
    }


def environment(s: Setup) -> dict[str, Any]:
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "device": str(s.device),
        "cuda": torch.cuda.get_device_name(s.device) if s.device.type == "cuda" else None,
    }


def render(summary: dict[str, Any], s: Setup, args: argparse.Namespace, rounds: int) -> str:
    ips = summary["images_per_second"]
    ratios = summary["ratios"]
    params = sum(p.numel() for p in s.pristine.parameters())
    lines = [
        "",
        f"tiny {args.arch} ({params:,} params), {s.train_images} train "
        f"{'500x375 photos at 224 px' if s.photos else 'images'}, "
        f"batch {s.cfg.batch_size}, {s.epochs} epoch(s)/round, {rounds - 1} measured round(s), "
        f"{s.threads} threads, num_workers={s.cfg.num_workers}, cache={s.cfg.cache_images}, "
        f"device={s.device}",
        "",
        f"{'contender':<22}{'median img/s':>14}{'min':>10}{'max':>10}",
    ]
    labels = {
        "engine": "visionyard engine",
        "plain": "plain PyTorch loop",
        "trainer": "HF Trainer (loop)",
        "trainer+setup": "HF Trainer (+setup)",
    }
    for key, label in labels.items():
        v = ips[key]
        lines.append(f"{label:<22}{v['median']:>14,.0f}{v['min']:>10,.0f}{v['max']:>10,.0f}")
    n_clean = summary["clean_rounds"]
    lines += [
        "",
        f"{'ratio (per round)':<22}{'median':>9}{'clean':>9}{'min':>9}{'max':>9}   target",
    ]
    for key in RATIOS:
        v = ratios[key]
        clean = f"{v['clean_median']:>8.3f}x" if v["clean_median"] is not None else f"{'-':>9}"
        target = summary["targets"].get(key, {}).get("target")
        verdict = ""
        if target is not None:
            met = v["median"] >= target
            verdict = f"{'>=' if met else '<'}{target:.2f} {'met' if met else 'MISSED'}"
        lines.append(
            f"{key:<22}{v['median']:>8.3f}x{clean}{v['min']:>8.3f}x{v['max']:>8.3f}x   {verdict}"
        )
    lines.append(
        f"(median over all measured rounds; clean = median over the {n_clean} round(s) where "
        f"every contender ran at >= {CLEAN_FRACTION:.0%} of its best round)"
    )
    if n_clean * 2 < summary["measured_rounds"]:
        lines.append(
            f"\nWARNING: only {n_clean} of {summary['measured_rounds']} rounds were clean: the "
            "machine was busy; rerun when it is idle for trustworthy numbers."
        )
    setup = summary["setup_seconds_median"]
    lines.append(
        "\nset-up per round, not in img/s (median): "
        + ", ".join(f"{n} {setup[n]:.3f} s" for n in CONTENDERS)
        + " (Trainer: arguments + constructor + train()'s own preparation)"
    )
    return "\n".join(line.rstrip() for line in lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--arch", choices=TINY_ARCHS, default="vit", help="tiny model (default vit)"
    )
    parser.add_argument("--data", help="ImageFolder root to use instead of the digits dataset")
    parser.add_argument(
        "--photos",
        action="store_true",
        help="photo-like 500x375 JPEGs, 224-px models, each contender's own data pipeline",
    )
    parser.add_argument(
        "--photo-images", type=int, default=384, help="train images with --photos (default 384)"
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=16, help="rounds, the first is a warm-up")
    parser.add_argument("--epochs-per-round", type=int, default=4)
    parser.add_argument("--num-workers", type=int, default=0, help="DataLoader workers (all three)")
    parser.add_argument("--cache", action="store_true", help="cache decoded images (all three)")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument(
        "--device", choices=("cpu", "cuda"), default="cpu", help="cuda: untested (no GPU here)"
    )
    parser.add_argument("--workdir", help="where the dataset and model are written (default: temp)")
    parser.add_argument("--json", dest="json_path", help="also write the numbers to this JSON file")
    args = parser.parse_args(argv)
    if args.rounds < 2:
        parser.error("--rounds must be >= 2 (round 0 is a discarded warm-up)")
    for name in ("batch_size", "epochs_per_round", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.num_workers < 0:
        parser.error("--num-workers must be >= 0")
    if args.photos and args.data:
        parser.error("--photos writes its own dataset; leave out --data")
    if args.photo_images < args.batch_size:
        parser.error("--photo-images must be >= --batch-size")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()

    def log(message: str) -> None:
        print(message, flush=True)

    with tempfile.TemporaryDirectory(prefix="visionyard-bench-") as tmp:
        workdir = Path(args.workdir) if args.workdir else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        try:
            s = prepare(args, workdir)
        except VisionyardError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return exc.exit_code
        results = run_rounds(s, args.rounds, log)
        summary = summarise(results, PHOTO_TARGETS if args.photos else TARGETS)
        log(render(summary, s, args, args.rounds))
        log(f"total {time.perf_counter() - started:.0f} s")
        if args.json_path:
            atomic_write_json(
                Path(args.json_path),
                {
                    "settings": {k: v for k, v in vars(args).items() if k != "json_path"},
                    "environment": environment(s),
                    "train_images": s.train_images,
                    "summary": summary,
                    "rounds": [{n: asdict(t) for n, t in row.items()} for row in results],
                },
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
