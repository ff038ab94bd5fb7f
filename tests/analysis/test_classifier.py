"""A run's checkpoints as classifiers: listed without torch, loaded strictly from safetensors,
predicting what `transformers.pipeline` predicts with the exported model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image
from transformers import pipeline

from visionyard.analysis.checkpoints import (
    architecture_dir,
    canonical_name,
    list_checkpoints,
    resolve_checkpoint,
)
from visionyard.analysis.classifier import load_classifier
from visionyard.errors import CheckpointError, NotFoundError


def _val_images(digits_root: Path, per_class: int = 3) -> list[Path]:
    return [
        path
        for cls in sorted((digits_root / "val").iterdir())
        for path in sorted(cls.iterdir())[:per_class]
    ]


def _load(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")


def test_the_run_lists_its_checkpoints_and_records_its_architecture(analysis_run: Path) -> None:
    names = [info.name for info in list_checkpoints(analysis_run)]
    assert names == ["best", "last", "epoch_001", "epoch_002"]
    assert [info.epoch for info in list_checkpoints(analysis_run)][2:] == [1, 2]
    assert architecture_dir(analysis_run) == analysis_run / "architecture"
    assert (analysis_run / "architecture" / "preprocessor_config.json").is_file()


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [("best", "best"), (" LAST ", "last"), ("epoch_1", "epoch_001"), ("epoch_012", "epoch_012")],
)
def test_checkpoint_names_are_read_as_a_user_types_them(typed: str, canonical: str) -> None:
    assert canonical_name(typed) == canonical


@pytest.mark.parametrize("bad", ["", "../best", "epoch_", "epoch_x", "model", "best/..", "e1"])
def test_other_checkpoint_names_are_refused_with_the_choices(bad: str) -> None:
    with pytest.raises(CheckpointError, match="best, last or epoch_N"):
        canonical_name(bad)


def test_a_missing_checkpoint_names_the_ones_there_are(analysis_run: Path) -> None:
    with pytest.raises(NotFoundError, match="available: best, last, epoch_001, epoch_002"):
        resolve_checkpoint(analysis_run, "epoch_9")


def test_a_tampered_checkpoint_is_refused(analysis_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(analysis_run, run)
    weights = run / "checkpoints" / "last" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="hash mismatch for model.safetensors"):
        load_classifier(run, "last", device="cpu")


def test_the_best_checkpoint_predicts_what_the_pipeline_predicts_on_the_export(
    analysis_run: Path, digits_root: Path
) -> None:
    images = [_load(path) for path in _val_images(digits_root)]
    classifier = load_classifier(analysis_run, "best", device="cpu")
    ours = classifier.predict(images, top_k=3)
    reference = pipeline("image-classification", model=str(analysis_run / "model"), device="cpu")
    theirs = reference(images, top_k=3)
    assert [p[0].label for p in ours] == [t[0]["label"] for t in theirs]
    for mine, other in zip(ours, theirs, strict=True):
        assert [p.probability for p in mine] == pytest.approx([t["score"] for t in other], abs=1e-5)
    # The model learnt something: better than chance (0.1) on these 30 images.
    truth = [path.parent.name for path in _val_images(digits_root)]
    hits = sum(p[0].label == t for p, t in zip(ours, truth, strict=True))
    assert hits / len(truth) > 0.2


def test_each_epoch_checkpoint_loads_its_own_weights(analysis_run: Path) -> None:
    first = load_classifier(analysis_run, "epoch_1", device="cpu")
    second = load_classifier(analysis_run, "epoch_002", device="cpu")
    assert first.checkpoint.name == "epoch_001" and second.checkpoint.step > first.checkpoint.step
    p1 = dict(first.model.named_parameters())
    p2 = dict(second.model.named_parameters())
    assert any(not (p1[k] == p2[k]).all() for k in p1)
