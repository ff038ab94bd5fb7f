"""Model construction: label maps from the dataset, safe sources, frozen backbones."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from visionyard.errors import ModelLoadError
from visionyard.modelsource import resolve_model_source
from visionyard.training.modeling import (
    build_model,
    choose_channels_last,
    count_parameters,
    is_convolutional,
)

CLASSES = ["cat", "dog", "fox"]


@pytest.mark.parametrize("arch", ["vit", "resnet", "convnext"])
def test_label_maps_come_from_the_dataset(arch: str, tiny_model: Callable[[str], Path]) -> None:
    model, processor = build_model(str(tiny_model(arch)), class_names=CLASSES)
    assert model.config.num_labels == 3
    assert model.config.id2label == {0: "cat", 1: "dog", 2: "fox"}
    assert model.config.label2id == {"cat": 0, "dog": 1, "fox": 2}
    logits = model(pixel_values=torch.zeros(2, 3, 32, 32)).logits
    assert logits.shape == (2, 3)
    assert processor is not None


def test_pretrained_backbone_weights_are_loaded_and_head_is_new(
    tiny_model: Callable[[str], Path],
) -> None:
    from transformers import AutoModelForImageClassification

    folder = tiny_model("vit")
    original = AutoModelForImageClassification.from_pretrained(folder)
    loaded, _ = build_model(str(folder), class_names=CLASSES, load_pretrained=True)
    scratch, _ = build_model(str(folder), class_names=CLASSES, load_pretrained=False)
    key = "vit.embeddings.patch_embeddings.projection.weight"
    assert torch.equal(loaded.state_dict()[key], original.state_dict()[key])
    assert not torch.equal(scratch.state_dict()[key], original.state_dict()[key])


def test_freeze_backbone_trains_only_the_head(tiny_model: Callable[[str], Path]) -> None:
    model, _ = build_model(str(tiny_model("resnet")), class_names=CLASSES, freeze_backbone=True)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith("classifier") for n in trainable)
    total, n_trainable = count_parameters(model)
    assert n_trainable < total


@pytest.mark.parametrize(
    "bad",
    [
        "../x",
        "/definitely/not/here",
        "https://example.com/model",
        "org/name/extra",
        "name; rm -rf /",
        "$(reboot)",
        "a b",
        "..",
        "org/..",
        "",
    ],
)
def test_hostile_or_malformed_sources_are_refused(bad: str) -> None:
    with pytest.raises(ModelLoadError):
        resolve_model_source(bad)


def test_folder_without_config_is_refused(tmp_path: Path) -> None:
    (tmp_path / "weights.safetensors").write_bytes(b"")
    with pytest.raises(ModelLoadError, match="config.json"):
        resolve_model_source(str(tmp_path))


def test_hub_id_offline_says_what_to_do() -> None:
    with pytest.raises(ModelLoadError, match="HF_HUB_OFFLINE=1") as info:
        build_model("google/vit-base-patch16-224", class_names=CLASSES)
    assert "local folder" in str(info.value)


def test_custom_code_model_is_never_executed(tmp_path: Path) -> None:
    """S4: a folder whose config asks for remote code is refused, its code never imported."""
    marker = tmp_path / "executed"
    (tmp_path / "config.json").write_text(
        '{"model_type": "evil", "auto_map": {"AutoConfig": "evil.EvilConfig",'
        ' "AutoModelForImageClassification": "evil.EvilModel"}}'
    )
    (tmp_path / "preprocessor_config.json").write_text(
        '{"image_processor_type": "ViTImageProcessor", "size": {"height": 8, "width": 8}}'
    )
    (tmp_path / "evil.py").write_text(f"open({str(marker)!r}, 'w').write('pwned')\n")
    with pytest.raises(ModelLoadError):
        build_model(str(tmp_path), class_names=CLASSES)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("arch", "convolutional"), [("vit", False), ("resnet", True), ("convnext", True)]
)
def test_convolutional_models_default_to_channels_last(
    arch: str, convolutional: bool, tiny_model: Callable[[str], Path]
) -> None:
    model, _ = build_model(str(tiny_model(arch)), class_names=["a", "b"])
    assert is_convolutional(model) is convolutional
    chosen, reason = choose_channels_last(None, model)
    assert chosen is convolutional and reason.startswith("auto:")
    # A setting in the config wins either way.
    for setting in (True, False):
        assert choose_channels_last(setting, model) == (setting, "set in the config")
