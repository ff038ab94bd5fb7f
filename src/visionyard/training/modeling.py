"""Build an AutoModelForImageClassification with the dataset's label mapping.

`trust_remote_code` is never enabled: a model id coming from a config file or the dashboard must not
be able to run code on the training machine.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import nn

from visionyard.errors import ModelLoadError
from visionyard.modelsource import resolve_model_source, suggest_local_folder
from visionyard.training.hf_quiet import quiet_transformers


def _load_error(source: str, exc: Exception) -> ModelLoadError:
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}
    if Path(source).is_dir():
        return ModelLoadError(f"cannot load the model in folder {source}: {exc}")
    # An `org/name` is tried on the Hub first (a local folder could mirror it); once the Hub
    # failed, a local folder of nearly that name is the likelier meaning.
    local = suggest_local_folder(source)
    hint = f" {local} (a local folder)" if local else ""
    if offline:
        return ModelLoadError(
            f"model {source!r} is not in the local Hugging Face cache and the Hub is offline "
            "(HF_HUB_OFFLINE=1). Download it on a machine with access "
            f"(`hf download {source}`) or set model_flavour to a local folder.{hint}"
        )
    return ModelLoadError(
        f"cannot fetch model {source!r} from the Hugging Face Hub ({type(exc).__name__}: "
        f"{str(exc).splitlines()[0] if str(exc) else ''}). Check the id, your network and, for "
        f"gated models, your access token; or set model_flavour to a local folder.{hint}"
    )


def load_image_processor(source: str) -> Any:
    from transformers import AutoImageProcessor

    try:
        return AutoImageProcessor.from_pretrained(source, trust_remote_code=False)
    except (OSError, ValueError, KeyError) as exc:
        raise _load_error(source, exc) from None


def build_model(
    model_flavour: str,
    *,
    class_names: Sequence[str],
    load_pretrained: bool = True,
    freeze_backbone: bool = False,
) -> tuple[nn.Module, Any]:
    """Return (model, image processor) with a head sized for `class_names`.

    A checkpoint trained on other labels gets a fresh head (`ignore_mismatched_sizes`); the label
    maps always come from the dataset, so exported models predict the dataset's class names.
    """
    source = resolve_model_source(model_flavour)
    id2label = {i: name for i, name in enumerate(class_names)}
    label2id = {name: i for i, name in id2label.items()}
    label_kwargs = {"id2label": id2label, "label2id": label2id}  # num_labels follows id2label
    processor = load_image_processor(source)
    try:
        with quiet_transformers():
            model = _instantiate(source, load_pretrained, label_kwargs)
    except ValueError as exc:
        if "Unrecognized" in str(exc) or "trust_remote_code" in str(exc):
            raise ModelLoadError(
                f"model {model_flavour!r} is not a supported image-classification architecture "
                "(custom code is never executed); choose a ViT/ConvNeXt/ResNet/Swin/... model"
            ) from None
        raise _load_error(source, exc) from None
    except OSError as exc:
        raise _load_error(source, exc) from None
    if freeze_backbone:
        freeze_backbone_params(model)
    return model, processor


def _instantiate(source: str, load_pretrained: bool, label_kwargs: dict[str, Any]) -> nn.Module:
    from transformers import AutoConfig, AutoModelForImageClassification

    model: nn.Module
    if load_pretrained:
        model = AutoModelForImageClassification.from_pretrained(
            source, ignore_mismatched_sizes=True, trust_remote_code=False, **label_kwargs
        )
    else:
        config = AutoConfig.from_pretrained(source, trust_remote_code=False, **label_kwargs)
        model = AutoModelForImageClassification.from_config(config, trust_remote_code=False)
    return model


def freeze_backbone_params(model: nn.Module) -> int:
    """Freeze the base model so only the classification head trains; return #frozen tensors."""
    prefix = getattr(model, "base_model_prefix", "")
    backbone = getattr(model, prefix, None) if prefix else None
    if not isinstance(backbone, nn.Module) or backbone is model:
        raise ModelLoadError(
            f"cannot tell the backbone from the head of {type(model).__name__}; "
            "set freeze_backbone=false"
        )
    frozen = 0
    for param in backbone.parameters():
        param.requires_grad_(False)
        frozen += 1
    return frozen


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(total, trainable) parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return total, trainable


def is_convolutional(model: nn.Module) -> bool:
    """A CNN (ResNet, ConvNeXt, RegNet, EfficientNet...): more than one 2-D convolution, where a
    vision transformer (ViT, DeiT, BEiT, Swin) has one, its patch embedding."""
    return sum(isinstance(m, nn.Conv2d) for m in model.modules()) > 1


def choose_channels_last(setting: bool | None, model: nn.Module) -> tuple[bool, str]:
    """(use NHWC, why) for ``setting`` (None: decided by the model). Convolutions run faster on
    channels-last tensors, on GPUs (tensor cores) and on CPUs (oneDNN) alike; a transformer's
    only convolution gains nothing and its batches would pay a layout copy. Measured in
    docs/benchmarks.md ("Settings decided at run time")."""
    if setting is not None:
        return setting, "set in the config"
    if is_convolutional(model):
        return True, "auto: a convolutional model"
    return False, "auto: not a convolutional model"
