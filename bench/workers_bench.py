"""The engine's DataLoader worker count: the default (sized to the machine) against fixed counts.

Same engine, same photos, same tiny 224-px model, one process: each round trains a fresh copy of
the model for --epochs-per-round epochs once per variant, in a rotating order; round 0 is a
warm-up and is discarded. Speed is wall-clock images/s over the round's epochs (workers run in
parallel with the step, so CPU time would not show what they win or cost), including the
workers' start at the round's first epoch (persistent after it, as the engine's default). Ratios
are medians of per-round ratios against the first variant.

    python bench/workers_bench.py                # auto vs 2 (the former default) vs 1
    python bench/workers_bench.py --variants auto,0,2,4 --epochs-per-round 3 --json out.json
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import argparse
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from train_throughput import Setup, prepare, run_engine

from visionyard.training.fsutil import atomic_write_json
from visionyard.training.workers import choose_num_workers


def parse_variant(text: str) -> int | None:
    return None if text == "auto" else int(text)


def label(variant: int | None) -> str:
    return "auto" if variant is None else str(variant)


def run_rounds(s: Setup, variants: list[int | None], rounds: int) -> list[dict[str, float]]:
    base_cfg = s.cfg
    results = []
    for r in range(rounds):
        k = r % len(variants)
        row: dict[str, float] = {}
        for variant in variants[k:] + variants[:k]:
            s.cfg = base_cfg.model_copy(update={"num_workers": variant})
            torch.set_num_threads(s.threads)
            gc.collect()
            timing = run_engine(s)
            # Wall time from building the pipeline to the last step: the workers' start counts.
            row[label(variant)] = timing.images / (timing.seconds + timing.setup_seconds)
        s.cfg = base_cfg
        results.append(row)
        tag = " (warm-up, discarded)" if r == 0 else ""
        print(
            f"round {r}{tag}: " + "  ".join(f"{n} {v:,.0f}" for n, v in row.items()) + " img/s",
            flush=True,
        )
    return results


def summarise(results: list[dict[str, float]], names: list[str]) -> dict[str, Any]:
    measured = results[1:]
    base = names[0]
    return {
        "images_per_second": {n: statistics.median(row[n] for row in measured) for n in names},
        "ratios": {
            f"{base}/{n}": {
                "median": statistics.median(row[base] / row[n] for row in measured),
                "min": min(row[base] / row[n] for row in measured),
                "max": max(row[base] / row[n] for row in measured),
            }
            for n in names[1:]
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--arch", default="vit", choices=("vit", "resnet", "convnext"))
    parser.add_argument("--variants", default="auto,2,1", help="worker counts; 'auto' = default")
    parser.add_argument("--photo-images", type=int, default=768)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5, help="rounds, the first is a warm-up")
    parser.add_argument("--epochs-per-round", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--workdir", help="where the photos and model are written (default: temp)")
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args(argv)
    try:
        variants = [parse_variant(v.strip()) for v in args.variants.split(",")]
    except ValueError:
        parser.error("--variants takes worker counts or 'auto', comma-separated")
    if len(variants) < 2 or any(v is not None and v < 0 for v in variants):
        parser.error("--variants needs two or more counts >= 0 (or 'auto')")
    if args.rounds < 2:
        parser.error("--rounds must be >= 2 (round 0 is a discarded warm-up)")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    # train_throughput's setup, photos mode; its --num-workers is replaced per variant.
    setup_args = argparse.Namespace(
        photos=True,
        photo_images=args.photo_images,
        arch=args.arch,
        data=None,
        batch_size=args.batch_size,
        epochs_per_round=args.epochs_per_round,
        num_workers=0,
        cache=False,
        device=args.device,
        threads=args.threads,
    )
    with tempfile.TemporaryDirectory(prefix="visionyard-bench-") as tmp:
        workdir = Path(args.workdir) if args.workdir else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        s = prepare(setup_args, workdir)
        auto = choose_num_workers(None, s.device)
        print(f"auto on this machine: {auto.count} workers ({auto.reason})", flush=True)
        results = run_rounds(s, variants, args.rounds)
        names = [label(v) for v in variants]
        summary = summarise(results, names)
        print(
            f"\n{args.arch}, {args.photo_images} photos, batch {args.batch_size}, "
            f"{args.epochs_per_round} epochs/round, {args.rounds - 1} measured rounds, "
            f"{args.threads} threads, device {s.device}"
        )
        for n in names:
            print(f"  {n:>6} workers  {summary['images_per_second'][n]:8.1f} img/s")
        for name, r in summary["ratios"].items():
            print(f"  {name:>10}  {r['median']:.3f}x  ({r['min']:.3f}-{r['max']:.3f})")
        print(f"total {time.perf_counter() - started:.0f} s, load average {os.getloadavg()}")
        if args.json_path:
            atomic_write_json(
                Path(args.json_path),
                {
                    "settings": vars(args) | {"auto": auto.count, "auto_reason": auto.reason},
                    "cpu_count": os.cpu_count(),
                    "summary": summary,
                    "rounds": results,
                },
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
