"""Saliency maps: Grad-CAM on the deepest block whose output still decides the class.

One method serves CNNs and vision transformers. Candidate layers are the model's blocks (the
children of its ``ModuleList``s: ResNet/ConvNeXt stages, ViT/Swin layers) whose output is a feature
map ``(B, C, H, W)`` or a token grid ``(B, N, D)`` with ``N = h*w`` (+ 1 or 2 class/distillation
tokens). The class score's gradient is taken with respect to every candidate at once; the last one
whose grid receives any gradient is used. For a CNN that is the last stage. For a ViT it is the
input to the last block: after it, only the class token reaches the head, so Grad-CAM there would
be blank (the usual ViT choice, "Grad-CAM on the last block's input norm", comes out the same).

Captum's ``LayerGradCam`` computes the same map for CNN layers (the tests compare against it);
it averages gradients over every dimension after the first two, so it cannot read token grids.

The image is resized to the model's input size without cropping for this pass, so the map covers
the whole image and resizing it back to the image gives an overlay aligned pixel for pixel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import nn

from visionyard.analysis.classifier import Classifier

# An approximation of a perceptually ordered dark-to-bright palette: low saliency stays dark
# and translucent, high saliency is bright yellow.
_PALETTE = np.array(
    [[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]], dtype=np.float32
)
_OVERLAY_ALPHA = 0.55


@dataclass(frozen=True)
class Saliency:
    heatmap: np.ndarray  # (height, width) float32 in [0, 1], the image's size
    layer: str  # the module the map was taken from


def _grid(output: object) -> torch.Tensor | None:
    tensor = output[0] if isinstance(output, (tuple, list)) and output else output
    if not isinstance(tensor, torch.Tensor) or not tensor.requires_grad:
        return None
    if tensor.dim() == 4 and tensor.shape[2] * tensor.shape[3] > 1:
        return tensor
    if tensor.dim() == 3 and _token_side(tensor.shape[1]) is not None:
        return tensor
    return None


def _token_side(n_tokens: int) -> tuple[int, int] | None:
    """(special tokens, grid side) of a square token grid, or None."""
    for special in (0, 1, 2):
        side = math.isqrt(max(n_tokens - special, 0))
        if side > 1 and side * side == n_tokens - special:
            return special, side
    return None


def _as_map(tensor: torch.Tensor) -> torch.Tensor:
    """(C, h, w) for one image's feature map or token grid."""
    if tensor.dim() == 4:
        return tensor[0]
    special, side = _token_side(tensor.shape[1])  # type: ignore[misc]
    return tensor[0, special:].transpose(0, 1).reshape(-1, side, side)


def _blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    lists = [name for name, m in model.named_modules() if isinstance(m, nn.ModuleList)]
    return [
        (f"{parent}.{child}", module)
        for parent in lists
        for child, module in model.get_submodule(parent).named_children()
    ]


def grad_cam(classifier: Classifier, image: Image.Image, target: int) -> Saliency:
    """Grad-CAM of class `target` for `image`, resized to the image's size."""
    model = classifier.model
    pixels = _uncropped_pixels(classifier, image)
    recorded: list[tuple[str, torch.Tensor]] = []
    hooks = [
        module.register_forward_hook(
            lambda _m, _i, out, name=name: (
                recorded.append((name, g)) if (g := _grid(out)) is not None else None
            )
        )
        for name, module in _blocks(model)
    ]
    try:
        with torch.enable_grad():
            logits = model(pixel_values=pixels).logits
            if not recorded:
                raise ValueError(f"{type(model).__name__} has no block with a spatial output")
            grads = torch.autograd.grad(
                logits[0, target], [t for _, t in recorded], allow_unused=True
            )
    finally:
        for hook in hooks:
            hook.remove()
    for (name, activation), grad in zip(reversed(recorded), reversed(grads), strict=True):
        if grad is None:
            continue
        act, g = _as_map(activation.detach()).float(), _as_map(grad).float()
        if not torch.any(g != 0):
            continue
        weights = g.mean(dim=(1, 2), keepdim=True)
        cam = torch.relu((weights * act).sum(dim=0))
        return Saliency(heatmap=_to_image_size(cam, image.size), layer=name)
    raise ValueError(f"no block of {type(model).__name__} receives a gradient from the class")


def _uncropped_pixels(classifier: Classifier, image: Image.Image) -> torch.Tensor:
    """The image as the model's input, resized to the model's input size without a crop.

    Processors crop differently (ConvNeXt's crop_pct, ResNet's shortest edge) and name their size
    settings differently, so this pass resizes with PIL and applies the processor's own rescale
    and normalisation."""
    processor = classifier.processor
    height, width = classifier.pixel_values([image]).shape[-2:]
    resized = image.convert("RGB").resize((int(width), int(height)), Image.Resampling.BILINEAR)
    pixels = torch.from_numpy(np.asarray(resized, dtype=np.float32)).permute(2, 0, 1)
    if getattr(processor, "do_rescale", True):
        pixels = pixels * float(getattr(processor, "rescale_factor", 1 / 255))
    if getattr(processor, "do_normalize", True):
        mean = torch.tensor(processor.image_mean, dtype=torch.float32)[:, None, None]
        std = torch.tensor(processor.image_std, dtype=torch.float32)[:, None, None]
        pixels = (pixels - mean) / std
    return pixels[None].to(classifier.device)


def _to_image_size(cam: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    width, height = size
    peak = float(cam.max())
    normed = cam / peak if peak > 0 else torch.zeros_like(cam)
    resized = torch.nn.functional.interpolate(
        normed[None, None], size=(height, width), mode="bilinear", align_corners=False
    )
    return resized[0, 0].clamp(0, 1).cpu().numpy().astype(np.float32)


def colorize(heatmap: np.ndarray) -> np.ndarray:
    """(H, W) in [0, 1] -> (H, W, 3) uint8 through the palette."""
    position = heatmap * (len(_PALETTE) - 1)
    low = np.clip(np.floor(position).astype(np.int64), 0, len(_PALETTE) - 2)
    frac = (position - low)[..., None]
    colors: np.ndarray = _PALETTE[low] * (1 - frac) + _PALETTE[low + 1] * frac
    return colors.clip(0, 255).astype(np.uint8)


def overlay(image: Image.Image, heatmap: np.ndarray) -> Image.Image:
    """The image with the heatmap laid over it; stronger where the heatmap is higher."""
    base = np.asarray(image.convert("RGB"), dtype=np.float32)
    alpha = (_OVERLAY_ALPHA * heatmap)[..., None]
    blended = base * (1 - alpha) + colorize(heatmap).astype(np.float32) * alpha
    return Image.fromarray(blended.clip(0, 255).astype(np.uint8))
