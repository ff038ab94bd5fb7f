"""Optimizers, schedules and losses."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from visionyard.training.losses import build_loss
from visionyard.training.optim import build_optimizer, build_scheduler, parameter_groups


def test_no_weight_decay_on_biases_and_norms() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4))
    decay, no_decay = parameter_groups(model, 0.1)
    assert [p.ndim for p in decay["params"]] == [2]
    assert all(p.ndim == 1 for p in no_decay["params"]) and no_decay["weight_decay"] == 0.0


@pytest.mark.parametrize("name", ["adamw", "adam", "sgd"])
def test_optimizers_step(name: str) -> None:
    model = nn.Linear(3, 2)
    before = model.weight.detach().clone()
    opt = build_optimizer(model, name=name, lr=0.1, weight_decay=0.01)
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    assert not torch.equal(before, model.weight)


def lrs(name: str, total: int, warmup: float) -> list[float]:
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = build_scheduler(
        opt, name=name, total_steps=total, warmup_ratio=warmup, min_lr_ratio=0.1
    )
    out = []
    for _ in range(total):
        out.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    return out


def test_warmup_then_cosine_and_linear_reach_the_floor() -> None:
    cos = lrs("cosine", 100, 0.1)
    assert cos[0] < cos[5] < cos[9] <= 1.0  # warmup rises
    assert max(cos) == pytest.approx(1.0)
    assert cos[-1] == pytest.approx(0.1, abs=0.01)  # min_lr_ratio
    lin = lrs("linear", 100, 0.0)
    assert lin[50] == pytest.approx(0.1 + 0.9 * 0.5, abs=0.01)
    const = lrs("constant", 10, 0.0)
    assert set(const) == {1.0}


def test_schedule_survives_state_dict_round_trip() -> None:
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = build_scheduler(opt, name="cosine", total_steps=50, warmup_ratio=0.2)
    for _ in range(17):
        opt.step()
        sched.step()
    state = sched.state_dict()
    opt2 = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    sched2 = build_scheduler(opt2, name="constant", total_steps=5, warmup_ratio=0.0)
    sched2.load_state_dict(state)
    assert sched2.lr_lambdas[0].kind == "cosine" and sched2.last_epoch == 17
    assert sched2.lr_lambdas[0](30) == sched.lr_lambdas[0](30)


def test_focal_with_gamma_zero_is_cross_entropy_and_down_weights_easy_examples() -> None:
    logits = torch.randn(16, 5, generator=torch.Generator().manual_seed(0))
    target = torch.randint(0, 5, (16,), generator=torch.Generator().manual_seed(1))
    focal0 = build_loss("focal", focal_gamma=0.0)(logits, target)
    torch.testing.assert_close(focal0, F.cross_entropy(logits, target))
    focal2 = build_loss("focal", focal_gamma=2.0)(logits, target)
    assert focal2 < focal0


def test_cross_entropy_accepts_soft_targets_and_smoothing() -> None:
    logits = torch.randn(4, 3)
    soft = torch.softmax(torch.randn(4, 3), dim=-1)
    loss = build_loss("cross_entropy", label_smoothing=0.1)(logits, soft)
    assert torch.isfinite(loss)
    weighted = build_loss("cross_entropy", class_weights=torch.tensor([1.0, 0.0, 0.0]))
    target = torch.tensor([0, 1, 2, 0])
    expected = F.cross_entropy(logits[target == 0], target[target == 0])
    torch.testing.assert_close(weighted(logits, target), expected)
    assert not math.isnan(float(loss))
