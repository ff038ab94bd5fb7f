"""bench/gpu.py's report: the peak table, the ratios, the targets' verdicts and the table."""

from __future__ import annotations

import os
import platform
import re
from typing import Any

import torch

# Dense bf16 tensor-core peaks (TFLOPS, without sparsity) by what torch.cuda.get_device_name says.
PEAK_TFLOPS = {"H100 SXM": 989.0, "H100 PCIe": 756.0, "H200": 989.0}
TARGET_VS_TIMM = 1.0
TARGET_VIT_MFU = 0.35
TARGET_REAL = 0.9


def peak_for(device_name: str) -> tuple[str, float] | None:
    """(table key, TFLOPS) for a device name, None for a card not in PEAK_TFLOPS."""
    if "H200" in device_name:
        return "H200", PEAK_TFLOPS["H200"]
    if "H100" in device_name:
        if "PCIe" in device_name:
            return "H100 PCIe", PEAK_TFLOPS["H100 PCIe"]
        if "SXM" in device_name or "HBM3" in device_name:  # SXM5 reports "H100 80GB HBM3"
            return "H100 SXM", PEAK_TFLOPS["H100 SXM"]
    return None


def ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Visionyard's images/s over timm's and the Trainer's, per model and compile mode."""
    ips = {
        (r["model"], r["compile"], r["contender"]): r["images_per_second"]
        for r in rows
        if r["status"] == "ok"
    }
    out = []
    for model, compiled in dict.fromkeys((r["model"], r["compile"]) for r in rows):
        row: dict[str, Any] = {"model": model, "compile": compiled}
        vy = ips.get((model, compiled, "visionyard"))
        for other in ("timm", "trainer"):
            den = ips.get((model, compiled, other))
            row[f"visionyard/{other}"] = vy / den if vy and den else None
        out.append(row)
    return out


def targets(
    rows: list[dict[str, Any]],
    ratio_rows: list[dict[str, Any]],
    real: dict[str, Any] | None,
    smoke: bool,
    peak: float | None,
) -> list[dict[str, Any]]:
    """The issue's targets, each with its value and verdict (None: not measurable here)."""

    def verdict(value: float | None, target: float) -> bool | None:
        return None if smoke or value is None else value >= target

    out = []
    for row in ratio_rows:
        value = row["visionyard/timm"]
        mode = "compile" if row["compile"] else "eager"
        out.append(
            {
                "name": f"{row['model']} {mode}: visionyard >= {TARGET_VS_TIMM:.1f}x timm "
                "plain loop",
                "target": TARGET_VS_TIMM,
                "value": value,
                "met": verdict(value, TARGET_VS_TIMM),
            }
        )
    vit = [
        r
        for r in rows
        if r["model"] == "ViT-B/16" and r["compile"] and r["contender"] == "visionyard"
    ]
    mfu = vit[0]["mfu"] if vit else None
    out.append(
        {
            "name": f"ViT-B/16 compile: visionyard MFU >= {TARGET_VIT_MFU:.0%}",
            "target": TARGET_VIT_MFU,
            "value": mfu,
            "met": verdict(mfu, TARGET_VIT_MFU),
            **({} if peak is not None else {"note": "no bf16 peak known for this device"}),
        }
    )
    gpu = (real or {}).get("variants", {}).get("gpu", {})
    value = gpu.get("real_over_synthetic")
    on_cuda = gpu.get("device", "").startswith("cuda")
    out.append(
        {
            "name": f"real-data epoch, GPU decode >= {TARGET_REAL:.1f}x synthetic",
            "target": TARGET_REAL,
            "value": value,
            "met": verdict(value if on_cuda else None, TARGET_REAL),
        }
    )
    return out


def environment(device: torch.device, peak: tuple[str, float] | None) -> dict[str, Any]:
    import timm
    import torchvision
    import transformers

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    return {
        "device": str(device),
        "device_name": name or "cpu",
        "peak_bf16_tflops": peak[1] if peak else None,
        "peak_entry": peak[0] if peak else None,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None,
        "torchvision": torchvision.__version__,
        "transformers": transformers.__version__,
        "timm": timm.__version__,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
    }


def _fmt(value: float | None, spec: str, suffix: str = "") -> str:
    """`value` formatted by `spec` + `suffix`; None as a "-" padded to the same width."""
    if value is None:
        width = re.match(r"[<>^]?(\d*)", spec)
        return "-".rjust(int(width.group(1)) + len(suffix)) if width and width.group(1) else "-"
    return f"{value:{spec}}{suffix}"


def render(report: dict[str, Any]) -> str:
    env, s = report["environment"], report["settings"]
    lines = [
        "",
        f"device {env['device_name']} ({env['device']}), torch {env['torch']}, "
        f"CUDA {env['cuda']}, cuDNN {env['cudnn']}, transformers {env['transformers']}, "
        f"timm {env['timm']}",
        f"batch {s['batch_size']}, {s['image_size']} px, bf16, {s['warmup']} warm-up + "
        f"{s['steps']} timed steps per variant"
        + (f", compile backend {s['compile_backend']}" if s["compile_backend"] else ""),
    ]
    if report["smoke"]:
        lines.append("SMOKE RUN: tiny models on the CPU; the numbers exercise the code only")
    if env["peak_bf16_tflops"] is None:
        lines.append(
            f"MFU not reported: no dense bf16 peak known for {env['device_name']!r} "
            f"(known: {', '.join(PEAK_TFLOPS)})"
        )
    else:
        lines.append(
            f"MFU against the {env['peak_entry']} dense bf16 peak, "
            f"{env['peak_bf16_tflops']:.0f} TFLOPS"
        )
    lines += [
        "",
        f"{'model':<12}{'mode':<9}{'contender':<12}{'img/s':>10}{'GFLOP/img':>11}{'MFU':>8}",
    ]
    for r in report["synthetic"]:
        mode = "compile" if r["compile"] else "eager"
        if r["status"] != "ok":
            lines.append(f"{r['model']:<12}{mode:<9}{r['contender']:<12}  FAILED: {r['error']}")
            continue
        gflop = None if r["flops_per_image"] is None else r["flops_per_image"] / 1e9
        mfu = None if r["mfu"] is None else 100 * r["mfu"]
        lines.append(
            f"{r['model']:<12}{mode:<9}{r['contender']:<12}{r['images_per_second']:>10,.1f}"
            f"{_fmt(gflop, '>11.3g')}{_fmt(mfu, '>7.1f', '%')}"
        )
    lines += ["", f"{'model':<12}{'mode':<9}{'visionyard/timm':>17}{'visionyard/trainer':>20}"]
    for row in report["ratios"]:
        mode = "compile" if row["compile"] else "eager"
        lines.append(
            f"{row['model']:<12}{mode:<9}{_fmt(row['visionyard/timm'], '>16.3f', 'x')}"
            f"{_fmt(row['visionyard/trainer'], '>19.3f', 'x')}"
        )
    real = report["real_data"]
    if real is not None:
        lines += [
            "",
            f"real data: {real['images']} photo-like {real['image_size']}, "
            f"{real['model']} eager, batch {real['batch_size']}, "
            f"{real['num_workers']} workers; synthetic "
            f"{_fmt(real['synthetic_images_per_second'], ',.1f')} img/s",
        ]
        for decode, entry in real["variants"].items():
            if entry["status"] != "ok":
                lines.append(f"  {decode} decode: FAILED: {entry['error']}")
                continue
            lines.append(
                f"  {decode} decode: {entry['images_per_second']:,.1f} img/s "
                f"({entry['seconds']:.2f} s), real/synthetic "
                f"{_fmt(entry.get('real_over_synthetic'), '.3f', 'x')}"
                + (f"  [{entry['note']}]" if "note" in entry else "")
            )
    lines += ["", "targets:"]
    for t in report["targets"]:
        value = t["value"]
        shown = "-" if value is None else f"{value:.3f}"
        verdict = {True: "met", False: "MISSED", None: "not judged"}[t["met"]]
        why = " (smoke run)" if report["smoke"] else f" ({t['note']})" if "note" in t else ""
        lines.append(f"  {t['name']}: {shown} -> {verdict}{why if t['met'] is None else ''}")
    return "\n".join(lines)
