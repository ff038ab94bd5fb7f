"""Grad-CAM: the same map as Captum's LayerGradCam on a CNN's last stage; a usable map on a ViT
(whose last block only passes the class token to the head); image-sized overlays."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from captum.attr import LayerGradCam
from PIL import Image

from visionyard.analysis.checkpoints import CheckpointInfo
from visionyard.analysis.classifier import Classifier, load_classifier
from visionyard.analysis.saliency import _to_image_size, _uncropped_pixels, grad_cam, overlay
from visionyard.training.modeling import build_model


def _digit(digits_root: Path, size: tuple[int, int] = (53, 37)) -> Image.Image:
    path = sorted((digits_root / "val" / "3").iterdir())[0]
    with Image.open(path) as image:
        return image.convert("RGB").resize(size)


def test_the_cnn_map_is_captums_layer_grad_cam(analysis_run: Path, digits_root: Path) -> None:
    classifier = load_classifier(analysis_run, "best", device="cpu")
    image = _digit(digits_root)
    target = classifier.predict([image], top_k=1)[0][0].index
    ours = grad_cam(classifier, image, target)
    assert ours.layer == "resnet.encoder.stages.1"  # the tiny ResNet's last stage
    layer = classifier.model.get_submodule(ours.layer)
    captum = LayerGradCam(lambda x: classifier.model(pixel_values=x).logits, layer)
    pixels = _uncropped_pixels(classifier, image)
    reference = captum.attribute(pixels, target=target, relu_attributions=True)[0, 0]
    expected = _to_image_size(reference.detach(), image.size)
    assert ours.heatmap.shape == (image.height, image.width)
    np.testing.assert_allclose(ours.heatmap, expected, atol=1e-5)
    assert ours.heatmap.max() > 0.5


@pytest.mark.parametrize("arch", ["vit", "convnext"])
def test_other_architectures_get_a_map_of_the_images_size(
    arch: str, tiny_model: Callable[[str], Path], digits_root: Path
) -> None:
    model, processor = build_model(str(tiny_model(arch)), class_names=["a", "b", "c"])
    info = CheckpointInfo(name="best", path=Path("."), epoch=None, step=0, saved_at=None)
    classifier = Classifier(model.eval(), processor, ["a", "b", "c"], info, torch.device("cpu"))
    image = _digit(digits_root, (90, 40))
    result = grad_cam(classifier, image, 2)
    assert result.heatmap.shape == (40, 90)
    assert result.heatmap.min() >= 0.0 and result.heatmap.max() <= 1.0
    assert result.heatmap.max() > 0.5  # not blank
    if arch == "vit":
        # The input of the last encoder layer: after it only the class token reaches the head.
        layers = [n for n, _ in model.named_modules() if n.count(".") == 2 and "layer" in n]
        assert result.layer == sorted(layers)[-2], layers
    assert overlay(image, result.heatmap).size == image.size
