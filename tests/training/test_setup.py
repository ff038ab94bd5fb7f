"""What setup.py checks before a run writes anything, through `train()`: bad input is a clear
error and leaves no files; a run folder holding another config is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from visionyard.errors import ConfigError, DatasetError, ModelLoadError
from visionyard.training.config import build_config
from visionyard.training.runner import train


def _expect_rejected(cfg_dict: dict, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        train(build_config(cfg_dict))
    assert not Path(cfg_dict["output_dir"]).exists(), "a rejected run must not create files"


def test_missing_val_split(base_config: dict, small_dataset: Path) -> None:
    import shutil

    shutil.rmtree(small_dataset / "val")
    _expect_rejected(base_config, DatasetError, "val")


def test_val_class_set_differs_from_train(base_config: dict, small_dataset: Path) -> None:
    (small_dataset / "val" / "2").rename(small_dataset / "val" / "9")
    _expect_rejected(base_config, DatasetError, "9")


def test_corrupt_image_is_named(base_config: dict, small_dataset: Path) -> None:
    bad = next((small_dataset / "train" / "1").iterdir())
    bad.write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
    _expect_rejected(base_config, DatasetError, bad.name)


def test_empty_class_folder(base_config: dict, small_dataset: Path) -> None:
    (small_dataset / "train" / "3").mkdir()
    _expect_rejected(base_config, DatasetError, "3")


def test_hub_id_while_offline(base_config: dict) -> None:
    _expect_rejected(
        base_config | {"model_flavour": "google/vit-base-patch16-224"}, ModelLoadError, "offline"
    )


def test_monitoring_a_topk_the_dataset_cannot_have(base_config: dict) -> None:
    _expect_rejected(
        base_config | {"eval_topk": [1, 5], "monitor_metric": "acc@5"}, ConfigError, "acc@5"
    )


def test_existing_run_with_another_config_is_refused(base_config: dict) -> None:
    from visionyard.errors import RunStateError

    train(build_config(base_config))
    with pytest.raises(RunStateError, match="lr"):
        train(build_config(base_config | {"lr": 0.5}))
    with pytest.raises(RunStateError, match="already holds a run"):
        train(build_config(base_config | {"resume": "never"}))
