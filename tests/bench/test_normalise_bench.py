"""bench/normalise_bench.py on a small batch: both formulas agree and both layouts are timed."""

from __future__ import annotations

import re

from tests.bench.benchrun import run_bench


def test_a_small_batch_reports_every_layout_pair() -> None:
    small = ("--batch-size", "2", "--size", "32", "--rounds", "2", "--repeats", "2")
    proc = run_bench("normalise_bench.py", *small)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    layout = r"(?:NCHW|channels-last)"
    rows = re.findall(
        rf"^({layout} -> {layout})\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)x", proc.stdout, re.M
    )
    assert [row[0] for row in rows] == [
        "NCHW -> NCHW",
        "NCHW -> channels-last",
        "channels-last -> NCHW",
        "channels-last -> channels-last",
    ], proc.stdout
    # Timings of a tiny batch say nothing about speed; that they are there and positive is all
    # a test can ask (the bench itself checked that both formulas give the same numbers).
    for _, ours, former, ratio in rows:
        assert float(ours) > 0 and float(former) > 0 and float(ratio) > 0


def test_a_count_below_one_is_a_usage_error() -> None:
    proc = run_bench("normalise_bench.py", "--rounds", "0")
    assert proc.returncode == 2
    assert "must be at least 1" in proc.stderr
