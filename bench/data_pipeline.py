"""Training data pipeline per CPU core on photo-sized JPEGs: Visionyard vs torchvision vs timm.

Every contender turns the same ~2,000 photo-like 500x375 JPEGs (`photo_data.py`, ImageFolder
layout; --photo-size for others, e.g. a phone camera's 4000x3000) into normalised float batches
of 64 x 3 x 224 x 224 through random-resized-crop to 224 (scale 0.08-1, ratio 3/4-4/3,
bilinear), a random horizontal flip and ImageNet normalisation:

  visionyard   the real pipeline: `DataPipeline` from a `TrainConfig` (train_preset "standard")
               and an image processor: `ImageFolderDataset` (decoding only each JPEG's random
               crop with `jpeg_crop`, else torchvision's libjpeg-turbo decode,
               per-sample seeded v2 transforms on uint8), uint8 batches, `BatchPreprocessor`
               normalising on the device (here the CPU).
  torchvision  `datasets.ImageFolder` (its default PIL loader) + `DataLoader(shuffle=True)`, v2
               RandomResizedCrop(224) + RandomHorizontalFlip + ToImage + ToDtype(float32,
               scale=True) + Normalize: the torchvision docs' recipe with its defaults.
  timm         `timm.data.create_loader(is_training=True)` over `timm.data.ImageDataset` with its
               defaults (uint8 batches normalised by its PrefetchLoader) except color_jitter=0,
               so the augmentation matches.
  decode       the ceiling: only decoding every image (Visionyard's `decode_rgb` without its
               layout copy, libjpeg-turbo via torchvision: the fastest decode it has), no
               transform, no batching.
  visionyard-cache  opt-in (--contenders): `cache_images=True`, cache filled by an untimed epoch.
  visionyard-full-decode  opt-in: the same pipeline with partial JPEG decoding off (every file
               decoded whole, then cropped): what the crop-first decode saves.
  visionyard-scaled  opt-in: `jpeg_scaled_decode=True`, crops decoded at 1/2-1/8 size where
               they stay at least 224 px (camera-sized photos); its batches are also compared
               with visionyard's (same crops) and the mean absolute difference is reported.
  decode-pil   for reference: `PIL.Image.open(path).convert("RGB")`, torchvision's loader.

"Per core": every contender runs in this one process with `num_workers=0` and
`torch.set_num_threads(1)`, and its speed is images per second of this process's CPU time
(`time.process_time`), what one core delivers (DataLoader workers multiply it by the cores they
get). CPU time, unlike wall time, barely moves when other jobs share the machine; wall-clock
images/s are reported too (`--clock wall` ranks by them). Contenders are interleaved: each round
runs each of them for --images-per-round images in a rotating order; round 0 is a discarded warm-up.
The report gives median images/s and the median of per-round ratios (a busy moment of a shared
machine slows one round's contenders alike).

    python bench/data_pipeline.py        # ~1.5 min on 2 cores, +40 s to write the photos once
    python bench/data_pipeline.py --rounds 5 --images-per-round 256 --json /tmp/dp.json
    python bench/data_pipeline.py --photo-size 4000x3000 --train-images 48 --val-images 10 \
        --images-per-round 48 --batch-size 16 --rounds 6 \
        --contenders visionyard,visionyard-full-decode,visionyard-scaled,torchvision,decode
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import argparse
import gc
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import torch
from photo_data import write_photo_dataset
from photos import HEIGHT as PHOTO_HEIGHT
from photos import WIDTH as PHOTO_WIDTH
from PIL import Image
from torch.utils.data import DataLoader

from visionyard.training.config import TrainConfig
from visionyard.training.decoding import decode_rgb
from visionyard.training.distributed import DistContext
from visionyard.training.fsutil import atomic_write_json
from visionyard.training.imagefolder import scan_dataset
from visionyard.training.loaders import build_pipeline

SIZE = 224
MEAN = (0.485, 0.456, 0.406)  # ImageNet, as torchvision and timm recipes use
STD = (0.229, 0.224, 0.225)
CONTENDERS = ("visionyard", "torchvision", "timm", "decode", "decode-pil")
# Opt-in (--contenders): Visionyard with cache_images=True, its cache filled by an untimed epoch
# first, so rounds measure the steady state of later epochs. Holds every decoded photo in
# memory (~1.1 GB for 2,000 500x375 photos).
# Also opt-in: Visionyard decoding every JPEG whole (ImageFolderDataset.partial_decode off).
EXTRA = ("visionyard-cache", "visionyard-full-decode", "visionyard-scaled")
# The targets: Visionyard >= 1.5x torchvision's defaults and >= 0.7x the decode ceiling.
TARGETS = {"visionyard/torchvision": 1.5, "visionyard/decode": 0.7}
RATIOS = (
    "visionyard/torchvision",
    "visionyard/timm",
    "visionyard/decode",
    "decode/decode-pil",
    "visionyard-cache/visionyard",
    "visionyard/visionyard-full-decode",
    "visionyard-scaled/visionyard",
)


@dataclass
class Setup:
    root: Path
    batch_size: int
    images: int  # per contender per round
    seed: int = 0


Batches = Iterable[Any]


def _consume(batches: Batches, images: int, batch_size: int) -> int:
    """Pull batches until ``images`` images have gone by; touch each so nothing stays lazy."""
    done = 0
    for batch in islice(batches, -(-images // batch_size)):
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        assert x.dtype == torch.float32 and x.shape[-2:] == (SIZE, SIZE), (x.dtype, x.shape)
        done += x.shape[0]
    return done


class Visionyard:
    def __init__(
        self, s: Setup, *, cache: bool = False, partial_decode: bool = True, scaled: bool = False
    ) -> None:
        from transformers import ViTImageProcessor

        cfg = TrainConfig(
            root=str(s.root),
            model_flavour="unused",  # the pipeline takes the processor below
            batch_size=s.batch_size,
            num_workers=0,
            cache_images=cache,
            jpeg_scaled_decode=scaled,
            train_preset="standard",
            seed=s.seed,
        )
        processor = ViTImageProcessor(
            size={"height": SIZE, "width": SIZE}, image_mean=list(MEAN), image_std=list(STD)
        )
        index = scan_dataset(s.root, image_check="off", seed=s.seed)
        self.data = build_pipeline(
            cfg, index, processor, device=torch.device("cpu"), ctx=DistContext()
        )
        if not partial_decode:  # (the dataset itself turns it off with the cache)
            self.data.train_set.partial_decode = False
        self.epoch = 0
        if cache:
            images = len(self.data.train_set)
            _consume(self.data.train_batches_from(0, 0), images, s.batch_size)

    def __call__(self, s: Setup) -> int:
        self.epoch += 1  # a new shuffle and new augmentations each round
        return _consume(self.data.train_batches_from(self.epoch, 0), s.images, s.batch_size)


class Torchvision:
    def __init__(self, s: Setup) -> None:
        from torchvision import datasets
        from torchvision.transforms import v2

        transform = v2.Compose(
            [
                v2.RandomResizedCrop(SIZE),
                v2.RandomHorizontalFlip(),
                v2.ToImage(),
                v2.ToDtype(torch.float32, scale=True),
                v2.Normalize(MEAN, STD),
            ]
        )
        dataset = datasets.ImageFolder(str(s.root / "train"), transform=transform)
        self.loader = DataLoader(dataset, batch_size=s.batch_size, shuffle=True)

    def __call__(self, s: Setup) -> int:
        return _consume(self.loader, s.images, s.batch_size)


class Timm:
    def __init__(self, s: Setup) -> None:
        from timm.data import ImageDataset, create_loader

        dataset = ImageDataset(str(s.root / "train"))
        self.loader = create_loader(
            dataset,
            input_size=(3, SIZE, SIZE),
            batch_size=s.batch_size,
            is_training=True,
            color_jitter=0.0,  # its default 0.4 would do more work than the others
            mean=MEAN,
            std=STD,
            num_workers=0,
            persistent_workers=False,  # torch rejects persistent workers without workers
            device=torch.device("cpu"),
        )

    def __call__(self, s: Setup) -> int:
        return _consume(self.loader, s.images, s.batch_size)


class Decode:
    """Decode every file in turn, nothing else; ``pil`` switches to PIL's open + convert."""

    def __init__(self, s: Setup, *, pil: bool) -> None:
        self.paths = sorted(str(p) for p in (s.root / "train").rglob("*.jpg"))
        self.pil = pil
        self.offset = 0

    def _decode(self, path: str) -> Any:
        if self.pil:
            with Image.open(path) as image:
                return image.convert("RGB")
        # Without the final HWC -> CHW copy: the fastest decode Visionyard has.
        return decode_rgb(path, contiguous=False)

    def __call__(self, s: Setup) -> int:
        for i in range(s.images):
            self._decode(self.paths[(self.offset + i) % len(self.paths)])
        self.offset += s.images
        return s.images


def build(s: Setup, names: Iterable[str]) -> dict[str, Callable[[Setup], int]]:
    factories: dict[str, Callable[[], Callable[[Setup], int]]] = {
        "visionyard": lambda: Visionyard(s),
        "visionyard-cache": lambda: Visionyard(s, cache=True),
        "visionyard-full-decode": lambda: Visionyard(s, partial_decode=False),
        "visionyard-scaled": lambda: Visionyard(s, scaled=True),
        "torchvision": lambda: Torchvision(s),
        "timm": lambda: Timm(s),
        "decode": lambda: Decode(s, pil=False),
        "decode-pil": lambda: Decode(s, pil=True),
    }
    return {name: factories[name]() for name in names}


def scaled_difference(runners: dict[str, Callable[[Setup], int]], samples: int) -> dict[str, Any]:
    """How far the scaled decode's samples are from the exact ones: the same keys (so the same
    crops and flips), uint8 pixel levels, over the first ``samples`` training images."""
    exact, scaled = runners["visionyard"], runners["visionyard-scaled"]
    assert isinstance(exact, Visionyard) and isinstance(scaled, Visionyard)
    total, worst, pixels = 0.0, 0, 0
    count = min(samples, len(exact.data.train_set))
    for index in range(count):
        a, _ = exact.data.train_set[(0, index)]
        b, _ = scaled.data.train_set[(0, index)]
        error = (a.int() - b.int()).abs()
        total += float(error.sum())
        worst = max(worst, int(error.max()))
        pixels += error.numel()
    return {"samples": count, "mean_abs_levels": total / pixels, "max_abs_levels": worst}


def rotated(names: tuple[str, ...], r: int) -> Iterator[str]:
    k = r % len(names)
    yield from names[k:] + names[:k]


def run_rounds(
    s: Setup, runners: dict[str, Callable[[Setup], int]], rounds: int, log: Callable[[str], None]
) -> list[dict[str, dict[str, float]]]:
    """Per round and contender: images per CPU second ("cpu") and per wall second ("wall")."""
    names = tuple(runners)
    results: list[dict[str, dict[str, float]]] = []
    for r in range(rounds):
        row: dict[str, dict[str, float]] = {}
        for name in rotated(names, r):
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            images = runners[name](s)
            row[name] = {
                "cpu": images / (time.process_time() - cpu),
                "wall": images / (time.perf_counter() - wall),
            }
        results.append(row)
        tag = " (warm-up, discarded)" if r == 0 else ""
        log(
            f"round {r}{tag}: "
            + "  ".join(f"{n} {row[n]['cpu']:,.1f} ({row[n]['wall']:,.1f})" for n in names)
            + " img/cpu-s (img/wall-s)"
        )
    return results


def summarise(
    results: list[dict[str, dict[str, float]]], names: tuple[str, ...], clock: str
) -> dict[str, Any]:
    measured = [{n: row[n][clock] for n in names} for row in results[1:]]
    ips = {
        n: {"median": statistics.median(v), "min": min(v), "max": max(v), "rounds": v}
        for n in names
        for v in [[row[n] for row in measured]]
    }
    wall = {n: statistics.median(row[n]["wall"] for row in results[1:]) for n in names}
    ratios: dict[str, Any] = {}
    for name in RATIOS:
        num, den = name.split("/")
        if num in names and den in names:
            values = [row[num] / row[den] for row in measured]
            ratios[name] = {
                "median": statistics.median(values),
                "min": min(values),
                "max": max(values),
            }
    targets = {
        name: {"target": target, "met": ratios[name]["median"] >= target}
        for name, target in TARGETS.items()
        if name in ratios
    }
    return {
        "clock": clock,
        "images_per_second": ips,
        "wall_images_per_second_median": wall,
        "ratios": ratios,
        "targets": targets,
    }


def render(summary: dict[str, Any], s: Setup, rounds: int) -> str:
    # Columns as wide as the longest name (the opt-in contenders' names are long).
    name_w = max(18, *(len(n) + 2 for n in summary["images_per_second"]))
    ratio_w = max(24, *(len(n) + 2 for n in summary["ratios"]))
    lines = [
        "",
        f"{s.images} images per contender per round, {rounds - 1} measured round(s), batch "
        f"{s.batch_size}, {SIZE}x{SIZE}, 1 thread, num_workers=0",
        "",
        f"images per {summary['clock']} second; wall = median images per wall-clock second",
        "",
        f"{'contender':<{name_w}}{'median img/s':>14}{'min':>10}{'max':>10}{'wall':>10}",
    ]
    for name, v in summary["images_per_second"].items():
        wall = summary["wall_images_per_second_median"][name]
        lines.append(
            f"{name:<{name_w}}{v['median']:>14,.1f}{v['min']:>10,.1f}{v['max']:>10,.1f}{wall:>10,.1f}"
        )
    lines += ["", f"{'ratio (per round)':<{ratio_w}}{'median':>9}{'min':>9}{'max':>9}   target"]
    for name, v in summary["ratios"].items():
        verdict = ""
        if name in summary["targets"]:
            t = summary["targets"][name]
            met = t["met"]
            verdict = f"{'>=' if met else '<'}{t['target']:.2f} {'met' if met else 'MISSED'}"
        lines.append(
            f"{name:<{ratio_w}}{v['median']:>8.3f}x{v['min']:>8.3f}x{v['max']:>8.3f}x   {verdict}"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--train-images", type=int, default=2000)
    parser.add_argument("--val-images", type=int, default=200, help="written, not timed")
    parser.add_argument(
        "--photo-size",
        default=f"{PHOTO_WIDTH}x{PHOTO_HEIGHT}",
        help="WIDTHxHEIGHT of the photos (default %(default)s; e.g. 4000x3000 for a phone "
        "camera's)",
    )
    parser.add_argument("--images-per-round", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=11, help="rounds, the first is a warm-up")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--contenders",
        default=",".join(CONTENDERS),
        help=f"comma-separated, from {','.join(CONTENDERS + EXTRA)} (default: all but "
        f"{','.join(EXTRA)})",
    )
    parser.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default="cpu",
        help="what img/s and the ratios count: process CPU seconds (default) or wall seconds",
    )
    parser.add_argument("--workdir", help="where the photos are written (default: temp; reused)")
    parser.add_argument("--json", dest="json_path", help="also write the numbers to this JSON file")
    args = parser.parse_args(argv)
    if args.rounds < 2:
        parser.error("--rounds must be >= 2 (round 0 is a discarded warm-up)")
    try:
        width, height = (int(side) for side in args.photo_size.lower().split("x"))
    except ValueError:
        parser.error(f"--photo-size must be WIDTHxHEIGHT, e.g. 4000x3000, got {args.photo_size!r}")
    if min(width, height) < SIZE:
        parser.error(f"--photo-size must be at least {SIZE} pixels on each side")
    args.photo_size = (width, height)
    unknown = set(args.contenders.split(",")) - set(CONTENDERS + EXTRA)
    if unknown:
        parser.error(f"unknown contender(s) {sorted(unknown)}; choose from {CONTENDERS}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    names = tuple(n for n in CONTENDERS + EXTRA if n in args.contenders.split(","))
    with tempfile.TemporaryDirectory(prefix="visionyard-bench-") as tmp:
        workdir = Path(args.workdir) if args.workdir else Path(tmp)
        started = time.perf_counter()
        size_text = "{}x{}".format(*args.photo_size)
        default_size = args.photo_size == (PHOTO_WIDTH, PHOTO_HEIGHT)
        folder = "photos" if default_size else f"photos-{size_text}"
        root = write_photo_dataset(
            workdir / folder,
            train_images=args.train_images,
            val_images=args.val_images,
            size=args.photo_size,
        )
        print(
            f"{size_text} photos ready in {time.perf_counter() - started:.0f} s: {root}",
            flush=True,
        )
        s = Setup(root, args.batch_size, args.images_per_round)
        runners = build(s, names)
        results = run_rounds(s, runners, args.rounds, lambda m: print(m, flush=True))
        summary = summarise(results, names, args.clock)
        print(render(summary, s, args.rounds))
        if {"visionyard", "visionyard-scaled"} <= set(names):
            summary["scaled_difference"] = diff = scaled_difference(runners, 64)
            print(
                f"visionyard-scaled vs visionyard, same crops, {diff['samples']} samples: "
                f"mean |difference| {diff['mean_abs_levels']:.2f} of 255 levels, "
                f"max {diff['max_abs_levels']}"
            )
        print(f"total {time.perf_counter() - started:.0f} s, load average {os.getloadavg()}")
        if args.json_path:
            import PIL
            import torchvision

            atomic_write_json(
                Path(args.json_path),
                {
                    "settings": {k: v for k, v in vars(args).items() if k != "json_path"},
                    "environment": {
                        "python": platform.python_version(),
                        "torch": torch.__version__,
                        "torchvision": torchvision.__version__,
                        "pillow": PIL.__version__,
                        "cpu_count": os.cpu_count(),
                        "load_average_end": os.getloadavg(),
                    },
                    "summary": summary,
                },
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
