"""A finished run, trained once per session, whose checkpoints the analysis tests read."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from visionyard.training.config import build_config
from visionyard.training.runner import train


def train_analysis_run(digits_root: Path, model: Path, out: Path) -> Path:
    """A tiny ResNet trained 2 epochs on the real digits (10 classes), per-epoch checkpoints
    kept, model exported, best/val report written: out/analysis."""
    result = train(
        build_config(
            {
                "root": str(digits_root),
                "model_flavour": str(model),
                "epochs": 2,
                "batch_size": 64,
                "lr": 3e-3,
                "num_workers": 0,
                "train_preset": "light",
                "output_dir": str(out),
                "run_name": "analysis",
                "progress_bar": False,
                "seed": 0,
                "save_per_epoch_checkpoint": True,
            }
        )
    )
    assert result.status == "succeeded"
    return result.run_dir


@pytest.fixture(scope="session")
def trained_run(
    digits_root: Path, tiny_model: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return train_analysis_run(
        digits_root, tiny_model("resnet"), tmp_path_factory.mktemp("analysis-runs")
    )
