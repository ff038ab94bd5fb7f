"""Tests for visionyard.training.imagefolder: ImageFolder scanning, validation, fingerprint."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tests.training.imagefiles import STANDARD, make_dataset, write_image

from visionyard.errors import DatasetError
from visionyard.training.dataset_index import Sample
from visionyard.training.imagefolder import IMAGE_EXTENSIONS, scan_dataset


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return make_dataset(tmp_path / "ds", STANDARD)


def test_happy_path_classes_labels_counts(dataset: Path) -> None:
    index = scan_dataset(dataset)

    assert index.root == dataset.resolve()
    assert index.classes == ["ant", "cat", "dog"]
    assert index.label2id == {"ant": 0, "cat": 1, "dog": 2}
    assert index.id2label == {0: "ant", 1: "cat", 2: "dog"}
    assert set(index.splits) == {"train", "val"}  # no test/ folder, no test split
    assert index.counts() == {
        "train": {"ant": 4, "cat": 2, "dog": 3},
        "val": {"ant": 2, "cat": 1, "dog": 1},
    }
    assert index.skipped == []
    for split, samples in index.splits.items():
        for sample in samples:
            assert isinstance(sample, Sample)
            split_name, class_name, file_name = sample.path.split("/")
            assert split_name == split
            assert sample.label == index.label2id[class_name]
            assert sample.size == (dataset / sample.path).stat().st_size > 0
    # sorted by class, then by file name
    first_two = [s.path for s in index.splits["train"]][:2]
    assert first_two == ["train/ant/img_000.png", "train/ant/img_001.png"]


def test_test_split_is_scanned_when_present(tmp_path: Path) -> None:
    root = make_dataset(tmp_path, {**STANDARD, "test": {"dog": 1, "cat": 2, "ant": 1}})
    index = scan_dataset(root)
    assert index.counts()["test"] == {"ant": 1, "cat": 2, "dog": 1}
    assert index.fingerprint()["num_images"] == {"train": 9, "val": 4, "test": 4}


def test_class_index_is_plain_sorted_order(tmp_path: Path) -> None:
    names = {"10": 1, "2": 1, "B": 1, "a": 1}
    root = make_dataset(tmp_path, {"train": names, "val": names})
    assert scan_dataset(root).classes == ["10", "2", "B", "a"]


def test_all_extensions_accepted_case_insensitively(tmp_path: Path) -> None:
    formats = {
        ".jpg": "JPEG",
        ".JPEG": "JPEG",
        ".png": "PNG",
        ".Bmp": "BMP",
        ".gif": "GIF",
        ".webp": "WEBP",
        ".tif": "TIFF",
        ".TIFF": "TIFF",
    }
    assert {ext.lower() for ext in formats} == IMAGE_EXTENSIONS
    for i, (ext, fmt) in enumerate(formats.items()):
        write_image(tmp_path / "train" / "x" / f"f{i}{ext}", value=i, fmt=fmt)
    write_image(tmp_path / "val" / "x" / "v.png")
    index = scan_dataset(tmp_path, image_check="full")
    assert index.counts()["train"] == {"x": len(formats)}


def test_fingerprint_is_json_and_stable(dataset: Path) -> None:
    first = scan_dataset(dataset).fingerprint()
    second = scan_dataset(dataset).fingerprint()
    assert first == second
    assert json.loads(json.dumps(first)) == first
    assert first["root"] == str(dataset.resolve())
    assert first["classes"] == ["ant", "cat", "dog"]
    assert first["num_images"] == {"train": 9, "val": 4}
    assert first["counts"]["val"] == {"ant": 2, "cat": 1, "dog": 1}
    assert len(first["file_list_sha256"]) == 64
    assert first["skipped"] == []
    assert "subsampling" not in first


def test_fingerprint_hash_ignores_location_but_tracks_size_and_names(
    dataset: Path, tmp_path: Path
) -> None:
    base = scan_dataset(dataset).fingerprint()["file_list_sha256"]

    moved = dataset.rename(tmp_path / "moved")
    assert scan_dataset(moved).fingerprint()["file_list_sha256"] == base

    target = moved / "val" / "cat" / "img_000.png"
    target.write_bytes(target.read_bytes() + b"\0" * 10)  # trailing bytes: still a valid PNG
    resized = scan_dataset(moved).fingerprint()["file_list_sha256"]
    assert resized != base

    target.rename(target.with_name("renamed.png"))
    renamed = scan_dataset(moved).fingerprint()["file_list_sha256"]
    assert renamed not in (base, resized)


def test_non_image_and_hidden_entries_are_ignored(dataset: Path) -> None:
    (dataset / "train" / "dog" / "notes.txt").write_text("not an image")
    (dataset / "train" / "dog" / ".DS_Store").write_bytes(b"\0\1junk")
    (dataset / "train" / "dog" / ".hidden.png").write_bytes(b"junk")  # hidden: skipped, not checked
    (dataset / "train" / ".ipynb_checkpoints").mkdir()
    (dataset / "val" / ".cache").mkdir()
    (dataset / "train" / "README.md").write_text("loose file in the split folder")
    index = scan_dataset(dataset)
    assert index.classes == ["ant", "cat", "dog"]
    assert index.counts()["train"]["dog"] == 3
    ignored = (".txt", ".DS_Store", ".hidden.png")
    assert all(not s.path.endswith(ignored) for s in index.splits["train"])


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist") as info:
        scan_dataset(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(info.value)


def test_root_is_a_file(tmp_path: Path) -> None:
    path = tmp_path / "file.txt"
    path.write_text("x")
    with pytest.raises(DatasetError, match="not a directory"):
        scan_dataset(path)


def test_missing_train(tmp_path: Path) -> None:
    make_dataset(tmp_path, {"val": {"a": 1}, "training": {"a": 1}})
    with pytest.raises(DatasetError, match=r"no train/ folder") as info:
        scan_dataset(tmp_path)
    message = str(info.value)
    assert str(tmp_path) in message
    assert "training/" in message  # shows what it found instead


def test_missing_val(tmp_path: Path) -> None:
    make_dataset(tmp_path, {"train": {"a": 1}})
    with pytest.raises(DatasetError, match=r"no val/ folder"):
        scan_dataset(tmp_path)


def test_no_class_folders_in_train(tmp_path: Path) -> None:
    write_image(tmp_path / "train" / "loose.png")
    make_dataset(tmp_path, {"val": {"a": 1}})
    with pytest.raises(DatasetError, match="No class folders") as info:
        scan_dataset(tmp_path)
    assert str(tmp_path / "train") in str(info.value)


def test_val_missing_a_class(dataset: Path) -> None:
    for f in (dataset / "val" / "cat").iterdir():
        f.unlink()
    (dataset / "val" / "cat").rmdir()
    with pytest.raises(DatasetError) as info:
        scan_dataset(dataset)
    message = str(info.value)
    assert str(dataset / "val") in message
    assert "missing ['cat']" in message
    assert "extra" not in message


def test_val_with_an_extra_class(dataset: Path) -> None:
    make_dataset(dataset, {"val": {"zebra": 1}})
    with pytest.raises(DatasetError, match=r"extra \['zebra'\]"):
        scan_dataset(dataset)


def test_test_split_mismatch_names_both_sides(dataset: Path) -> None:
    make_dataset(dataset, {"test": {"ant": 1, "cat": 1, "Dog": 1}})
    with pytest.raises(DatasetError) as info:
        scan_dataset(dataset)
    message = str(info.value)
    assert str(dataset / "test") in message
    assert "missing ['dog']" in message
    assert "extra ['Dog']" in message


def test_several_problems_reported_together(dataset: Path) -> None:
    make_dataset(dataset, {"val": {"zebra": 1}, "test": {"ant": 1}})
    (dataset / "train" / "empty").mkdir()
    (dataset / "val" / "empty").mkdir()
    with pytest.raises(DatasetError, match="problems") as info:
        scan_dataset(dataset)
    message = str(info.value)
    assert "extra ['zebra']" in message
    assert "missing ['cat', 'dog', 'empty']" in message
    assert f"empty class folder: {dataset / 'train' / 'empty'}" in message
    assert f"empty class folder: {dataset / 'val' / 'empty'}" in message


def test_empty_class_folder_explains_what_it_found(dataset: Path) -> None:
    folder = dataset / "val" / "dog"
    for f in folder.iterdir():
        f.unlink()
    (folder / "notes.txt").write_text("x")
    write_image(folder / "nested" / "img.png")
    with pytest.raises(DatasetError, match="empty class folder") as info:
        scan_dataset(dataset)
    message = str(info.value)
    assert str(folder) in message
    assert "sub-folder" in message
    assert "notes.txt" in message


def test_symlink_pointing_outside_root_is_refused(dataset: Path, tmp_path: Path) -> None:
    outside = write_image(tmp_path / "elsewhere" / "secret.png")
    link = dataset / "train" / "dog" / "link.png"
    link.symlink_to(outside)
    with pytest.raises(DatasetError, match="outside the dataset root") as info:
        scan_dataset(dataset)
    assert str(link) in str(info.value)


def test_symlinked_class_folder_outside_root_is_refused(dataset: Path, tmp_path: Path) -> None:
    make_dataset(tmp_path / "other", {"x": {"bird": 1}})
    (dataset / "train" / "bird").symlink_to(tmp_path / "other" / "x" / "bird")
    with pytest.raises(DatasetError, match="outside the dataset root"):
        scan_dataset(dataset)


def test_symlink_inside_root_is_allowed(dataset: Path) -> None:
    link = dataset / "train" / "dog" / "alias.png"
    link.symlink_to(dataset / "train" / "cat" / "img_000.png")
    index = scan_dataset(dataset)
    sample = next(s for s in index.splits["train"] if s.path == "train/dog/alias.png")
    assert sample.size == (dataset / "train" / "cat" / "img_000.png").stat().st_size


def test_broken_symlink_is_an_unreadable_image(dataset: Path) -> None:
    (dataset / "train" / "dog" / "gone.png").symlink_to(dataset / "train" / "dog" / "missing.png")
    with pytest.raises(DatasetError, match="broken symbolic link"):
        scan_dataset(dataset)
    index = scan_dataset(dataset, skip_corrupt=True)
    assert index.skipped == [("train/dog/gone.png", "broken symbolic link")]


def test_expected_classes_match_in_any_order(dataset: Path) -> None:
    index = scan_dataset(dataset, expected_classes=["dog", "ant", "cat"])
    assert index.classes == ["ant", "cat", "dog"]


def test_expected_classes_mismatch_shows_both(dataset: Path) -> None:
    with pytest.raises(DatasetError) as info:
        scan_dataset(dataset, expected_classes=["ant", "cat", "wolf"])
    message = str(info.value)
    assert "['ant', 'cat', 'wolf']" in message
    assert "['ant', 'cat', 'dog']" in message
    assert "declared but with no train folder: ['wolf']" in message
    assert "train folders not declared: ['dog']" in message


def test_expected_classes_duplicates(dataset: Path) -> None:
    with pytest.raises(DatasetError, match=r"declared more than once: \['ant'\]"):
        scan_dataset(dataset, expected_classes=["ant", "ant", "cat", "dog"])


def test_unreadable_class_folder_is_a_dataset_error(dataset: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root can read a chmod 000 folder")
    folder = dataset / "train" / "cat"
    folder.chmod(0)
    try:
        with pytest.raises(DatasetError, match="Cannot list"):
            scan_dataset(dataset)
    finally:
        folder.chmod(0o755)


def test_symlink_loop_is_a_dataset_error_not_a_crash(tmp_path: Path) -> None:
    from visionyard.training.imagefolder import scan_dataset as scan

    root = tmp_path / "ds"
    for split in ("train", "val"):
        (root / split / "a").mkdir(parents=True)
    (root / "train" / "a" / "loop.png").symlink_to(root / "train" / "a" / "loop.png")
    with pytest.raises(DatasetError, match="loop"):
        scan(root)
