"""The demo's TrainConfig: tuned so a tiny model beats chance by far in ~1 minute on 2 CPU cores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from visionyard.training.fsutil import atomic_write_json


def demo_config(dataset: Path, model: Path, runs_root: Path) -> dict[str, Any]:
    return {
        "root": str(dataset),
        "model_flavour": str(model),
        "load_pretrained": True,
        "epochs": 12,
        "batch_size": 64,
        "lr": 3e-3,
        "weight_decay": 0.01,
        "warmup_ratio": 0.05,
        "scheduler": "cosine",
        # Digits must not be mirrored: mild crops only.
        "train_preset": "light",
        "cache_images": True,
        "num_workers": 0,
        "eval_topk": [1, 3],
        "monitor_metric": "acc@1",
        "output_dir": str(runs_root),
        "model_suffix": "digits",
        "seed": 0,
    }


def write_demo_config(directory: Path, paths: Any) -> Path:
    """Write DIR/demo-config.json for the dataset and model in `paths` (a DemoPaths)."""
    directory = Path(directory)
    target = directory / "demo-config.json"
    cfg = demo_config(
        paths.dataset.resolve(), paths.model.resolve(), (directory / "runs").resolve()
    )
    atomic_write_json(target, cfg)
    return target
