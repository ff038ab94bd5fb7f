"""Stopping and resuming through `train()` (resume.py): bit-identical to a run that never
stopped, at an epoch boundary and mid-epoch (weights, val and train metrics in results, events
and TensorBoard); a torn `last` checkpoint is skipped, never fatal; a mid-epoch checkpoint from
before the train sums were saved still resumes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tests.training.runfolder import read_events, results

from visionyard.training.config import build_config
from visionyard.training.control import StopSignal
from visionyard.training.resume import EPOCH_SUMS_KEY
from visionyard.training.runner import train


def _final_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(run_dir / "checkpoints" / "last" / "model.safetensors")


def _epoch_metrics(run_dir: Path, split: str) -> list[tuple[int, int, dict]]:
    """(epoch, step, values) of every `metrics` event of `split`, over all of the run's starts."""
    return [
        (e["epoch"], e["step"], e["values"])
        for e in read_events(run_dir)
        if e["type"] == "metrics" and e["split"] == split
    ]


def _tb_scalars(run_dir: Path, prefix: str) -> dict[str, list[tuple[int, float]]]:
    """TensorBoard's own reading of the run's scalars under `prefix` (every event file)."""
    acc = EventAccumulator(str(run_dir / "tb"), size_guidance={"scalars": 0})
    acc.Reload()
    return {
        tag: [(e.step, e.value) for e in acc.Scalars(tag)]
        for tag in acc.Tags()["scalars"]
        if tag.startswith(prefix)
    }


def _assert_same_run(a: Path, b: Path) -> None:
    wa, wb = _final_weights(a), _final_weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key
    ha, hb = results(a)["history"], results(b)["history"]
    assert [h["val"] for h in ha] == [h["val"] for h in hb]
    # Every epoch's train means, the resumed one included, to the bit.
    assert all(h["train"] for h in ha + hb), (ha, hb)
    assert [h["train"] for h in ha] == [h["train"] for h in hb]
    for split in ("train", "val"):
        assert _epoch_metrics(a, split) == _epoch_metrics(b, split), split
    assert _tb_scalars(a, "train/") == _tb_scalars(b, "train/")
    assert set(_tb_scalars(a, "train/")) >= {"train/loss", "train/acc@1"}
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


class CrashAfterPolls(StopSignal):
    """A crash (an exception out of the loop, as a failing step would raise) once the loop has
    polled for a stop `n` times, i.e. right after optimizer step n + 1 and its checkpoint."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.remaining = n

    def is_set(self) -> bool:
        self.remaining -= 1
        if self.remaining < 0:
            raise RuntimeError("simulated crash")
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
    sums = torch.load(
        stopped.run_dir / "checkpoints" / "last" / "training_state.pt", weights_only=True
    )[EPOCH_SUMS_KEY]
    assert int(sums["samples"][0]) == state["batches_done"] * cfg["batch_size"]
    resumed = train(build_config(cfg | {"run_name": "split"}))
    assert resumed.status == "succeeded"
    _assert_same_run(straight.run_dir, resumed.run_dir)


def test_crash_after_a_periodic_checkpoint_then_resume_keeps_the_train_metrics(
    base_config: dict,
) -> None:
    """The sums a periodic (checkpoint_every_steps) save holds are the ones at its step: a run
    that crashes after it resumes from there with the same train means as the straight run."""
    cfg = base_config | {"epochs": 2, "checkpoint_every_steps": 2}
    straight = train(build_config(cfg | {"run_name": "straight"}))
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(build_config(cfg | {"run_name": "split"}), stop=CrashAfterPolls(2))
    run_dir = Path(cfg["output_dir"]) / "split"
    state = json.loads((run_dir / "checkpoints" / "last" / "state.json").read_text())
    assert (state["step"], state["batches_done"]) == (2, 2)  # the periodic save, mid-epoch
    resumed = train(build_config(cfg | {"run_name": "split"}))
    assert resumed.status == "succeeded"
    _assert_same_run(straight.run_dir, resumed.run_dir)


def _rewrite_training_state(checkpoint: Path, change) -> None:
    """Rewrite a checkpoint's training_state.pt through `change` and its manifest entry, as a
    Visionyard that wrote that content would have."""
    path = checkpoint / "training_state.pt"
    state = torch.load(path, weights_only=True)
    change(state)
    torch.save(state, path)
    manifest_path = checkpoint / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text())
    for entry in manifest["files"]:
        if entry["file"] == path.name:
            entry["size"] = path.stat().st_size
            entry["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    manifest_path.write_text(json.dumps(manifest))


def test_a_mid_epoch_checkpoint_without_train_sums_still_resumes(base_config: dict) -> None:
    """A mid-epoch checkpoint written before the running train sums were saved: the run resumes
    and finishes with the same weights and val metrics; only the resumed epoch reports no train
    means (the old behaviour, said in the run's log), and no train event for it."""
    cfg = base_config | {"epochs": 2}
    straight = train(build_config(cfg | {"run_name": "straight"}))
    stopped = train(build_config(cfg | {"run_name": "split"}), stop=StopAfterPolls(2))
    assert stopped.status == "stopped" and stopped.epochs_completed == 0
    last = stopped.run_dir / "checkpoints" / "last"
    _rewrite_training_state(last, lambda state: state.pop(EPOCH_SUMS_KEY))
    resumed = train(build_config(cfg | {"run_name": "split"}))
    assert resumed.status == "succeeded"
    history, reference = results(resumed.run_dir)["history"], results(straight.run_dir)["history"]
    assert [h["train"] for h in history] == [{}, reference[1]["train"]]
    assert [h["val"] for h in history] == [h["val"] for h in reference]
    assert [epoch for epoch, _, _ in _epoch_metrics(resumed.run_dir, "train")] == [2]
    for key, value in _final_weights(resumed.run_dir).items():
        assert torch.equal(value, _final_weights(straight.run_dir)[key]), key
    warnings = [
        e["message"]
        for e in read_events(resumed.run_dir)
        if e["type"] == "log" and e["level"] == "warning"
    ]
    assert any("predates saved train sums" in m and "epoch 1" in m for m in warnings), warnings


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
