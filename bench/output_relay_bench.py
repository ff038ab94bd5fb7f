"""What the agent's output capture costs per line of a trainer's output, against the trainer.

A trainer that floods its output (a progress bar without a carriage return, a debug print in a
loop) makes the agent read and relay every line: `TrainerProcess` reads the merged stdout and
stderr on a thread, and `OutputLog.add` redacts, sizes and stores each line up to the run's
cap, then keeps the rest on the agent's disk. This runs a stand-in trainer (a Python child that
writes --lines lines of --line-bytes bytes as fast as it can) under the real `TrainerProcess`
and `OutputLog` (the agent's 8 MiB cap, one secret to redact), and reports per round:

  agent    CPU time of this process (the reader thread and `OutputLog`) per line and per MB
  trainer  CPU time of the child (what printing the same lines costs the trainer itself)

and their ratio, the median over --rounds rounds. The dashboard's side of a flood (its request
latency while the agent stores log rows) is `fanout_bench.py`'s flood phase.

    python bench/output_relay_bench.py
    python bench/output_relay_bench.py --lines 1000000 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from visionyard.agent.process import TrainerProcess
from visionyard.agent.relay import OutputLog

CAP_BYTES = 8 * 1024 * 1024  # the agent's default VISIONYARD_AGENT_MAX_LOG_BYTES


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_round(folder: Path, lines: int, line_bytes: int) -> dict[str, float]:
    output = OutputLog(folder / "attempt-1.log", max_bytes=CAP_BYTES, secrets=["hunter2-token"])
    script = (
        "import sys\n"
        f"line = 'y' * {line_bytes - 1} + '\\n'\n"
        "write = sys.stdout.write\n"
        f"for _ in range({lines}):\n"
        "    write(line)\n"
    )
    agent_before, trainer_before = time.process_time(), children_cpu()
    started = time.perf_counter()
    process = TrainerProcess(
        [sys.executable, "-c", script], env=dict(os.environ), cwd=folder, on_lines=output.add_lines
    )
    while process.poll() is None:
        time.sleep(0.01)
    process.finish_output(timeout=60)
    process.reap()
    wall = time.perf_counter() - started
    agent = time.process_time() - agent_before
    trainer = children_cpu() - trainer_before
    # Every line was either stored (counted in bytes) or dropped past the cap, none lost.
    received_bytes = output.stored_bytes + output.dropped_bytes
    output.close()
    if received_bytes != lines * line_bytes:
        raise RuntimeError(f"the agent received {received_bytes} of {lines * line_bytes} bytes")
    megabytes = lines * line_bytes / 1e6
    return {
        "agent_us_per_line": agent / lines * 1e6,
        "agent_s_per_mb": agent / megabytes,
        "trainer_s_per_mb": trainer / megabytes,
        "agent_over_trainer": agent / trainer,
        "wall_mb_per_s": megabytes / wall,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=500_000)
    parser.add_argument("--line-bytes", type=int, default=100, help="including the newline")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    if args.lines < 1 or args.rounds < 1 or args.line_bytes < 2:
        parser.error("--lines and --rounds must be at least 1, --line-bytes at least 2")
    rows = []
    with tempfile.TemporaryDirectory(prefix="visionyard-relay-") as tmp:
        for r in range(args.rounds):
            folder = Path(tmp) / f"round-{r}"
            folder.mkdir()
            rows.append(one_round(folder, args.lines, args.line_bytes))
    print(
        f"{args.lines:,} lines of {args.line_bytes} bytes per round "
        f"({args.lines * args.line_bytes / 1e6:,.0f} MB), {args.rounds} rounds, cap "
        f"{CAP_BYTES // (1024 * 1024)} MiB; medians"
    )
    for key, label in (
        ("agent_us_per_line", "agent CPU per line (us)"),
        ("agent_s_per_mb", "agent CPU per MB (s)"),
        ("trainer_s_per_mb", "trainer CPU per MB (s)"),
        ("agent_over_trainer", "agent / trainer CPU"),
        ("wall_mb_per_s", "output MB per wall second"),
    ):
        values = [row[key] for row in rows]
        print(
            f"{label:<28}{statistics.median(values):>10.3f}"
            f"   (rounds {min(values):.3f}-{max(values):.3f})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
