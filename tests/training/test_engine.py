"""The loop skeleton: one optimizer step per accumulation window, AMP dtypes, stop requests."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from visionyard.training.engine import TrainLoop, resolve_amp_dtype
from visionyard.training.losses import build_loss
from visionyard.training.optim import build_scheduler


class TinyNet(nn.Module):
    """A real (if small) classifier with the HF calling convention: forward(pixel_values=...)."""

    def __init__(self, num_classes: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.head = nn.Linear(4, num_classes)
        self.seen_dtypes: list[torch.dtype] = []

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        x = self.conv(pixel_values).relu().mean(dim=(2, 3))
        logits = self.head(x)
        self.seen_dtypes.append(logits.dtype)
        return logits


def make_batches(n: int, batch: int = 4, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    return [
        (torch.randn(batch, 3, 8, 8, generator=g), torch.randint(0, 3, (batch,), generator=g))
        for _ in range(n)
    ]


class CountingSGD(torch.optim.SGD):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.steps = 0

    def step(self, closure=None):  # type: ignore[override]
        self.steps += 1
        return super().step(closure)


def make_loop(model: nn.Module, *, accum: int = 1, amp=None, scaler=None, stop=lambda: False):
    opt = CountingSGD(model.parameters(), lr=0.1)
    sched = build_scheduler(opt, name="constant", total_steps=100, warmup_ratio=0.0)
    return TrainLoop(
        model=model,
        optimizer=opt,
        scheduler=sched,
        loss_fn=build_loss("cross_entropy"),
        device=torch.device("cpu"),
        amp_dtype=amp,
        scaler=scaler,
        grad_accum_steps=accum,
        max_grad_norm=1.0,
        stop_requested=stop,
    )


def test_one_optimizer_step_per_accumulation_window() -> None:
    loop = make_loop(TinyNet(), accum=2)
    seen = []
    stats = loop.train_epoch(make_batches(5), epoch=0, num_batches=5, on_step=seen.append)
    # windows [0,1] [2,3] [4]: the partial last window still steps
    assert loop.optimizer.steps == 3 and loop.step == 3
    assert [s.batches_done for s in seen] == [2, 4, 5]
    assert loop.scheduler.last_epoch == 3
    assert stats.samples == 20 and not stats.stopped


def test_accumulation_equals_one_big_batch() -> None:
    torch.manual_seed(0)
    a = TinyNet()
    b = copy.deepcopy(a)
    small = make_batches(2, batch=4)
    big = [(torch.cat([small[0][0], small[1][0]]), torch.cat([small[0][1], small[1][1]]))]
    make_loop(a, accum=2).train_epoch(small, epoch=0, num_batches=2)
    make_loop(b, accum=1).train_epoch(big, epoch=0, num_batches=1)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=1e-5, atol=1e-6)


def test_bf16_autocast_on_cpu_runs_forward_in_bf16_and_keeps_fp32_params() -> None:
    model = TinyNet()
    loop = make_loop(model, amp=torch.bfloat16)
    loop.train_epoch(make_batches(2), epoch=0, num_batches=2)
    assert model.seen_dtypes and all(d == torch.bfloat16 for d in model.seen_dtypes)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert loop.optimizer.steps == 2


def test_fp16_uses_scaler_and_steps_once_per_window() -> None:
    model = TinyNet()
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**4)
    before = [p.detach().clone() for p in model.parameters()]
    loop = make_loop(model, accum=2, amp=torch.float16, scaler=scaler)
    loop.train_epoch(make_batches(4), epoch=0, num_batches=4)
    assert model.seen_dtypes and all(d == torch.float16 for d in model.seen_dtypes)
    assert loop.step == 2
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True))


def test_scaler_refused_without_fp16() -> None:
    with pytest.raises(ValueError, match="fp16"):
        make_loop(TinyNet(), amp=torch.bfloat16, scaler=torch.amp.GradScaler("cpu"))


def test_stop_request_is_honoured_within_one_step() -> None:
    flag = {"stop": False}

    def on_step(info) -> None:
        flag["stop"] = True  # e.g. a SIGTERM arriving during the first step

    loop = make_loop(TinyNet(), accum=2, stop=lambda: flag["stop"])
    stats = loop.train_epoch(make_batches(10), epoch=0, num_batches=10, on_step=on_step)
    assert stats.stopped and stats.batches_done == 2 and loop.step == 1


def test_resume_position_must_be_on_a_window_boundary() -> None:
    loop = make_loop(TinyNet(), accum=2)
    with pytest.raises(ValueError, match="boundary"):
        loop.train_epoch(make_batches(3), epoch=0, num_batches=10, start_batch=3)


def test_auto_precision_is_fp32_on_cpu() -> None:
    assert resolve_amp_dtype("auto", torch.device("cpu")) is None
    assert resolve_amp_dtype("bf16", torch.device("cpu")) is torch.bfloat16
