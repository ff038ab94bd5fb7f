"""Tracker (TensorBoard + events.jsonl), read back with TensorBoard's own reader."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.summary.writer import event_file_writer
from tests.training.runfolder import read_events_strictly

from visionyard.training.confusion_image import render_confusion_matrix
from visionyard.training.metric_registry import describe
from visionyard.training.metrics import EvalResult
from visionyard.training.tracking import Tracker


def _accumulator(tb_dir: Path) -> EventAccumulator:
    acc = EventAccumulator(str(tb_dir), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    acc.Reload()
    return acc


def _result(names: list[str]) -> EvalResult:
    n = len(names)
    confusion = [[10 if i == j else i + j for j in range(n)] for i in range(n)]
    per_class = [
        {"class": name, "precision": 0.5, "recall": 0.25, "f1": 1 / 3, "support": sum(confusion[i])}
        for i, name in enumerate(names)
    ]
    return EvalResult(
        scalars={"acc@1": 0.5}, per_class=per_class, confusion=confusion, num_samples=100
    )


def test_tracker_writes_tensorboard_and_events(tmp_path: Path) -> None:
    run = tmp_path / "run"
    names = ["cat", "dog", "bird"]
    tracker = Tracker(run, class_names=names)
    tracker.state("starting", attempt=1)
    for step in (1, 2, 3):
        tracker.train_step(step, epoch=0, loss=1.0 / step, lr=0.1 * step)
    tracker.progress(epoch=0, epochs=2, step=3, total_steps=6, eta_s=12.5)
    tracker.epoch_metrics("val", epoch=0, step=3, values={"acc@1": 0.75, "loss": math.nan})
    tracker.eval_details("val", step=3, result=_result(names))
    tracker.checkpoint("best", run / "checkpoints" / "best", epoch=0, step=3, metric=0.75)
    tracker.artifact("model", run / "model")
    tracker.log("done", level="warning")
    tracker.state("succeeded")
    tracker.close()
    tracker.close()  # idempotent

    acc = _accumulator(run / "tb")
    tags = acc.Tags()
    loss = acc.Scalars("train/step_loss")
    assert [e.step for e in loss] == [1, 2, 3]
    assert [e.value for e in loss] == pytest.approx([1.0, 0.5, 1 / 3])
    assert [e.value for e in acc.Scalars("train/lr")] == pytest.approx([0.1, 0.2, 0.3])
    (val,) = acc.Scalars("val/acc@1")
    assert (val.step, val.value) == (3, pytest.approx(0.75))
    assert math.isnan(acc.Scalars("val/loss")[0].value)
    assert "val/confusion_matrix" in tags["images"]
    (image,) = acc.Images("val/confusion_matrix")
    expected = render_confusion_matrix(_result(names).confusion, names)
    assert (image.width, image.height, image.step) == (*expected.size, 3)
    text_tag = next(t for t in tags["tensors"] if t.startswith("val/per_class"))
    (text,) = acc.Tensors(text_tag)
    table = text.tensor_proto.string_val[0].decode()
    assert "| cat |" in table and "| bird |" in table and "support" in table
    (definitions,) = acc.Tensors("metrics/definitions/text_summary")
    assert definitions.tensor_proto.string_val[0].decode() == describe()

    events = read_events_strictly(run / "events.jsonl")
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert [e["type"] for e in events] == [
        "state", "train_step", "train_step", "train_step", "progress", "metrics",
        "checkpoint", "artifact", "log", "state",
    ]  # fmt: skip
    assert events[0] == {**events[0], "state": "starting", "attempt": 1}
    assert events[3] == {**events[3], "step": 3, "epoch": 0, "loss": pytest.approx(1 / 3)}
    assert events[4]["eta_s"] == 12.5 and events[4]["total_steps"] == 6
    assert events[5]["values"] == {"acc@1": 0.75, "loss": None}
    assert events[5]["split"] == "val" and events[5]["step"] == 3
    assert events[6]["path"] == "checkpoints/best" and events[6]["metric"] == 0.75
    assert events[7] == {**events[7], "kind": "model", "path": "model"}
    assert events[8]["level"] == "warning"
    assert events[9]["state"] == "succeeded"


def test_tracker_resume_continues_seq_and_custom_tb_dir(tmp_path: Path) -> None:
    run, tb = tmp_path / "run", tmp_path / "tb_root" / "run"
    with Tracker(run, tb_dir=tb) as t:
        t.state("starting")
    with Tracker(run, tb_dir=tb) as t:
        t.state("resumed", epoch=3)
        t.epoch_metrics("train", epoch=3, step=40, values={"loss": 0.5})
        t.state("stopped", step=40)  # drained: checkpointed, the supervisor re-queues
    events = read_events_strictly(run / "events.jsonl")
    assert [e["seq"] for e in events] == [1, 2, 3, 4]
    assert [e.get("state") for e in events] == ["starting", "resumed", None, "stopped"]
    assert not (run / "tb").exists()
    assert _accumulator(tb).Scalars("train/loss")[0].step == 40


def test_a_resume_in_the_same_second_and_process_is_read_after_the_first_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Event files are named ...<second>.<host>.<pid>.<counter> and read in name order: with the
    counter going from 9 to 10 within one second, "10" sorts first and TensorBoard would read the
    resumed half before the first (CI saw a resume test fail this way)."""
    monkeypatch.setattr(event_file_writer, "_global_uid", event_file_writer.AtomicCounter(9))
    run = tmp_path / "run"
    with Tracker(run) as t:
        t.epoch_metrics("train", epoch=0, step=5, values={"loss": 1.0})
        t.epoch_metrics("train", epoch=1, step=10, values={"loss": 0.9})
    with Tracker(run) as t:
        t.epoch_metrics("train", epoch=2, step=15, values={"loss": 0.8})
    files = sorted(p.name for p in (run / "tb").iterdir())
    assert [name.rsplit(".", 1)[1] for name in files] == ["9", "10"], files
    assert [e.step for e in _accumulator(run / "tb").Scalars("train/loss")] == [5, 10, 15]


def _exercise(tracker: Tracker, run: Path) -> None:
    tracker.state("starting")
    tracker.train_step(1, 0, 1.0, 0.1)
    tracker.epoch_metrics("val", 0, 1, {"acc@1": 0.5})
    tracker.eval_details("val", 1, _result(["a", "b"]))
    tracker.progress(epoch=0)
    tracker.checkpoint("last", run / "checkpoints" / "last", 0, 1, None)
    tracker.artifact("model", run / "model")
    tracker.log("hello")
    tracker.close()


def test_disabled_tracker_creates_no_files(tmp_path: Path) -> None:
    run = tmp_path / "run"
    _exercise(Tracker(run, enabled=False), run)
    assert list(tmp_path.iterdir()) == []


def test_non_zero_rank_is_a_no_op(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANK", "1")
    run = tmp_path / "run"
    tracker = Tracker(run)
    assert not tracker.active
    _exercise(tracker, run)
    assert list(tmp_path.iterdir()) == []


def test_tracker_rejects_unknown_state_and_level(tmp_path: Path) -> None:
    tracker = Tracker(tmp_path / "run", enabled=False)
    with pytest.raises(ValueError, match="unknown run state 'done'"):
        tracker.state("done")
    with pytest.raises(ValueError, match="unknown log level"):
        tracker.log("x", level="fatal")
