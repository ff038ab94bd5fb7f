"""bench/output_relay_bench.py on a short flood: every line reaches the relay and both CPU costs
are reported."""

from __future__ import annotations

import re

from tests.bench.benchrun import run_bench


def test_a_short_flood_reports_the_agents_and_the_trainers_cost() -> None:
    proc = run_bench("output_relay_bench.py", "--lines", "20000", "--rounds", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "20,000 lines of 100 bytes per round (2 MB), 2 rounds, cap 8 MiB" in proc.stdout
    rows = dict(
        re.findall(r"^(agent[^\d]*?|trainer[^\d]*?|output[^\d]*?)\s+([\d.]+)\s", proc.stdout, re.M)
    )
    assert set(rows) == {
        "agent CPU per line (us)",
        "agent CPU per MB (s)",
        "trainer CPU per MB (s)",
        "agent / trainer CPU",
        "output MB per wall second",
    }, proc.stdout
    # (the bench itself fails when a line's bytes went missing)
    assert all(float(value) > 0 for value in rows.values())


def test_a_count_below_one_is_a_usage_error() -> None:
    proc = run_bench("output_relay_bench.py", "--lines", "0")
    assert proc.returncode == 2
    assert "must be at least 1" in proc.stderr
