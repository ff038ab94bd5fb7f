"""EventLog (events.jsonl): strict JSON lines, seq continued across reopens, torn tails cut."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from tests.training.runfolder import read_events_strictly

from visionyard.training.eventlog import EventLog


def test_emit_writes_one_valid_json_line_per_event(tmp_path: Path) -> None:
    path = tmp_path / "run" / "events.jsonl"
    log = EventLog(path)
    returned = [
        log.emit("state", state="starting"),
        log.emit("log", level="info", message="héllo | wörld\nsecond line"),
        log.emit("metrics", split="val", epoch=1, step=10, values={"acc@1": 0.5}),
    ]
    # The file is readable (flushed) before close: the agent tails it live.
    events = read_events_strictly(path)
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
    (line,) = read_events_strictly(path)  # strict parse: no bare NaN / Infinity tokens
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
    assert [e["seq"] for e in read_events_strictly(path)] == [1, 2, 3, 4]


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
    events = read_events_strictly(path)
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
    events = read_events_strictly(path)
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
