"""Optimizers and learning-rate schedules."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Decay matrices/kernels only: biases and norm scales (ndim <= 1) get no weight decay."""
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for param in model.parameters():
        if not param.requires_grad:
            continue
        (decay if param.ndim > 1 else no_decay).append(param)
    groups: list[dict[str, Any]] = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def build_optimizer(
    model: nn.Module,
    *,
    name: str,
    lr: float,
    weight_decay: float,
    momentum: float = 0.9,
) -> torch.optim.Optimizer:
    groups = parameter_groups(model, weight_decay)
    if not any(g["params"] for g in groups):
        raise ValueError("the model has no trainable parameters")
    # Fused kernels do the whole update in one launch per dtype; they exist for CPU and CUDA
    # tensors in torch >= 2.4 and give bit-identical results run to run.
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, fused=True)
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr, fused=True)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, fused=True)
    raise ValueError(f"unknown optimizer {name!r}")


class WarmupSchedule:
    """LR multiplier: linear warmup, then cosine / linear decay to `min_ratio`, or constant.

    A plain class (not a lambda) so LambdaLR.state_dict() captures it and resume restores it.
    """

    def __init__(self, *, kind: str, total_steps: int, warmup_steps: int, min_ratio: float) -> None:
        self.kind = kind
        self.total_steps = max(1, total_steps)
        self.warmup_steps = max(0, min(warmup_steps, self.total_steps - 1))
        self.min_ratio = min_ratio

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / (self.warmup_steps + 1)
        if self.kind == "constant":
            return 1.0
        span = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / span)
        if self.kind == "cosine":
            factor = 0.5 * (1.0 + math.cos(math.pi * progress))
        elif self.kind == "linear":
            factor = 1.0 - progress
        else:
            raise ValueError(f"unknown scheduler {self.kind!r}")
        return self.min_ratio + (1.0 - self.min_ratio) * factor


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    *,
    name: str,
    total_steps: int,
    warmup_ratio: float,
    min_lr_ratio: float = 0.0,
) -> LambdaLR:
    schedule = WarmupSchedule(
        kind=name,
        total_steps=total_steps,
        warmup_steps=int(round(warmup_ratio * total_steps)),
        min_ratio=min_lr_ratio,
    )
    return LambdaLR(optimizer, schedule)
