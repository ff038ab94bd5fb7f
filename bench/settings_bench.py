"""One engine setting, its default against other values, side by side in one process.

For the settings whose default is decided at run time: `num_workers` (sized to the machine) and
`channels_last` (decided by the model). Same engine, same photos, same tiny 224-px model: each
round trains a fresh copy of the model for --epochs-per-round epochs once per value, in a
rotating order; round 0 is a warm-up and is discarded. Speed is wall-clock images/s from
building the data pipeline to the last step (workers run in parallel with the step, so CPU time
would not show what they win or cost; their start at a round's first epoch counts, and they
persist after it, as the engine's default). Ratios are medians of per-round ratios against the
first value.

    python bench/settings_bench.py                                   # num_workers auto vs 2 vs 1
    python bench/settings_bench.py --setting channels_last --values auto,false --arch resnet
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from train_throughput import Setup, prepare, run_engine

from visionyard.training.fsutil import atomic_write_json
from visionyard.training.modeling import choose_channels_last
from visionyard.training.workers import choose_num_workers

#: setting -> parser of one value from the command line ("auto" = the default, None)
SETTINGS: dict[str, Callable[[str], int | bool | None]] = {
    "num_workers": lambda text: None if text == "auto" else int(text),
    "channels_last": lambda text: {"auto": None, "true": True, "false": False}[text],
}


def resolved(setting: str, s: Setup) -> str:
    """What the default comes to here, and why."""
    if setting == "num_workers":
        choice = choose_num_workers(None, s.device)
        return f"{choice.count} ({choice.reason})"
    on, why = choose_channels_last(None, s.pristine)
    return f"{on} ({why})"


def run_rounds(s: Setup, setting: str, values: list[str], rounds: int) -> list[dict[str, float]]:
    base_cfg = s.cfg
    results = []
    for r in range(rounds):
        k = r % len(values)
        row: dict[str, float] = {}
        for text in values[k:] + values[:k]:
            s.cfg = base_cfg.model_copy(update={setting: SETTINGS[setting](text)})
            torch.set_num_threads(s.threads)
            gc.collect()
            timing = run_engine(s)
            row[text] = timing.images / (timing.seconds + timing.setup_seconds)
        s.cfg = base_cfg
        results.append(row)
        tag = " (warm-up, discarded)" if r == 0 else ""
        print(
            f"round {r}{tag}: " + "  ".join(f"{n} {v:,.0f}" for n, v in row.items()) + " img/s",
            flush=True,
        )
    return results


def summarise(results: list[dict[str, float]], values: list[str]) -> dict[str, Any]:
    measured = results[1:]
    base = values[0]

    def ratios(other: str) -> list[float]:
        return [row[base] / row[other] for row in measured]

    return {
        "images_per_second": {v: statistics.median(row[v] for row in measured) for v in values},
        "ratios": {
            f"{base}/{v}": {
                "median": statistics.median(ratios(v)),
                "min": min(ratios(v)),
                "max": max(ratios(v)),
            }
            for v in values[1:]
        },
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--setting", choices=sorted(SETTINGS), default="num_workers")
    parser.add_argument(
        "--values", default="auto,2,1", help="comma-separated; 'auto' = the default, first"
    )
    parser.add_argument("--arch", default="vit", choices=("vit", "resnet", "convnext"))
    parser.add_argument("--photo-images", type=int, default=768)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5, help="rounds, the first is a warm-up")
    parser.add_argument("--epochs-per-round", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--workdir", help="where the photos and model are written (default: temp)")
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args(argv)
    args.values = [v.strip().lower() for v in args.values.split(",")]
    try:
        for text in args.values:
            SETTINGS[args.setting](text)
    except (ValueError, KeyError):
        parser.error(f"--values: {args.values} are not values of {args.setting}")
    if len(args.values) < 2 or len(set(args.values)) < len(args.values):
        parser.error("--values needs two or more different values")
    if args.setting == "num_workers" and any(v != "auto" and int(v) < 0 for v in args.values):
        parser.error("--values: worker counts are >= 0")
    if args.rounds < 2:
        parser.error("--rounds must be >= 2 (round 0 is a discarded warm-up)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    # train_throughput's set-up in its photos mode; the setting is replaced per value.
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
        default = resolved(args.setting, s)
        print(f"{args.setting} auto here: {default}", flush=True)
        results = run_rounds(s, args.setting, args.values, args.rounds)
        summary = summarise(results, args.values)
        print(
            f"\n{args.setting}, tiny {args.arch}, {args.photo_images} photos, batch "
            f"{args.batch_size}, {args.epochs_per_round} epochs/round, {args.rounds - 1} measured "
            f"rounds, {args.threads} threads, device {s.device}"
        )
        for value in args.values:
            print(f"  {value:>6}  {summary['images_per_second'][value]:8.1f} img/s")
        for name, r in summary["ratios"].items():
            print(f"  {name:>12}  {r['median']:.3f}x  ({r['min']:.3f}-{r['max']:.3f})")
        print(f"total {time.perf_counter() - started:.0f} s, load average {os.getloadavg()}")
        if args.json_path:
            atomic_write_json(
                Path(args.json_path),
                {
                    "settings": vars(args) | {"auto": default},
                    "cpu_count": os.cpu_count(),
                    "summary": summary,
                    "rounds": results,
                },
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
