"""bench/settings_bench.py end to end on a few photos: the values train and the report adds up."""

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
    args += ["--epochs-per-round", "1", "--values", "auto,1", "--threads", "1"]
    proc = subprocess.run(
        [
            sys.executable,
            "settings_bench.py",
            *args,
            "--workdir",
            str(tmp_path),
            "--json",
            str(out),
        ],
        cwd=REPO / "bench",
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": pythonpath},
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    report = json.loads(out.read_text())
    assert report["settings"]["auto"].startswith("0 (auto: training on the CPU")
    assert len(report["rounds"]) == 2 and set(report["rounds"][1]) == {"auto", "1"}
    speeds = report["summary"]["images_per_second"]
    assert speeds["auto"] > 0 and speeds["1"] > 0
    ratio = report["summary"]["ratios"]["auto/1"]["median"]
    assert ratio == pytest.approx(speeds["auto"] / speeds["1"])
    assert "auto/1" in proc.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--values", "auto,many"], "are not values of num_workers"),
        (["--setting", "channels_last", "--values", "auto,maybe"], "not values of channels_last"),
        (["--values", "auto,auto"], "two or more different values"),
        (["--values", "auto,-1"], "worker counts are >= 0"),
    ],
)
def test_bad_values_are_a_usage_error(args: list[str], says: str) -> None:
    proc = subprocess.run(
        [sys.executable, "settings_bench.py", *args],
        cwd=REPO / "bench",
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )
    assert proc.returncode == 2
    assert says in proc.stderr
