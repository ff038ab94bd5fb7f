"""The relay's building blocks: tailing events.jsonl, and the capped, redacted output log."""

from __future__ import annotations

import json
from pathlib import Path

from visionyard.agent.relay import (
    REDACTED,
    EventTail,
    OutputLog,
    complete_lines_end,
    earlier_output_bytes,
)


def test_event_tail_reads_whole_lines_only_and_skips_garbage(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    tail = EventTail(path)
    assert tail.read() == []  # no file yet
    path.write_text('{"seq": 1, "type": "state"}\nnot json\n{"seq": 2, "ty')
    assert [e["seq"] for e in tail.read()] == [1]
    assert tail.skipped == 1
    with open(path, "a") as fh:
        fh.write('pe": "log"}\n[1, 2]\n')
    assert [e["seq"] for e in tail.read()] == [2]
    assert tail.skipped == 2 and tail.read() == []


def test_complete_lines_end_excludes_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    assert complete_lines_end(path) == 0
    path.write_bytes(b'{"seq": 1}\n{"seq": 2}\n{"se')
    end = complete_lines_end(path)
    assert end == len(b'{"seq": 1}\n{"seq": 2}\n')
    # A resumed trainer truncates the torn line and appends: the tail continues exactly there.
    path.write_bytes(path.read_bytes()[:end] + json.dumps({"seq": 3, "type": "x"}).encode() + b"\n")
    assert [e["seq"] for e in EventTail(path, end).read()] == [3]


def test_output_log_redacts_caps_and_keeps_the_tail(tmp_path: Path) -> None:
    out = OutputLog(tmp_path / "out.log", max_bytes=2000, secrets=["hf_SECRET123"], tail_lines=5)
    out.add("token=hf_SECRET123 in a line")
    for i in range(200):
        out.add(f"line {i:03d} " + "x" * 20)
    out.add("Traceback (most recent call last):")
    out.add("error: the final words")
    out.close()
    events = out.take()
    messages = [e["message"] for e in events]
    assert messages[0] == f"token={REDACTED} in a line"
    assert not any("hf_SECRET123" in m for m in messages)
    markers = [m for m in messages if m.startswith("[visionyard]")]
    assert len(markers) == 2 and "truncated" in markers[0] and "dropped" in markers[1]
    # stored text stays near the cap: the cap, the markers (which name the overflow file), and
    # the kept tail
    assert sum(len(m) + 1 for m in messages) < 2000 + 600 + 2 * len(str(out.overflow_path))
    assert messages[-2:] == ["Traceback (most recent call last):", "error: the final words"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert out.error_message() == "the final words"
    on_disk = (tmp_path / "out.log").read_text()
    assert "hf_SECRET123" not in on_disk and "error: the final words" in on_disk
    out.add("after close is ignored")
    assert out.take() == []


def test_output_log_levels_and_long_lines(tmp_path: Path) -> None:
    out = OutputLog(tmp_path / "out.log", max_bytes=10**6)
    out.add("10:00:00 WARNING careful")
    out.add("10:00:00 INFO fine")
    out.add("y" * 20_000)
    levels = [e["level"] for e in out.take()]
    assert levels == ["warning", "info", "info"]
    out.close()
    assert len((tmp_path / "out.log").read_text().splitlines()[2]) < 8300


def test_the_cap_is_per_run_earlier_attempts_use_it_up(tmp_path: Path) -> None:
    agent_dir = tmp_path / "agent"
    agent_dir.mkdir()
    (agent_dir / "attempt-1.log").write_text("a" * 700)
    (agent_dir / "attempt-3.log").write_text("b" * 300)
    (agent_dir / "attempt-4.log").write_text("not earlier than attempt 4")
    # attempt 2 never wrote (its agent died before the trainer printed anything)
    assert earlier_output_bytes(agent_dir, 1) == 0
    assert earlier_output_bytes(agent_dir, 4) == 1000

    # Attempt 4 of a run capped at 1000 bytes: nothing left, so its first line is the marker,
    # and its last lines (the crash that ends it) still arrive when it exits.
    out = OutputLog(
        agent_dir / "attempt-4.log",
        max_bytes=1000,
        already_stored=earlier_output_bytes(agent_dir, 4),
        tail_lines=5,
    )
    for i in range(50):
        out.add(f"noise {i}")
    out.add("error: out of memory")
    out.close()
    messages = [e["message"] for e in out.take()]
    assert messages[0].startswith("[visionyard] log output truncated: this run reached its cap")
    assert "1000 bytes over all its attempts" in messages[0]
    assert messages[1].startswith("[visionyard] 51 lines")
    assert messages[2:] == ["noise 46", "noise 47", "noise 48", "noise 49", "error: out of memory"]
    assert out.error_message() == "out of memory"


def test_output_past_the_cap_is_kept_on_disk_up_to_its_own_budget(tmp_path: Path) -> None:
    out = OutputLog(tmp_path / "attempt-1.log", max_bytes=100, tail_lines=2, max_overflow_bytes=50)
    lines = [f"line {i:02d} xxxxxxxxxxxxx" for i in range(10)]  # 22 bytes a line with "\n"
    for line in lines:
        out.add(line)
    out.close()
    messages = [e["message"] for e in out.take()]
    overflow = tmp_path / "attempt-1.overflow.log"
    # Stored: 4 lines (88 bytes <= 100); the disk keeps the next 2 (44 bytes <= 50), no more.
    assert messages[:4] == lines[:4]
    assert str(overflow) in messages[4]
    assert overflow.read_text().splitlines() == lines[4:6]
    assert "6 lines (132 bytes)" in messages[5] and "holds the first 44 bytes" in messages[5]
    assert messages[6:] == lines[-2:]
    assert (tmp_path / "attempt-1.log").read_text().splitlines()[:4] == lines[:4]


def test_lines_added_in_batches_are_stored_as_if_added_one_by_one(tmp_path: Path) -> None:
    # The process reader hands over whole reads; across the cap (with a non-ASCII line sized in
    # UTF-8 bytes), redaction and the overflow file, batches change nothing but the cost.
    lines = [f"step {i} loss 0.{i:04d} ✓ hf_KEY" for i in range(300)]
    (tmp_path / "one").mkdir()
    (tmp_path / "many").mkdir()
    single = OutputLog(tmp_path / "one" / "out.log", max_bytes=3000, secrets=["hf_KEY"])
    batched = OutputLog(tmp_path / "many" / "out.log", max_bytes=3000, secrets=["hf_KEY"])
    for line in lines:
        single.add(line)
    for start in range(0, len(lines), 37):
        batched.add_lines(lines[start : start + 37])
    for out in (single, batched):
        out.close()
    one, many = single.take(), batched.take()
    assert [(e["seq"], e["level"], e["message"]) for e in one] == [
        (e["seq"], e["level"], e["message"].replace("many", "one")) for e in many
    ]
    assert (single.stored_bytes, single.dropped_lines, single.dropped_bytes) == (
        batched.stored_bytes,
        batched.dropped_lines,
        batched.dropped_bytes,
    )
    assert single.dropped_lines > 0 and REDACTED in one[0]["message"]
    for name in ("out.log", "out.overflow.log"):  # (the markers name their own folder)
        mirrored = (tmp_path / "many" / name).read_text().replace("/many/", "/one/")
        assert (tmp_path / "one" / name).read_text() == mirrored
