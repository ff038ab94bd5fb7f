"""EventLog (events.jsonl) and Tracker (TensorBoard), read back with TensorBoard's own reader."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from visionyard.training.metric_registry import describe
from visionyard.training.metrics import EvalResult
from visionyard.training.tracking import EventLog, Tracker, render_confusion_matrix


def _strict_loads(line: str) -> dict:
    def reject(token: str) -> None:
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(line, parse_constant=reject)


def _read_events(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    assert text == "" or text.endswith("\n")
    return [_strict_loads(line) for line in text.splitlines()]


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


# -- EventLog -------------------------------------------------------------------------------------


def test_emit_writes_one_valid_json_line_per_event(tmp_path: Path) -> None:
    path = tmp_path / "run" / "events.jsonl"
    log = EventLog(path)
    returned = [
        log.emit("state", state="starting"),
        log.emit("log", level="info", message="héllo | wörld\nsecond line"),
        log.emit("metrics", split="val", epoch=1, step=10, values={"acc@1": 0.5}),
    ]
    # The file is readable (flushed) before close: the agent tails it live.
    events = _read_events(path)
    log.close()
    assert events == returned
    assert [e["seq"] for e in events] == [1, 2, 3]
    assert [e["type"] for e in events] == ["state", "log", "metrics"]
    assert all(isinstance(e["time"], float) for e in events)
    assert events[1]["message"] == "héllo | wörld\nsecond line"
    assert len(path.read_text(encoding="utf-8").splitlines()) == 3


def test_non_finite_floats_serialise_as_null(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    with EventLog(path) as log:
        event = log.emit(
            "metrics",
            split="val",
            epoch=0,
            step=0,
            values={"loss": math.nan, "ece": math.inf, "x": -math.inf, "acc@1": 0.25},
            arr=np.array([1.5, np.nan]),
            scalar=np.float32(2.5),
            where=tmp_path,
        )
    (line,) = _read_events(path)  # strict parse: no bare NaN / Infinity tokens
    assert line["values"] == {"loss": None, "ece": None, "x": None, "acc@1": 0.25}
    assert line["arr"] == [1.5, None] and line["scalar"] == 2.5
    assert line["where"] == str(tmp_path)
    assert event == line


def test_reopen_continues_seq(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    with EventLog(path) as log:
        for i in range(3):
            log.emit("log", level="info", message=str(i))
    with EventLog(path) as log:
        assert log.next_seq == 4
        log.emit("state", state="resumed")
    assert [e["seq"] for e in _read_events(path)] == [1, 2, 3, 4]


def test_torn_last_line_is_truncated_on_reopen(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    with EventLog(path) as log:
        log.emit("log", level="info", message="a")
        log.emit("log", level="info", message="b")
    intact = path.read_bytes()
    with open(path, "ab") as fh:
        fh.write(b'{"seq":3,"time":1.0,"type":"lo')  # crash mid-write
    with EventLog(path) as log:
        assert path.read_bytes() == intact
        log.emit("state", state="resumed")
    events = _read_events(path)
    assert [e["seq"] for e in events] == [1, 2, 3]
    assert events[-1]["type"] == "state"


def test_file_holding_only_a_torn_line_restarts_at_one(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b'{"seq":1,"ti')
    with EventLog(path) as log:
        assert path.read_bytes() == b""
        assert log.emit("state", state="starting")["seq"] == 1


def test_recovery_reads_only_the_tail_of_long_files(tmp_path: Path) -> None:
    """Lines longer than the tail window and many events: seq still continues exactly."""
    path = tmp_path / "events.jsonl"
    with EventLog(path) as log:
        for i in range(300):
            log.emit("train_step", step=i, epoch=0, loss=1.0, lr=1e-3)
        log.emit("log", level="info", message="x" * 150_000)  # > 2 tail blocks
    with open(path, "ab") as fh:
        fh.write(b'{"seq":302,"message":"' + b"y" * 100_000)  # long torn line
    with EventLog(path) as log:
        assert log.next_seq == 302
        log.emit("state", state="resumed")
    events = _read_events(path)
    assert [e["seq"] for e in events] == list(range(1, 303))


def test_a_garbage_complete_last_line_does_not_break_resume(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    with EventLog(path) as log:
        log.emit("log", level="info", message="a")
    with open(path, "ab") as fh:
        fh.write(b"not json\n")
    with EventLog(path) as log:
        assert log.emit("log", level="info", message="b")["seq"] == 2


def test_emit_rejects_reserved_fields_and_closed_log(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.jsonl")
    with pytest.raises(ValueError, match="reserved"):
        log.emit("log", seq=5)
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        log.emit("log", obj=object())
    assert log.emit("log", level="info", message="ok")["seq"] == 1  # failures consume no seq
    log.close()
    log.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        log.emit("log", level="info", message="late")


# -- Tracker --------------------------------------------------------------------------------------


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

    events = _read_events(run / "events.jsonl")
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
    events = _read_events(run / "events.jsonl")
    assert [e["seq"] for e in events] == [1, 2, 3, 4]
    assert [e.get("state") for e in events] == ["starting", "resumed", None, "stopped"]
    assert not (run / "tb").exists()
    assert _accumulator(tb).Scalars("train/loss")[0].step == 40


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


# -- confusion-matrix image -----------------------------------------------------------------------


def test_confusion_image_size_for_3_and_200_classes() -> None:
    small = render_confusion_matrix([[5, 1, 0], [2, 9, 3], [0, 0, 4]], ["a", "b", "c"])
    assert small.mode == "RGB"
    assert 120 <= small.width <= 600 and 120 <= small.height <= 600

    n = 200
    rng = np.random.default_rng(0)
    conf = rng.integers(0, 5, (n, n))
    conf[np.arange(n), np.arange(n)] += 100
    names = [f"a_rather_long_class_name_number_{i}" for i in range(n)]
    big = render_confusion_matrix(conf.tolist(), names)
    assert 1000 <= big.width <= 1600 and 1000 <= big.height <= 1600


def test_confusion_image_colours_are_row_normalised() -> None:
    # Row 0 has 1000x the samples of row 1, but both are perfectly classified: after row
    # normalisation their diagonal cells must be equally dark.
    conf = [[1000, 0], [0, 1]]
    img = render_confusion_matrix(conf, ["many", "few"])

    def darkest(image: Image.Image) -> np.ndarray:
        # Pixels of the darkest heat-map colour (shade 1.0); text and labels are other colours.
        arr = np.asarray(image).astype(int)
        return np.abs(arr - np.array([8, 48, 107])).max(axis=2) <= 2

    dark = darkest(img)
    ys, xs = np.nonzero(dark)
    h, w = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
    assert h == w  # the two diagonal cells span a square
    cell = h // 2
    assert dark[ys.min() + 2, xs.min() + 2] and dark[ys.max() - 2, xs.max() - 2]
    assert not dark[ys.min() + 2, xs.max() - 2] and not dark[ys.max() - 2, xs.min() + 2]
    assert dark.sum() > cell * cell  # both diagonal cells, not just one
    raw = darkest(render_confusion_matrix(conf, ["many", "few"], normalize=False))
    assert raw.sum() < 0.6 * dark.sum()  # unnormalised: the one-sample row fades out


def test_confusion_image_handles_odd_names_and_rejects_mismatch() -> None:
    img = render_confusion_matrix([[1, 0], [0, 1]], ["日本語のクラス", "x" * 300])
    assert img.width < 600
    with pytest.raises(ValueError, match="does not match 3 class names"):
        render_confusion_matrix([[1, 0], [0, 1]], ["a", "b", "c"])
