"""Classification losses that accept hard labels or soft (mixup/cutmix) targets."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class CrossEntropy(nn.Module):
    weight: Tensor | None  # a buffer (moves with the module), registered in __init__

    def __init__(self, *, weight: Tensor | None = None, label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.register_buffer("weight", weight, persistent=False)
        self.label_smoothing = label_smoothing

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        # F.cross_entropy handles both int64 class indices and float class probabilities.
        return F.cross_entropy(
            logits.float(), target, weight=self.weight, label_smoothing=self.label_smoothing
        )


class FocalLoss(nn.Module):
    """Focal loss (Lin et al. 2017): down-weights easy examples by (1 - p_t) ** gamma."""

    weight: Tensor | None  # a buffer (moves with the module), registered in __init__

    def __init__(self, *, gamma: float = 2.0, weight: Tensor | None = None) -> None:
        super().__init__()
        self.gamma = gamma
        self.register_buffer("weight", weight, persistent=False)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        log_probs = F.log_softmax(logits.float(), dim=-1)
        log_pt = log_probs.gather(1, target.unsqueeze(1)).squeeze(1)
        loss = -((1.0 - log_pt.exp()) ** self.gamma) * log_pt
        if self.weight is not None:
            w = self.weight[target]
            return (loss * w).sum() / w.sum()
        return loss.mean()


def build_loss(
    name: str,
    *,
    class_weights: Tensor | None = None,
    label_smoothing: float = 0.0,
    focal_gamma: float = 2.0,
) -> nn.Module:
    if name == "cross_entropy":
        return CrossEntropy(weight=class_weights, label_smoothing=label_smoothing)
    if name == "focal":
        return FocalLoss(gamma=focal_gamma, weight=class_weights)
    raise ValueError(f"unknown loss {name!r}")


def as_float_weights(values: list[float] | Tensor, num_classes: int) -> Tensor:
    weights = torch.as_tensor(values, dtype=torch.float32)
    if weights.shape != (num_classes,):
        raise ValueError(f"expected {num_classes} class weights, got {tuple(weights.shape)}")
    return weights
