"""The stored-output cap holds per run, over all its attempts: a crash-looping, chatty trainer
cannot store `max_restarts + 1` times the cap. Real trainer processes (a chatty stand-in for the
trainer command), real supervision, a real database."""

from __future__ import annotations

from tests.agent.platform import Platform
from visionyard import runqueue
from visionyard.agent.supervisor import SupervisionOptions
from visionyard.db.models import RunState

CAP = 4096
#: ~30 bytes a line: 400 lines is ~3x the cap in one attempt; then a crash
CHATTY = (
    "import sys\n"
    "for i in range(400): print(f'noisy line {i:04d} of this attempt')\n"
    "print('error: the last words of this attempt')\n"
    "sys.exit(1)\n"
)


def _attempt(p: Platform, agent_id: int, run_id: int) -> tuple[int, str]:
    claimed = runqueue.claim_next(p.engine, agent_id=agent_id, capacity=0, lease_seconds=30)
    assert claimed is not None and claimed.id == run_id
    _, outcome = p.supervise_script(
        agent_id,
        claimed,
        CHATTY,
        agent_env={"PATH": "/usr/bin:/bin"},
        options=SupervisionOptions(lease_seconds=30, sample_interval=0.2, max_log_bytes=CAP),
    )
    return claimed.attempt, outcome.kind


def test_log_cap_counts_every_attempt_of_a_run(platform: Platform) -> None:
    p = platform
    run_id = p.enqueue(p.config(), max_restarts=2)
    agent_id = runqueue.register_agent(
        p.engine, name="inline", hostname="h", device="cpu", gpus=[], version="t"
    )
    assert [_attempt(p, agent_id, run_id) for _ in range(3)] == [
        (1, "crashed"),
        (2, "crashed"),
        (3, "crashed"),
    ]
    run = p.run(run_id)
    assert run.state == RunState.failed and "the last words of this attempt" in run.error

    logs = [e for e in p.events(run_id, "log") if e.payload.get("source") == "output"]
    by_attempt = {a: [e.payload["message"] for e in logs if e.attempt == a] for a in (1, 2, 3)}
    # Attempt 1 stores up to the cap, then the marker; its last lines follow at its exit.
    first = by_attempt[1]
    assert first[0] == "noisy line 0000 of this attempt"
    cut = next(i for i, m in enumerate(first) if m.startswith("[visionyard] log output truncated"))
    assert sum(len(m) + 1 for m in first[:cut]) <= CAP
    assert f"cap of {CAP} bytes over all its attempts" in first[cut]
    # Later attempts have nothing left: the marker comes first, then only their last lines, so
    # each crash's final words are still there to read.
    for attempt in (2, 3):
        lines = by_attempt[attempt]
        assert lines[0].startswith("[visionyard] log output truncated: this run reached its cap")
        assert lines[1].startswith("[visionyard] 401 lines")
        assert lines[2:] == [
            *(f"noisy line {i:04d} of this attempt" for i in range(301, 400)),
            "error: the last words of this attempt",
        ]
    # In all: one cap, plus per attempt a marker pair and a 100-line tail, not three caps.
    total = sum(len(e.payload["message"]) + 1 for e in logs)
    tail = 100 * 35 + 800  # the markers name the overflow file: a path each
    assert total <= CAP + 3 * tail, total


#: ~3 MB of output (100,000 lines) with the trainer's metrics interleaved in events.jsonl
FLOOD = (
    "import json, sys, time\n"
    "events = open('events.jsonl', 'a')\n"
    "for i in range(100000):\n"
    "    print(f'flood line {i:06d} ' + 'x' * 12)\n"
    "    if i % 2000 == 0:\n"
    "        step = i // 2000\n"
    "        events.write(json.dumps({'type': 'metrics', 'split': 'train', 'step': step,\n"
    "            'time': time.time(), 'values': {'loss': 1.0 / (step + 1)}}) + '\\n')\n"
    "        events.flush()\n"
    "print('done: the last words')\n"
)


def test_a_flood_of_output_is_capped_marked_and_loses_nothing_else(platform: Platform) -> None:
    p = platform
    run_id = p.enqueue(p.config(), max_restarts=0)
    agent_id = runqueue.register_agent(
        p.engine, name="inline", hostname="h", device="cpu", gpus=[], version="t"
    )
    claimed = runqueue.claim_next(p.engine, agent_id=agent_id, capacity=0, lease_seconds=30)
    assert claimed is not None
    launch, outcome = p.supervise_script(
        agent_id,
        claimed,
        FLOOD,
        agent_env={"PATH": "/usr/bin:/bin"},
        options=SupervisionOptions(lease_seconds=30, sample_interval=0.2, max_log_bytes=CAP),
    )
    assert outcome.kind == "succeeded"
    messages = [
        e.payload["message"] for e in p.events(run_id, "log") if e.payload["source"] == "output"
    ]
    # Bounded: the cap, two markers and the 100-line tail; not the ~3 MB printed.
    markers = [m for m in messages if m.startswith("[visionyard]")]
    assert len(markers) == 2
    overflow = launch.output_path.with_name("attempt-1.overflow.log")
    assert str(overflow) in markers[0] and str(overflow) in markers[1]
    assert sum(len(m) + 1 for m in messages) <= CAP + 2 * 1000 + 100 * 30
    assert messages[-1] == "done: the last words"
    # Nothing else lost: every metric the trainer wrote is stored, and the full output is on
    # the agent's disk (the stored part in attempt-1.log, the rest in the overflow file).
    points = p.metric_points(run_id, "train/loss")
    assert points == [(1, "train/loss", step) for step in range(50)]
    stored = launch.output_path.read_text().splitlines()
    cut = next(i for i, line in enumerate(stored) if line.startswith("[visionyard]"))
    assert stored[:cut] + overflow.read_text().splitlines() == [
        *(f"flood line {i:06d} " + "x" * 12 for i in range(100000)),
        "done: the last words",
    ]
