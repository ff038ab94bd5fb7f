"""bench/gpu.py --smoke end to end: every variant runs on the CPU and the JSON report holds them."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODELS = ("ViT-B/16", "ResNet-50", "ConvNeXt-T")
CONTENDERS = ("visionyard", "timm", "trainer")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    out = tmp_path_factory.mktemp("gpu-smoke") / "report.json"
    src = str(REPO / "src")
    pythonpath = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "gpu.py"), "--smoke", "--json", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=400,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": pythonpath},
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return json.loads(out.read_text()), proc.stdout


@pytest.mark.slow
def test_every_synthetic_variant_trains(smoke: tuple[dict, str]) -> None:
    report, _ = smoke
    assert report["smoke"] is True and report["complete"] is True
    settings = report["settings"]
    rows = report["synthetic"]
    seen = {(r["model"], r["contender"], r["compile"]) for r in rows}
    assert seen == set(itertools.product(MODELS, CONTENDERS, (False, True)))
    assert len(rows) == len(seen)
    for r in rows:
        assert r["status"] == "ok", r
        assert r["images"] == settings["steps"] * settings["batch_size"], r
        assert r["seconds"] > 0 and r["images_per_second"] > 0, r
        # model FLOPs: counted on the forward, a training step is 3 forwards
        assert r["forward_flops_per_image"] > 0, r
        assert r["flops_per_image"] == pytest.approx(3 * r["forward_flops_per_image"]), r
        assert r["counted_train_flops_per_image"] > r["forward_flops_per_image"], r
        assert r["mfu"] is None, "no bf16 peak is known for a CPU"
    # the smoke models of timm and Transformers are the same network: the same FLOPs
    for model in MODELS:
        flops = {r["flops_per_image"] for r in rows if r["model"] == model}
        assert len(flops) == 1, (model, flops)


@pytest.mark.slow
def test_ratios_targets_and_environment(smoke: tuple[dict, str]) -> None:
    report, stdout = smoke
    ips = {
        (r["model"], r["contender"], r["compile"]): r["images_per_second"]
        for r in report["synthetic"]
    }
    assert len(report["ratios"]) == len(MODELS) * 2
    for row in report["ratios"]:
        key = (row["model"], "visionyard", row["compile"])
        for other in ("timm", "trainer"):
            expected = ips[key] / ips[(row["model"], other, row["compile"])]
            assert row[f"visionyard/{other}"] == pytest.approx(expected)
    env = report["environment"]
    assert env["device"] == "cpu" and env["peak_bf16_tflops"] is None
    for key in ("device_name", "torch", "cuda", "torchvision", "transformers", "timm"):
        assert key in env
    names = [t["name"] for t in report["targets"]]
    assert sum("timm plain loop" in n for n in names) == len(MODELS) * 2
    assert any("MFU" in n for n in names) and any("GPU decode" in n for n in names)
    # a smoke run judges nothing
    assert all(t["met"] is None for t in report["targets"])
    assert "SMOKE RUN" in stdout and "MFU not reported" in stdout
    assert "visionyard/timm" in stdout


@pytest.mark.slow
def test_real_data_epoch_with_both_decoders(smoke: tuple[dict, str]) -> None:
    report, _ = smoke
    real = report["real_data"]
    assert real["model"] == "ResNet-50"
    assert set(real["variants"]) == {"cpu", "gpu"}
    for decode, entry in real["variants"].items():
        assert entry["status"] == "ok", (decode, entry)
        assert entry["images"] == real["images"] == 32, (decode, entry)  # the whole epoch
        assert entry["images_per_second"] > 0
        assert entry["real_over_synthetic"] == pytest.approx(
            entry["images_per_second"] / real["synthetic_images_per_second"]
        )
    # without CUDA the device-decode path runs on the CPU, and says nvJPEG was not measured
    assert "nvJPEG was not measured" in real["variants"]["gpu"]["note"]
