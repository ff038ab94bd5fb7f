"""Tests for visionyard.training.subsample, through scan_dataset: max_per_class caps train only,
reproducibly, and only the chosen files are image-checked."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.training.imagefiles import make_dataset

from visionyard.errors import DatasetError
from visionyard.training.imagefolder import scan_dataset


@pytest.fixture
def big(tmp_path: Path) -> Path:
    return make_dataset(tmp_path / "big", {"train": {"a": 20, "b": 6}, "val": {"a": 7, "b": 7}})


def test_max_per_class_int_caps_train_only_deterministically(big: Path) -> None:
    index = scan_dataset(big, max_per_class=5, seed=1)
    assert index.counts() == {"train": {"a": 5, "b": 5}, "val": {"a": 7, "b": 7}}
    again = scan_dataset(big, max_per_class=5, seed=1)
    assert index.splits["train"] == again.splits["train"]
    other = scan_dataset(big, max_per_class=5, seed=2)
    assert other.splits["train"] != index.splits["train"]  # C(20,5)*C(6,5) choices: no clash

    a_paths = [s.path for s in index.splits["train"] if s.label == 0]
    assert a_paths == sorted(a_paths)  # sorted order preserved within a class
    fingerprint = index.fingerprint()
    assert fingerprint["subsampling"] == {
        "max_per_class": 5,
        "seed": 1,
        "train_counts_before": {"a": 20, "b": 6},
    }
    assert fingerprint["num_images"] == {"train": 10, "val": 14}


def test_max_per_class_list_gives_one_cap_per_class(big: Path) -> None:
    index = scan_dataset(big, max_per_class=[3, 10], seed=0)
    assert index.counts()["train"] == {"a": 3, "b": 6}  # a cap above the count keeps all
    assert index.fingerprint()["subsampling"]["max_per_class"] == [3, 10]
    # A class's choice depends only on (seed, class name, its files), not on other caps.
    a_only = [s for s in scan_dataset(big, max_per_class=[3, 1]).splits["train"] if s.label == 0]
    assert a_only == [s for s in index.splits["train"] if s.label == 0]


def test_max_per_class_wrong_list_length(big: Path) -> None:
    with pytest.raises(DatasetError) as info:
        scan_dataset(big, max_per_class=[3, 3, 3])
    message = str(info.value)
    assert "3 entries" in message
    assert "2 classes" in message
    assert "['a', 'b']" in message


@pytest.mark.parametrize("bad", [0, -1, [2, 0], True, "5"])
def test_max_per_class_invalid_values(big: Path, bad: object) -> None:
    with pytest.raises(DatasetError, match="max_per_class"):
        scan_dataset(big, max_per_class=bad)  # type: ignore[arg-type]


def test_subsampling_checks_only_chosen_files(big: Path) -> None:
    # A corrupt file not chosen by the cap does not stop a quick subsampled experiment.
    chosen = {s.path for s in scan_dataset(big, max_per_class=2, seed=0).splits["train"]}
    victim = next(
        f"train/a/{p.name}"
        for p in sorted((big / "train" / "a").iterdir())
        if f"train/a/{p.name}" not in chosen
    )
    (big / victim).write_bytes(b"junk")
    index = scan_dataset(big, max_per_class=2, seed=0)
    assert index.skipped == []
    assert {s.path for s in index.splits["train"]} == chosen
