"""Tests for visionyard.training.image_dataset: decode errors, indexing, seeded transforms."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image
from tests.training.imagefiles import AUGMENT, make_split, noise, save

from visionyard.errors import DatasetError
from visionyard.training.dataset_index import Sample
from visionyard.training.image_dataset import ImageFolderDataset, sample_seed
from visionyard.training.imagefolder import scan_dataset


def test_decode_error_names_the_relative_path(tmp_path: Path) -> None:
    (tmp_path / "train" / "a").mkdir(parents=True)
    for name in ("broken.png", "broken.bmp"):
        (tmp_path / "train" / "a" / name).write_bytes(b"not an image at all")
    samples = [Sample("train/a/broken.png", 0, 19), Sample("train/a/broken.bmp", 0, 19)]
    dataset = ImageFolderDataset(tmp_path, samples)
    for i, sample in enumerate(samples):
        with pytest.raises(DatasetError) as info:
            dataset[i]
        message = str(info.value)
        assert f"Cannot decode image {sample.path}" in message
        assert "UnidentifiedImageError" in message
    missing = ImageFolderDataset(tmp_path, [Sample("train/a/gone.jpg", 0, 1)])
    with pytest.raises(DatasetError, match=r"train/a/gone\.jpg.*FileNotFoundError"):
        missing[0]


def test_index_out_of_range(tmp_path: Path) -> None:
    dataset = ImageFolderDataset(tmp_path, make_split(tmp_path, 2))
    with pytest.raises(IndexError):
        dataset[2]
    with pytest.raises(IndexError):
        dataset[(0, -1)]


def test_works_on_scanned_index(tmp_path: Path) -> None:
    make_split(tmp_path, 4)
    for i in range(2):
        save(tmp_path, f"val/c{i}/v.png", Image.fromarray(noise(16, 16, 3, 99)))
    index = scan_dataset(tmp_path)
    dataset = ImageFolderDataset(index.root, index.splits["train"])
    assert dataset.labels == [0, 0, 1, 1]
    image, label = dataset[3]
    assert label == 1
    assert image.shape == (3, 16, 16)


def test_seeded_transform_is_reproducible_and_leaves_global_rng_alone(tmp_path: Path) -> None:
    samples = make_split(tmp_path, 4)
    first = ImageFolderDataset(tmp_path, samples, AUGMENT, seed=7)
    second = ImageFolderDataset(tmp_path, samples, AUGMENT, seed=7)

    torch.manual_seed(123)
    before = torch.get_rng_state()
    out = first[(3, 2)][0]
    assert torch.equal(torch.get_rng_state(), before)

    torch.manual_seed(999)  # a different global stream does not matter
    assert torch.equal(second[(3, 2)][0], out)
    assert out.shape == (3, 8, 8)
    assert torch.equal(first[1][0], first[(0, 1)][0])  # a plain int key means epoch 0

    # Different epochs (and seeds) give different augmentations of the same image.
    per_epoch = [first[(e, 2)][0] for e in range(6)]
    assert sum(not torch.equal(per_epoch[0], other) for other in per_epoch[1:]) >= 4
    other_seed = ImageFolderDataset(tmp_path, samples, AUGMENT, seed=8)
    assert any(not torch.equal(other_seed[(e, 2)][0], per_epoch[e]) for e in range(6))


def test_sample_seed_separates_keys() -> None:
    seeds = {sample_seed(s, e, i) for s in range(3) for e in range(20) for i in range(200)}
    assert len(seeds) == 3 * 20 * 200
    assert all(0 <= s < 2**64 for s in seeds)
    assert sample_seed(1, 2, 3) == sample_seed(1, 2, 3)


def test_cache_decoded_skips_disk_and_survives_in_place_transforms(tmp_path: Path) -> None:
    samples = make_split(tmp_path, 2)

    def in_place(image: torch.Tensor) -> torch.Tensor:
        return image.zero_()

    cached = ImageFolderDataset(tmp_path, samples, in_place, cache_decoded=True)
    plain = ImageFolderDataset(tmp_path, samples)
    expected = plain[0][0]
    assert cached[0][0].sum() == 0
    (tmp_path / samples[0].path).unlink()  # served from memory now
    cached.transform = None
    assert torch.equal(cached[0][0], expected)
    with pytest.raises(DatasetError):
        plain[0]
