"""bench/normalise_bench.py on a small batch: both formulas agree and both layouts are timed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    src = str(REPO / "src")
    pythonpath = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)
    return subprocess.run(
        [sys.executable, "normalise_bench.py", *args],
        cwd=REPO / "bench",
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": pythonpath},
    )


def test_a_small_batch_reports_both_layouts() -> None:
    proc = run_bench("--batch-size", "2", "--size", "32", "--rounds", "2", "--repeats", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = re.findall(r"^(NCHW|channels-last)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)x", proc.stdout, re.M)
    assert [row[0] for row in rows] == ["NCHW", "channels-last"], proc.stdout
    for _, ours, former, ratio in rows:
        assert float(ours) > 0 and float(former) > 0
        assert abs(float(former) / float(ours) - float(ratio)) < 0.6 * float(ratio)


def test_a_count_below_one_is_a_usage_error() -> None:
    proc = run_bench("--rounds", "0")
    assert proc.returncode == 2
    assert "must be at least 1" in proc.stderr
