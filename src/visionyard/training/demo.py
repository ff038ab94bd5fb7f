"""Offline demo material: a real small dataset and tiny local models.

`write_digits_dataset` turns scikit-learn's bundled handwritten digits (1,797 real 8x8 scans, no
download) into an ImageFolder tree; `write_tiny_model` saves a tiny randomly initialised
`AutoModelForImageClassification` plus its image processor, loadable offline with
`from_pretrained`. Together (`write_demo`) they let a fresh install, a CI job or a test train end to
end on a CPU in seconds.

Both writers are idempotent and crash-safe: they build the whole tree in a temporary sibling
folder, write a marker file (parameters + contents) last, and rename the folder into place, so an
interrupted write never leaves a half-written folder that looks finished. A second call with the
same parameters finds the marker and returns without rewriting anything.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from visionyard.errors import ConfigError, DatasetError
from visionyard.training.fsutil import atomic_write_json, fsync_dir
from visionyard.training.hf_quiet import quiet_transformers

__all__ = [
    "TINY_ARCHS",
    "DemoPaths",
    "write_demo",
    "write_digits_dataset",
    "write_tiny_model",
]

MARKER_NAME = ".visionyard-demo.json"
_MARKER_FORMAT = 1
SPLITS = ("train", "val", "test")
TINY_ARCHS = ("vit", "resnet", "convnext")
_DIGIT_CLASSES = tuple(str(i) for i in range(10))


# --------------------------------------------------------------------------- shared plumbing


def _read_marker(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_marker(folder: Path, content: dict[str, Any]) -> None:
    atomic_write_json(folder / MARKER_NAME, content)
    # atomic writes create 0600 temp files; demo data is meant to be read by other users
    # (the dashboard, agents), so make it world-readable like the PNGs beside it.
    os.chmod(folder / MARKER_NAME, 0o644)


def _is_replaceable(folder: Path) -> bool:
    """A folder we may overwrite: missing, empty, or written by us (it has our marker)."""
    if not folder.exists():
        return True
    if not folder.is_dir():
        return False
    return _read_marker(folder) is not None or not any(folder.iterdir())


def _publish(tmp: Path, out_dir: Path) -> None:
    """Move the finished temp folder to out_dir, replacing a stale folder of ours."""
    old: Path | None = None
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{uuid.uuid4().hex[:8]}")
        os.rename(out_dir, old)
    try:
        # os.rename onto an existing non-empty folder fails, so a concurrent writer that got
        # there first is never clobbered half-way.
        os.rename(tmp, out_dir)
    except OSError:
        if old is not None and not out_dir.exists():
            os.rename(old, out_dir)
            old = None
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    fsync_dir(out_dir.parent)


def _write_atomically(
    out_dir: Path,
    *,
    is_complete: Callable[[Path], bool],
    fill: Callable[[Path], None],
    not_ours: Callable[[Path], Exception],
) -> None:
    """Run `fill(tmp)` on a fresh temp sibling of out_dir, then rename it into place.

    If another process publishes a complete folder first, ours is discarded: both asked for the
    same thing, and the marker says the published one has it.
    """
    if not _is_replaceable(out_dir):
        raise not_ours(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; the published folder should not be
        fill(tmp)
        try:
            _publish(tmp, out_dir)
        except OSError:
            if is_complete(out_dir):
                return
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------- digits dataset


def _check_fraction(name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ConfigError(f"{name} must be a number strictly between 0 and 1, got {value!r}.")


def _digits_params(seed: int, val_fraction: float, test_fraction: float) -> dict[str, Any]:
    return {
        "kind": "digits",
        "format": _MARKER_FORMAT,
        "seed": int(seed),
        "val_fraction": float(val_fraction),
        "test_fraction": float(test_fraction),
    }


def _digits_complete(folder: Path, params: dict[str, Any]) -> dict[str, dict[str, int]] | None:
    """The counts recorded in folder's marker if it matches params and every file is there."""
    marker = _read_marker(folder)
    if marker is None or marker.get("params") != params:
        return None
    counts = marker.get("counts")
    if not isinstance(counts, dict) or set(counts) != set(SPLITS):
        return None
    for split, per_class in counts.items():
        if not isinstance(per_class, dict) or set(per_class) != set(_DIGIT_CLASSES):
            return None
        for cls, expected in per_class.items():
            files = [p for p in (folder / split / cls).glob("digit_*.png") if p.stat().st_size > 0]
            if len(files) != expected:
                return None
    return counts


def _split_digits(
    labels: np.ndarray, *, seed: int, val_fraction: float, test_fraction: float
) -> dict[str, np.ndarray]:
    from sklearn.model_selection import train_test_split

    indices = np.arange(len(labels))
    rest, test = train_test_split(
        indices, test_size=test_fraction, stratify=labels, random_state=seed
    )
    # val_fraction is of the whole dataset, so rescale it to the part left after the test split.
    train, val = train_test_split(
        rest,
        test_size=val_fraction / (1.0 - test_fraction),
        stratify=labels[rest],
        random_state=seed,
    )
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


def write_digits_dataset(
    out_dir: Path,
    *,
    seed: int = 0,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
) -> dict[str, dict[str, int]]:
    """Write scikit-learn's digits as `out_dir/{train,val,test}/{0..9}/digit_XXXX.png`.

    Images are 8x8 grayscale PNGs scaled from 0..16 to 0..255; XXXX is the sample's index in
    `load_digits()`. The split is stratified and deterministic for a given seed. Returns
    split -> class -> image count.
    """
    from PIL import Image
    from sklearn.datasets import load_digits

    _check_fraction("val_fraction", val_fraction)
    _check_fraction("test_fraction", test_fraction)
    if val_fraction + test_fraction >= 1:
        raise ConfigError(
            f"val_fraction + test_fraction must leave images for training, got "
            f"{val_fraction} + {test_fraction} >= 1."
        )
    out_dir = Path(out_dir)
    params = _digits_params(seed, val_fraction, test_fraction)
    counts = _digits_complete(out_dir, params)
    if counts is not None:
        return counts

    digits = load_digits()
    labels = np.asarray(digits.target)
    try:
        splits = _split_digits(
            labels, seed=int(seed), val_fraction=val_fraction, test_fraction=test_fraction
        )
    except ValueError as exc:  # sklearn: a split too small to hold every class
        raise ConfigError(
            f"Cannot split the digits with val_fraction={val_fraction}, "
            f"test_fraction={test_fraction}: {exc}. Use fractions of at least 0.01."
        ) from exc
    counts = {
        split: {cls: int((labels[idx] == int(cls)).sum()) for cls in _DIGIT_CLASSES}
        for split, idx in splits.items()
    }
    for split, per_class in counts.items():
        empty = [cls for cls, n in per_class.items() if n == 0]
        if empty:
            raise ConfigError(
                f"The {split} split would hold no images of class(es) {', '.join(empty)}; "
                f"raise its fraction (val_fraction={val_fraction}, test_fraction={test_fraction})."
            )
    # 0..16 -> 0..255, rounded, as 8-bit grayscale
    pixels = np.rint(np.asarray(digits.images) * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)

    def fill(tmp: Path) -> None:
        for split, idx in splits.items():
            for cls in _DIGIT_CLASSES:
                (tmp / split / cls).mkdir(parents=True)
            for i in idx:
                path = tmp / split / str(labels[i]) / f"digit_{i:04d}.png"
                # a 2-D uint8 array becomes an 8-bit grayscale ("L") PNG
                Image.fromarray(pixels[i]).save(path, format="PNG")
        _write_marker(tmp, {"params": params, "counts": counts})

    _write_atomically(
        out_dir,
        is_complete=lambda p: _digits_complete(p, params) is not None,
        fill=fill,
        not_ours=lambda p: DatasetError(
            f"{p} exists and is not a Visionyard demo dataset (no {MARKER_NAME}); delete it "
            "or choose another output folder."
        ),
    )
    return counts


# --------------------------------------------------------------------------- tiny models


def _unknown_arch(arch: object) -> ConfigError:
    return ConfigError(f"Unknown tiny model arch {arch!r}; choose one of: {', '.join(TINY_ARCHS)}.")


def _tiny_config(arch: str, *, image_size: int, num_labels: int) -> Any:
    from transformers import ConvNextConfig, ResNetConfig, ViTConfig

    # The configs take num_labels through **kwargs (it is a property of PreTrainedConfig), which
    # their dataclass typing does not show: hence the call-arg ignores below.
    if arch == "vit":
        # 8x8 patches of 4 px at 32 px; ~44k parameters.
        return ViTConfig(  # type: ignore[call-arg]
            image_size=image_size,
            patch_size=4,
            hidden_size=48,
            num_hidden_layers=2,
            num_attention_heads=3,
            intermediate_size=96,
            num_labels=num_labels,
        )
    if arch == "resnet":
        # stem /4, then two basic stages; ~22k parameters.
        return ResNetConfig(  # type: ignore[call-arg]
            embedding_size=16,
            hidden_sizes=[16, 32],
            depths=[1, 1],
            layer_type="basic",
            num_labels=num_labels,
        )
    # convnext: a 2-px patchify stem and two stages; ~16k parameters.
    return ConvNextConfig(  # type: ignore[call-arg]
        num_stages=2,
        hidden_sizes=[16, 32],
        depths=[1, 1],
        patch_size=2,
        image_size=image_size,
        num_labels=num_labels,
    )


def _tiny_processor(arch: str, *, image_size: int) -> Any:
    from transformers import ConvNextImageProcessor, ViTImageProcessor

    half = [0.5, 0.5, 0.5]
    if arch == "vit":
        return ViTImageProcessor(
            size={"height": image_size, "width": image_size}, image_mean=half, image_std=half
        )
    # ResNet and ConvNeXt checkpoints ship ConvNextImageProcessor; crop_pct=1.0 makes it resize
    # the shortest edge straight to image_size and center-crop a square (no extra margin).
    return ConvNextImageProcessor(
        size={"shortest_edge": image_size}, crop_pct=1.0, image_mean=half, image_std=half
    )


def _model_complete(folder: Path, params: dict[str, Any]) -> bool:
    marker = _read_marker(folder)
    if marker is None or marker.get("params") != params:
        return False
    return all(
        (folder / name).is_file()
        for name in ("config.json", "model.safetensors", "preprocessor_config.json")
    )


def write_tiny_model(
    out_dir: Path,
    *,
    arch: str = "resnet",
    image_size: int = 32,
    num_labels: int = 10,
    seed: int = 0,
) -> Path:
    """Save a tiny random-init image classifier + processor to out_dir; return out_dir.

    The weights depend only on (arch, image_size, num_labels, seed) and the library versions; the
    caller's global torch RNG is left untouched. Labels are the generic LABEL_i: training replaces
    the head and the label maps anyway.
    """
    if arch not in TINY_ARCHS:
        raise _unknown_arch(arch)
    if not isinstance(image_size, int) or image_size < 8 or (arch == "vit" and image_size % 4):
        raise ConfigError(
            f"image_size must be an integer >= 8 (a multiple of 4 for vit), got {image_size!r}."
        )
    if not isinstance(num_labels, int) or num_labels < 1:
        raise ConfigError(f"num_labels must be a positive integer, got {num_labels!r}.")
    out_dir = Path(out_dir)
    params = {
        "kind": "tiny-model",
        "format": _MARKER_FORMAT,
        "arch": arch,
        "image_size": image_size,
        "num_labels": num_labels,
        "seed": int(seed),
    }
    if _model_complete(out_dir, params):
        return out_dir

    def fill(tmp: Path) -> None:
        import torch
        from transformers import AutoModelForImageClassification

        config = _tiny_config(arch, image_size=image_size, num_labels=num_labels)
        # fork_rng: seed the initialisation without moving the caller's global RNG stream.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            model = AutoModelForImageClassification.from_config(config)
        with quiet_transformers():
            model.save_pretrained(tmp)
        _tiny_processor(arch, image_size=image_size).save_pretrained(tmp)
        _write_marker(tmp, {"params": params})

    _write_atomically(
        out_dir,
        is_complete=lambda p: _model_complete(p, params),
        fill=fill,
        not_ours=lambda p: ConfigError(
            f"{p} exists and is not a Visionyard demo model (no {MARKER_NAME}); delete it or "
            "choose another output folder."
        ),
    )
    return out_dir


# --------------------------------------------------------------------------- both


@dataclass(frozen=True)
class DemoPaths:
    """Where `write_demo` put the dataset root and the model folder."""

    dataset: Path
    model: Path


def write_demo(out_dir: Path, *, arch: str = "resnet") -> DemoPaths:
    """Write `out_dir/digits` and `out_dir/tiny-<arch>` (each idempotent)."""
    if arch not in TINY_ARCHS:
        raise _unknown_arch(arch)
    out_dir = Path(out_dir)
    dataset = out_dir / "digits"
    model = out_dir / f"tiny-{arch}"
    write_digits_dataset(dataset)
    write_tiny_model(model, arch=arch)
    return DemoPaths(dataset=dataset, model=model)
