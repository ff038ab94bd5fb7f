"""visionyard.modelsource: the one Hub-id rule the registry, the agent, the trainer and the model
card share."""

from __future__ import annotations

from pathlib import Path

import pytest

from visionyard.errors import ModelLoadError
from visionyard.modelsource import is_hub_id, resolve_model_source


@pytest.mark.parametrize(
    "name", ["resnet-50", "google/vit-base-patch16-224", "Org_1/x.y-z", "a" * 96, "a/" + "b" * 96]
)
def test_hub_ids(name: str) -> None:
    assert is_hub_id(name)
    assert resolve_model_source(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "a" * 97,
        "org/name/extra",
        "/abs/path",
        "-flag",
        ".hidden",
        "org/..",
        "a..b",
        "org/na me",
        "https://x/y",
        "name;rm",
    ],
)
def test_not_hub_ids(name: str) -> None:
    assert not is_hub_id(name)


def test_an_existing_folder_wins_over_the_hub(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    with pytest.raises(ModelLoadError, match="config.json"):
        resolve_model_source(str(folder))
    (folder / "config.json").write_text("{}")
    assert resolve_model_source(str(folder)) == str(folder.resolve())
