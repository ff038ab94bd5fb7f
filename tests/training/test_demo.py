"""The offline demo dataset (real sklearn digits) and tiny local models, loaded for real."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import json
import warnings
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file
from torchvision.io import ImageReadMode, decode_image
from transformers import AutoImageProcessor, AutoModelForImageClassification

from visionyard.errors import ConfigError, DatasetError
from visionyard.training.demo import (
    MARKER_NAME,
    TINY_ARCHS,
    DemoPaths,
    _write_atomically,
    write_demo,
    write_digits_dataset,
    write_tiny_model,
)
from visionyard.training.transforms import processor_spec

CLASSES = [str(i) for i in range(10)]


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.png"))


def _mtimes(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): p.stat().st_mtime_ns for p in root.rglob("*")}


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, int]]]:
    root = tmp_path_factory.mktemp("demo") / "digits"
    return root, write_digits_dataset(root)


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("models")
    return {arch: write_tiny_model(base / arch, arch=arch) for arch in TINY_ARCHS}


# --------------------------------------------------------------------------- digits


def test_digits_counts_cover_every_class_in_every_split(digits: tuple) -> None:
    root, counts = digits
    assert list(counts) == ["train", "val", "test"]
    assert sum(n for per_class in counts.values() for n in per_class.values()) == 1797
    for split, per_class in counts.items():
        assert list(per_class) == CLASSES
        assert all(n > 0 for n in per_class.values())
        for cls, n in per_class.items():
            assert len(list((root / split / cls).glob("digit_*.png"))) == n
    # stratified 70/15/15: every class has ~15% of its images in val and in test
    for cls in CLASSES:
        total = sum(counts[s][cls] for s in counts)
        assert abs(counts["val"][cls] / total - 0.15) < 0.03
        assert abs(counts["test"][cls] / total - 0.15) < 0.03


def test_digits_images_are_real_8x8_scans(digits: tuple) -> None:
    from sklearn.datasets import load_digits

    root, _ = digits
    images = load_digits().images
    seen_max = 0
    for path in sorted((root / "train" / "3").glob("*.png"))[:20]:
        with Image.open(path) as image:
            assert image.mode == "L" and image.size == (8, 8)
        with warnings.catch_warnings():
            # torchvision 0.29 deprecates its image codecs (in favour of TorchCodec); the dataset
            # still decodes with decode_image, so check that path too.
            warnings.simplefilter("ignore", DeprecationWarning)
            pixels = decode_image(str(path), mode=ImageReadMode.RGB)
        assert pixels.shape == (3, 8, 8) and pixels.dtype == torch.uint8
        index = int(path.stem.split("_")[1])
        expected = torch.from_numpy((images[index] * 255 / 16).round()).to(torch.uint8)
        assert torch.equal(pixels[0], expected)
        seen_max = max(seen_max, int(pixels.max()))
    assert seen_max == 255


def test_digits_split_is_deterministic_and_seeded(tmp_path: Path, digits: tuple) -> None:
    root, counts = digits
    again = write_digits_dataset(tmp_path / "again")
    assert again == counts
    assert _files(tmp_path / "again") == _files(root)
    write_digits_dataset(tmp_path / "other-seed", seed=1)
    assert _files(tmp_path / "other-seed") != _files(root)


def test_digits_second_call_does_not_rewrite(tmp_path: Path) -> None:
    root = tmp_path / "digits"
    first = write_digits_dataset(root)
    before = _mtimes(root)
    assert write_digits_dataset(root) == first
    assert _mtimes(root) == before
    # no temp folders left beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digits"]


def test_digits_rewrites_its_own_stale_or_incomplete_output(tmp_path: Path) -> None:
    root = tmp_path / "digits"
    write_digits_dataset(root, seed=0)
    next(root.rglob("*.png")).unlink()  # damaged
    counts = write_digits_dataset(root, seed=0)
    assert len(_files(root)) == 1797
    write_digits_dataset(root, seed=5)  # other parameters replace it
    marker = json.loads((root / MARKER_NAME).read_text())
    assert marker["params"]["seed"] == 5
    assert sum(marker["counts"]["test"].values()) == sum(counts["test"].values())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digits"]


def test_digits_refuses_to_overwrite_a_foreign_folder(tmp_path: Path) -> None:
    root = tmp_path / "mine"
    (root / "train").mkdir(parents=True)
    (root / "train" / "keep.txt").write_text("user data")
    with pytest.raises(DatasetError, match=r"mine.*not a Visionyard demo dataset"):
        write_digits_dataset(root)
    assert (root / "train" / "keep.txt").read_text() == "user data"


def test_interrupted_write_keeps_the_previous_folder_and_no_debris(tmp_path: Path) -> None:
    root = tmp_path / "digits"
    counts = write_digits_dataset(root)
    before = _mtimes(root)

    def crash_half_way(tmp: Path) -> None:
        (tmp / "train" / "0").mkdir(parents=True)
        (tmp / "train" / "0" / "digit_0000.png").write_bytes(b"partial")
        raise KeyboardInterrupt  # e.g. Ctrl-C while writing

    with pytest.raises(KeyboardInterrupt):
        _write_atomically(
            root, is_complete=lambda p: False, fill=crash_half_way, not_ours=DatasetError
        )
    assert _mtimes(root) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digits"]
    assert write_digits_dataset(root) == counts
    with pytest.raises(KeyboardInterrupt):
        _write_atomically(
            tmp_path / "fresh",
            is_complete=lambda p: False,
            fill=crash_half_way,
            not_ours=DatasetError,
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digits"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"val_fraction": 0.0}, "val_fraction"),
        ({"test_fraction": 1.2}, "test_fraction"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, "leave images for training"),
        ({"val_fraction": 0.001}, "val_fraction"),
    ],
)
def test_digits_bad_fractions(tmp_path: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        write_digits_dataset(tmp_path / "d", **kwargs)
    assert not (tmp_path / "d").exists()


# --------------------------------------------------------------------------- tiny models


@pytest.mark.parametrize("arch", TINY_ARCHS)
def test_tiny_model_loads_offline_and_runs(tiny_models: dict[str, Path], arch: str) -> None:
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    folder = tiny_models[arch]
    assert (folder / "model.safetensors").is_file()
    model = AutoModelForImageClassification.from_pretrained(folder)
    assert model.config.model_type == arch
    assert sum(p.numel() for p in model.parameters()) < 150_000
    model.eval()
    with torch.no_grad():
        logits = model(pixel_values=torch.randn(2, 3, 32, 32)).logits
    assert logits.shape == (2, 10)
    assert model.config.id2label[3] == "LABEL_3"


@pytest.mark.parametrize("arch", TINY_ARCHS)
def test_tiny_model_processor_gives_32x32(tiny_models: dict[str, Path], arch: str) -> None:
    for backend in ("torchvision", "pil"):
        processor = AutoImageProcessor.from_pretrained(tiny_models[arch], backend=backend)
        spec = processor_spec(processor)
        assert (spec.height, spec.width) == (32, 32)
        assert spec.mean == pytest.approx((0.5, 0.5, 0.5))
        assert spec.std == pytest.approx((0.5, 0.5, 0.5))


def test_tiny_model_is_reproducible_and_leaves_global_rng_alone(
    tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    torch.manual_seed(1234)
    expected_next = torch.rand(3)
    torch.manual_seed(1234)
    again = write_tiny_model(tmp_path / "again", arch="vit")
    assert torch.equal(torch.rand(3), expected_next)

    reference = load_file(tiny_models["vit"] / "model.safetensors")
    rebuilt = load_file(again / "model.safetensors")
    assert reference.keys() == rebuilt.keys()
    assert all(torch.equal(reference[k], rebuilt[k]) for k in reference)

    other_dir = write_tiny_model(tmp_path / "seed1", arch="vit", seed=1)
    other = load_file(other_dir / "model.safetensors")
    assert any(not torch.equal(reference[k], other[k]) for k in reference)


def test_tiny_model_second_call_does_not_rewrite(tmp_path: Path) -> None:
    folder = write_tiny_model(tmp_path / "m", arch="convnext", num_labels=4)
    before = _mtimes(folder)
    assert write_tiny_model(tmp_path / "m", arch="convnext", num_labels=4) == folder
    assert _mtimes(folder) == before
    write_tiny_model(tmp_path / "m", arch="convnext", num_labels=3)  # new params: rewritten
    assert AutoModelForImageClassification.from_pretrained(folder).config.num_labels == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"arch": "swin"}, r"'swin'.*vit, resnet, convnext"),
        ({"arch": "vit", "image_size": 30}, "multiple of 4"),
        ({"num_labels": 0}, "num_labels"),
    ],
)
def test_tiny_model_bad_arguments(tmp_path: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        write_tiny_model(tmp_path / "m", **kwargs)


# --------------------------------------------------------------------------- write_demo


def test_write_demo_layout(tmp_path: Path) -> None:
    paths = write_demo(tmp_path, arch="resnet")
    assert paths == DemoPaths(dataset=tmp_path / "digits", model=tmp_path / "tiny-resnet")
    assert sorted(p.name for p in (paths.dataset / "train").iterdir()) == CLASSES
    model = AutoModelForImageClassification.from_pretrained(paths.model)
    assert model.config.model_type == "resnet"
    with pytest.raises(ConfigError, match="choose one of"):
        write_demo(tmp_path, arch="nope")
