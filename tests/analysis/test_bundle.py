"""Export bundles: a checkpoint's Hugging Face folder, model card, optional validated ONNX and
manifest, as a folder and a reproducible .tar.gz that loads wherever transformers runs."""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file
from transformers import AutoModelForImageClassification, pipeline

from visionyard.analysis.bundle import Bundle, build_bundle
from visionyard.analysis.classifier import load_classifier
from visionyard.errors import CheckpointError, NotFoundError, RunFolderError


def _val_images(digits_root: Path, per_class: int = 3) -> list[Path]:
    return [
        path
        for cls in sorted((digits_root / "val").iterdir())
        for path in sorted(cls.iterdir())[:per_class]
    ]


def _unpack(archive: Path, into: Path) -> Path:
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(into, filter="data")
    return into


@pytest.fixture(scope="module")
def best_onnx(analysis_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    return build_bundle(analysis_run, "best", onnx=True, out_dir=tmp_path_factory.mktemp("exp"))


def test_the_archive_holds_what_the_manifest_lists(best_onnx: Bundle, tmp_path: Path) -> None:
    assert best_onnx.archive.name == "best-onnx.tar.gz" and best_onnx.folder is not None
    assert best_onnx.sha256 == hashlib.sha256(best_onnx.archive.read_bytes()).hexdigest()
    unpacked = _unpack(best_onnx.archive, tmp_path / "unpacked")
    manifest = json.loads((unpacked / "bundle.json").read_text())
    assert manifest == best_onnx.manifest
    assert manifest["checkpoint"]["name"] == "best" and manifest["run"]["name"] == "analysis"
    # Trained from a local folder: named by the folder's name, not the machine's path.
    assert manifest["run"]["base_model"] == "local folder tiny-resnet"
    listed = {f["path"]: f for f in manifest["files"]}
    assert set(listed) == {
        "model/README.md", "model/config.json", "model/model.safetensors",
        "model/preprocessor_config.json", "model.onnx", "onnx_validation.json",
        "train_config.json",
    }  # fmt: skip
    for rel, entry in listed.items():
        data = (unpacked / rel).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (entry["size"], entry["sha256"])
    assert not list(unpacked.rglob("*.bin"))  # safetensors only
    # Nothing else was left beside the bundle (no staging folder, no temporary archive).
    assert sorted(p.name for p in best_onnx.archive.parent.iterdir()) == [
        "best-onnx",
        "best-onnx.tar.gz",
    ]


def test_the_onnx_report_states_agreement_on_real_val_images(
    best_onnx: Bundle, tmp_path: Path
) -> None:
    unpacked = _unpack(best_onnx.archive, tmp_path / "unpacked")
    report = json.loads((unpacked / "onnx_validation.json").read_text())
    assert report["validated"] is True and report["images"] == 64
    assert report["tolerance"] == 1e-3 and report["max_abs_logit_diff"] <= 1e-3
    assert report["top1_agreement"] == 1.0
    assert best_onnx.manifest["onnx"] == report


def test_the_unpacked_model_predicts_what_the_checkpoint_predicts(
    best_onnx: Bundle, analysis_run: Path, digits_root: Path, tmp_path: Path
) -> None:
    model_dir = _unpack(best_onnx.archive, tmp_path / "unpacked") / "model"
    images = [Image.open(path).convert("RGB") for path in _val_images(digits_root)]
    checkpoint = load_classifier(analysis_run, "best", device="cpu")
    expected = checkpoint.probabilities(checkpoint.pixel_values(images)).argmax(dim=1)
    model = AutoModelForImageClassification.from_pretrained(model_dir).eval()
    with torch.inference_mode():
        logits = model(pixel_values=checkpoint.pixel_values(images)).logits
    assert logits.argmax(dim=1).tolist() == expected.tolist()
    classify = pipeline("image-classification", model=str(model_dir), device="cpu")
    labels = [top[0]["label"] for top in classify(images, top_k=1)]
    assert labels == [checkpoint.class_names[i] for i in expected.tolist()]


def test_the_card_lists_per_class_metrics_dataset_and_config(best_onnx: Bundle) -> None:
    assert best_onnx.folder is not None
    card = (best_onnx.folder / "model" / "README.md").read_text()
    config = json.loads((best_onnx.folder / "train_config.json").read_text())
    assert "## Per-class results" in card
    table = card.split("## Per-class results")[1].split("##")[0]
    for digit in range(10):
        assert f"\n| {digit} | " in table
    assert "file_list_sha256" in card and "## Training configuration" in card
    assert "| checkpoint | best |" in card and "results.json" in card
    assert "validated against PyTorch on 64 val images" in card
    assert config["run_name"] == "analysis"


def test_an_epoch_checkpoint_exports_its_own_weights(
    analysis_run: Path, best_onnx: Bundle, tmp_path: Path
) -> None:
    bundle = build_bundle(analysis_run, "epoch_1", onnx=False, out_dir=tmp_path)
    assert bundle.name == "epoch_001" and bundle.onnx is None and bundle.folder is not None
    assert bundle.manifest["checkpoint"]["epoch"] == 1
    exported = load_file(str(bundle.folder / "model" / "model.safetensors"))
    own = load_file(str(analysis_run / "checkpoints" / "epoch_001" / "model.safetensors"))
    assert best_onnx.folder is not None
    best = load_file(str(best_onnx.folder / "model" / "model.safetensors"))
    shared = [k for k in exported if k in own]
    assert len(shared) == len(exported) == len(own)
    assert all(torch.equal(exported[k], own[k]) for k in shared)
    assert any(not torch.equal(exported[k], best[k]) for k in shared)
    # Its card's metrics are its own, evaluated on the val split, not the best checkpoint's.
    card = (bundle.folder / "model" / "README.md").read_text()
    assert "evaluated at export on the run's val split (270 images)" in card
    assert "## Per-class results" in card
    assert not (bundle.folder / "model.onnx").exists()


def test_the_archive_is_reproducible(analysis_run: Path, tmp_path: Path) -> None:
    first = build_bundle(analysis_run, "last", onnx=False, out_dir=tmp_path / "a")
    second = build_bundle(
        analysis_run, "last", onnx=False, out_dir=tmp_path / "b", keep_folder=False
    )
    assert first.sha256 == second.sha256
    assert second.folder is None and sorted(p.name for p in (tmp_path / "b").iterdir()) == [
        "last.tar.gz"
    ]


def test_a_folder_that_is_not_a_run_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RunFolderError, match="is not a run folder .no config.json"):
        build_bundle(tmp_path, "best", out_dir=tmp_path / "out")
    with pytest.raises(RunFolderError, match="is not a folder"):
        build_bundle(tmp_path / "missing", "best")


def test_bad_checkpoints_are_refused_and_leave_nothing(analysis_run: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="use best, last or epoch_N"):
        build_bundle(analysis_run, "final", out_dir=tmp_path / "out")
    with pytest.raises(NotFoundError, match="available: best, last, epoch_001, epoch_002"):
        build_bundle(analysis_run, "epoch_7", out_dir=tmp_path / "out")
    run = tmp_path / "run"
    shutil.copytree(analysis_run, run)
    weights = run / "checkpoints" / "best" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="hash mismatch for model.safetensors"):
        build_bundle(run, "best", out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
