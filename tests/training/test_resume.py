"""Stopping and resuming through `train()` (resume.py): bit-identical to a run that never
stopped, at an epoch boundary and mid-epoch; a torn `last` checkpoint is skipped, never fatal."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file
from tests.training.runfolder import read_events, results

from visionyard.training.config import build_config
from visionyard.training.control import StopSignal
from visionyard.training.runner import train


def _final_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(run_dir / "checkpoints" / "last" / "model.safetensors")


def _assert_same_run(a: Path, b: Path) -> None:
    wa, wb = _final_weights(a), _final_weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key
    ha, hb = results(a)["history"], results(b)["history"]
    assert [h["val"] for h in ha] == [h["val"] for h in hb]
    # a run resumed mid-epoch reports no train mean for the partial epoch; compare the rest
    for x, y in zip(ha, hb, strict=True):
        if x["train"] and y["train"]:
            assert x["train"] == y["train"]
    sa = json.loads((a / "checkpoints" / "last" / "state.json").read_text())
    sb = json.loads((b / "checkpoints" / "last" / "state.json").read_text())
    assert sa["step"] == sb["step"]


class StopAfterPolls(StopSignal):
    """A stop request that arrives after the loop has polled `n` times (once per optimizer step)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.remaining = n

    def is_set(self) -> bool:
        self.remaining -= 1
        if self.remaining < 0:
            self.set("test stop")
        return super().is_set()


def test_resume_at_epoch_boundary_is_bit_identical(base_config: dict, tmp_path: Path) -> None:
    """R10 at an epoch boundary: 4 epochs straight == 2 epochs, stop, resume for the other 2."""
    cfg = base_config | {"epochs": 4}
    straight = train(build_config(cfg | {"run_name": "straight"}))
    # 5 steps per epoch; polls: 5 steps + 1 epoch-end check, then 5 steps: the 11th poll is the
    # last step of epoch 2, so the run stops right after that epoch's checkpoint.
    half = train(build_config(cfg | {"run_name": "split"}), stop=StopAfterPolls(10))
    assert half.status == "stopped" and half.epochs_completed == 2
    state = json.loads((half.run_dir / "checkpoints" / "last" / "state.json").read_text())
    assert (state["epoch"], state["batches_done"]) == (2, 0)
    resumed = train(build_config(cfg | {"run_name": "split"}))
    assert resumed.status == "succeeded" and resumed.epochs_completed == 4
    _assert_same_run(straight.run_dir, resumed.run_dir)
    resumed_events = [e for e in read_events(resumed.run_dir) if e["type"] == "state"]
    assert any(e["state"] == "resumed" for e in resumed_events)


def test_stop_mid_epoch_then_resume_is_bit_identical(base_config: dict) -> None:
    """R10 mid-epoch: a stop request saves `last` at the current step; resuming finishes the run
    with the same weights and metrics as an uninterrupted run (augmentation included)."""
    cfg = base_config | {"epochs": 3, "train_preset": "standard", "grad_accum_steps": 2}
    straight = train(build_config(cfg | {"run_name": "straight"}))
    stopped = train(build_config(cfg | {"run_name": "split"}), stop=StopAfterPolls(4))
    assert stopped.status == "stopped" and stopped.epochs_completed == 1
    state = json.loads((stopped.run_dir / "checkpoints" / "last" / "state.json").read_text())
    assert state["batches_done"] > 0  # genuinely mid-epoch
    resumed = train(build_config(cfg | {"run_name": "split"}))
    assert resumed.status == "succeeded"
    _assert_same_run(straight.run_dir, resumed.run_dir)


def test_torn_last_checkpoint_falls_back_to_an_older_valid_one(base_config: dict) -> None:
    """R11 through the runner: a truncated last/ is skipped with a warning, never fatal."""
    cfg = base_config | {"epochs": 2, "save_per_epoch_checkpoint": True}
    first = train(build_config(cfg))
    weights = first.run_dir / "checkpoints" / "last" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    again = train(build_config(cfg | {"epochs": 3}))
    assert again.status == "succeeded" and again.epochs_completed == 3
    warnings = [
        e for e in read_events(first.run_dir) if e["type"] == "log" and "skipping" in e["message"]
    ]
    assert warnings and "last" in warnings[0]["message"]
    assert (first.run_dir / "checkpoints" / "epoch_002" / "MANIFEST.json").is_file()
