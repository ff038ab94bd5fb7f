"""bench/data_pipeline.py end to end on a few small photos: partial decoding measured beside the
full decode, the opt-in scaled decode beside the exact one, and a bad photo size is a usage
error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bench.benchrun import run_bench


@pytest.mark.slow
def test_partial_and_full_decoding_run_side_by_side(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    proc = run_bench(
        "data_pipeline.py",
        *("--photo-size", "320x240", "--train-images", "20", "--val-images", "10"),
        *("--images-per-round", "8", "--batch-size", "4", "--rounds", "2"),
        *("--contenders", "visionyard,visionyard-full-decode,decode"),
        *("--workdir", str(tmp_path), "--json", str(out)),
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "320x240 photos ready" in proc.stdout
    summary = json.loads(out.read_text())["summary"]
    speeds = summary["images_per_second"]
    assert set(speeds) == {"visionyard", "visionyard-full-decode", "decode"}
    assert all(v["median"] > 0 for v in speeds.values())
    assert summary["ratios"]["visionyard/visionyard-full-decode"]["median"] > 0
    assert len(list((tmp_path / "photos-320x240" / "train").glob("class_*/*.jpg"))) == 20


def test_a_photo_size_that_is_not_width_x_height_is_a_usage_error() -> None:
    proc = run_bench("data_pipeline.py", "--photo-size", "big")
    assert proc.returncode == 2
    assert "--photo-size must be WIDTHxHEIGHT" in proc.stderr
    proc = run_bench("data_pipeline.py", "--photo-size", "100x100")
    assert proc.returncode == 2
    assert "at least 224 pixels" in proc.stderr


@pytest.mark.slow
def test_scaled_decoding_is_measured_and_its_difference_reported(tmp_path: Path) -> None:
    # 1200x900 photos: crops of 448 px and more (most of them) are decoded reduced.
    out = tmp_path / "report.json"
    proc = run_bench(
        "data_pipeline.py",
        *("--photo-size", "1200x900", "--train-images", "12", "--val-images", "10"),
        *("--images-per-round", "8", "--batch-size", "4", "--rounds", "2"),
        *("--contenders", "visionyard,visionyard-scaled"),
        *("--workdir", str(tmp_path), "--json", str(out)),
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    summary = json.loads(out.read_text())["summary"]
    assert summary["ratios"]["visionyard-scaled/visionyard"]["median"] > 0
    diff = summary["scaled_difference"]
    assert diff["samples"] == 12
    # Reduced decoding fired (the pixels differ) and stayed close to the exact decode.
    assert 0 < diff["mean_abs_levels"] < 10
    assert "visionyard-scaled vs visionyard, same crops, 12 samples" in proc.stdout
