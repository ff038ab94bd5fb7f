"""bench/workers_bench.py end to end on a few photos: the variants train and the report adds up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_default_and_a_fixed_count_train_side_by_side(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    src = str(REPO / "src")
    pythonpath = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)
    args = ["--photo-images", "64", "--batch-size", "32", "--rounds", "2"]
    args += ["--epochs-per-round", "1", "--variants", "auto,1", "--threads", "1"]
    proc = subprocess.run(
        [sys.executable, "workers_bench.py", *args, "--workdir", str(tmp_path), "--json", str(out)],
        cwd=REPO / "bench",
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": pythonpath},
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    report = json.loads(out.read_text())
    assert report["settings"]["auto"] == 0  # training on the CPU
    assert len(report["rounds"]) == 2 and set(report["rounds"][1]) == {"auto", "1"}
    speeds = report["summary"]["images_per_second"]
    assert speeds["auto"] > 0 and speeds["1"] > 0
    ratio = report["summary"]["ratios"]["auto/1"]["median"]
    assert ratio == pytest.approx(speeds["auto"] / speeds["1"])
    assert "auto/1" in proc.stdout


def test_bad_variants_are_a_usage_error() -> None:
    proc = subprocess.run(
        [sys.executable, "workers_bench.py", "--variants", "auto,many"],
        cwd=REPO / "bench",
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )
    assert proc.returncode == 2
    assert "--variants takes worker counts or 'auto'" in proc.stderr
