"""ONNX export of a checkpoint, checked against PyTorch on the run's real val images."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

from visionyard.analysis.classifier import load_classifier
from visionyard.analysis.onnx_export import (
    LOGIT_TOLERANCE,
    VALIDATION_IMAGES,
    export_onnx,
    validate_onnx,
)
from visionyard.errors import ExportError


def _export(run: Path, checkpoint: str, path: Path) -> None:
    classifier = load_classifier(run, checkpoint, device="cpu")
    export_onnx(classifier.model, classifier.pixel_values([Image.new("RGB", (8, 8))]), path)


def test_onnx_agrees_with_pytorch_on_real_val_images(analysis_run: Path, tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    _export(analysis_run, "best", path)
    classifier = load_classifier(analysis_run, "best", device="cpu")
    report = validate_onnx(classifier, path, analysis_run)
    assert report.validated and report.reason is None
    assert report.images == VALIDATION_IMAGES  # the digits val split has 270 images
    assert report.max_abs_logit_diff is not None
    assert 0 <= report.max_abs_logit_diff <= LOGIT_TOLERANCE == 1e-3
    assert report.top1_agreement == 1.0
    assert report.opset >= 18 and report.onnxruntime_version == ort.__version__
    # The batch dimension is dynamic (the tiny model's processor makes 32x32 images).
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (logits,) = session.run(["logits"], {"pixel_values": np.zeros((5, 3, 32, 32), np.float32)})
    assert logits.shape == (5, 10)
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left beside it


def test_an_onnx_model_of_other_weights_is_refused(analysis_run: Path, tmp_path: Path) -> None:
    """The check is real: the first epoch's graph, compared with the best checkpoint, fails."""
    path = tmp_path / "model.onnx"
    _export(analysis_run, "epoch_1", path)
    best = load_classifier(analysis_run, "best", device="cpu")
    with pytest.raises(ExportError, match=r"disagrees with PyTorch.*tolerance 0\.001"):
        validate_onnx(best, path, analysis_run)


def test_an_unreachable_dataset_is_reported_not_validated(
    analysis_run: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    shutil.copytree(analysis_run, run)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps(config | {"root": str(tmp_path / "gone")}))
    path = tmp_path / "model.onnx"
    _export(run, "best", path)
    report = validate_onnx(load_classifier(run, "best", device="cpu"), path, run)
    assert not report.validated and report.images == 0
    assert report.max_abs_logit_diff is None and report.top1_agreement is None
    assert "validation images cannot be read" in (report.reason or "")
    assert "does not exist" in (report.reason or "")
