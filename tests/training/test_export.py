"""Hugging Face export: loads through the real pipeline offline, same logits, card, no pickles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image
from torch import nn

from visionyard.errors import ConfigError
from visionyard.training.export import export_hf_model, render_model_card, unwrap_model

CLASSES = ["cat", "dog", "fox"]
METRICS = {"val": {"accuracy": 0.875, "loss": 0.3125}, "test": {"accuracy": 0.8}, "epoch": 4}
PER_CLASS = [
    {"class": "cat", "precision": 0.9, "recall": 0.8, "f1": 0.847, "support": 10},
    {"class": "dog", "precision": 0.7, "recall": 0.95, "f1": 0.806, "support": 20},
    {"class": "fox", "precision": 1.0, "recall": 0.5, "f1": 0.667, "support": 4},
]
# The shape of DatasetIndex.fingerprint() (dataset_index.py; the run's dataset.json).
FINGERPRINT = {
    "root": "/home/someone/private/animals",
    "classes": CLASSES,
    "num_images": {"train": 136, "val": 34},
    "counts": {"train": {"cat": 40, "dog": 80, "fox": 16}, "val": {"cat": 10, "dog": 20, "fox": 4}},
    "file_list_sha256": "d" * 64,
    "skipped": [["train/cat/broken.png", "cannot identify image file"]],
}
TRAIN_CONFIG = {"model_flavour": "google/vit-base-patch16-224", "lr": 2e-5, "epochs": 4,
                "batch_size": 16, "seed": 7, "root": "/data/animals"}  # fmt: skip


@pytest.fixture
def tiny_vit(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cfg = ViTConfig(
        image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=64, num_labels=3,
    )  # fmt: skip
    torch.manual_seed(0)
    model = ViTForImageClassification(cfg).eval()
    processor = ViTImageProcessor(size={"height": 32, "width": 32})
    return model, processor


def _export(model: nn.Module, processor: Any, out_dir: Path, **overrides: Any) -> Path:
    kwargs: dict[str, Any] = {
        "class_names": CLASSES,
        "metrics": METRICS,
        "per_class": PER_CLASS,
        "dataset_fingerprint": FINGERPRINT,
        "train_config": TRAIN_CONFIG,
        "base_model": "google/vit-base-patch16-224",
        **overrides,
    }
    return export_hf_model(model, processor, out_dir, **kwargs)


def test_export_loads_through_pipeline_with_same_logits(
    tiny_vit: tuple[Any, Any], tmp_path: Path
) -> None:
    from transformers import AutoModelForImageClassification, pipeline

    model, processor = tiny_vit
    out = _export(model, processor, tmp_path / "run" / "model")

    assert (out / "model.safetensors").is_file()
    assert (out / "preprocessor_config.json").is_file()
    assert list(out.rglob("*.bin")) == []
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == {"0": "cat", "1": "dog", "2": "fox"}
    assert config["label2id"] == {"cat": 0, "dog": 1, "fox": 2}
    # The caller's in-memory model keeps its own config.
    assert model.config.id2label[0] == "LABEL_0"

    image = Image.new("RGB", (48, 40), color=(200, 30, 90))
    classifier = pipeline("image-classification", model=str(out))
    predictions = classifier(image, top_k=3)
    assert sorted(p["label"] for p in predictions) == CLASSES

    reloaded = AutoModelForImageClassification.from_pretrained(str(out)).eval()
    pixels = processor(images=image, return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        original = model(pixel_values=pixels).logits
        again = reloaded(pixel_values=pixels).logits
    assert torch.equal(original, again)
    best = CLASSES[int(original.argmax())]
    assert predictions[0]["label"] == best


def test_model_card_contents(tiny_vit: tuple[Any, Any], tmp_path: Path) -> None:
    model, processor = tiny_vit
    card = (_export(model, processor, tmp_path / "model") / "README.md").read_text()
    front, body = card.split("---\n")[1], card.split("---\n", 2)[2]
    assert "library_name: transformers" in front
    assert "pipeline_tag: image-classification" in front
    assert "base_model: google/vit-base-patch16-224" in front
    assert "| val/accuracy | 0.8750 |" in body
    assert "| test/accuracy | 0.8000 |" in body
    assert "| cat | 0.9000 | 0.8000 | 0.8470 | 10 |" in body
    assert "| dog | 80 | 20 |" in body  # train/val counts per class
    assert "| **total** | 136 | 34 |" in body
    assert "- file_list_sha256: `" + "d" * 64 in body
    assert "dataset folder: `animals`" in body and "/home/someone" not in body
    assert "unreadable files skipped: 1" in body
    assert "| lr | 2e-05 |" in body and "| seed | 7 |" in body
    assert 'pipeline("image-classification"' in body


def test_card_escapes_and_skips_local_base_model(tmp_path: Path) -> None:
    card = render_model_card(
        class_names=["a|b", "c"],
        per_class=[
            {"name": "a|b", "precision": None, "recall": 1.0, "f1_score": 0.5, "support": 3}
        ],
        base_model=str(tmp_path),  # a local folder is not a Hub id
    )
    assert "base_model:" not in card.split("---\n")[1]
    assert "| a\\|b | — | 1.0000 | 0.5000 | 3 |" in card
    # The folder by its name only: a card may be published, the machine's paths should not be.
    assert str(tmp_path) not in card
    assert f"Fine-tuned from `local folder {tmp_path.name}`." in card


def test_wrapped_models_are_unwrapped(tiny_vit: tuple[Any, Any], tmp_path: Path) -> None:
    from transformers import AutoModelForImageClassification

    model, processor = tiny_vit
    wrapped = nn.DataParallel(torch.compile(model))
    assert unwrap_model(wrapped) is model
    assert unwrap_model(model) is model
    out = _export(wrapped, processor, tmp_path / "model")
    reloaded = AutoModelForImageClassification.from_pretrained(str(out)).eval()
    pixels = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(pixel_values=pixels).logits, reloaded(pixel_values=pixels).logits)


def test_re_export_replaces_atomically(tiny_vit: tuple[Any, Any], tmp_path: Path) -> None:
    model, processor = tiny_vit
    out = tmp_path / "model"
    _export(model, processor, out)
    (out / "stray.txt").write_text("from an earlier export")
    stale = tmp_path / f".tmp-model-{'0' * 32}"  # debris of a crashed export
    stale.mkdir()
    _export(model, processor, out, metrics={"val": {"accuracy": 0.5}})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    assert not (out / "stray.txt").exists()
    assert "| val/accuracy | 0.5000 |" in (out / "README.md").read_text()


@pytest.mark.parametrize(
    ("names", "message"),
    [(["cat", "dog"], "3 outputs but 2 class_names"), (["a", "a", "b"], "unique"), ([], "unique")],
)
def test_bad_class_names(
    tiny_vit: tuple[Any, Any], tmp_path: Path, names: list[str], message: str
) -> None:
    model, processor = tiny_vit
    with pytest.raises(ConfigError, match=message):
        _export(model, processor, tmp_path / "model", class_names=names)
    assert list(tmp_path.iterdir()) == []


def test_non_hf_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="only Hugging Face PreTrainedModel"):
        export_hf_model(nn.Linear(2, 3), object(), tmp_path / "m", class_names=CLASSES)
