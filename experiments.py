"""Experiments that `python main.py` runs, defined in Python.

Edit this list (or import it) to script a sweep. Each entry is a dict of TrainConfig fields; the
examples train tiny models on the bundled, offline digits dataset so they work on any machine.
"""

from __future__ import annotations

import os
from pathlib import Path

from visionyard.training.demo import write_demo
from visionyard.training.demo_config import demo_config

# Where the demo data lives (and runs go); VISIONYARD_DEMO_DIR moves it, e.g. for tests.
DEMO_DIR = Path(os.environ.get("VISIONYARD_DEMO_DIR", Path(__file__).resolve().parent / "demo"))


def experiments() -> list[dict]:
    resnet = write_demo(DEMO_DIR, arch="resnet")
    vit = write_demo(DEMO_DIR, arch="vit")
    runs = DEMO_DIR / "runs"
    return [
        demo_config(resnet.dataset, resnet.model, runs) | {"run_name": "digits-resnet-ce"},
        demo_config(resnet.dataset, resnet.model, runs)
        | {"run_name": "digits-resnet-smooth", "label_smoothing": 0.1},
        demo_config(vit.dataset, vit.model, runs)
        | {"run_name": "digits-vit", "epochs": 25, "lr": 2e-3},
    ]
