"""visionyard.modelsource: the one Hub-id rule the registry, the agent, the trainer and the model
card share."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from visionyard.errors import ModelLoadError
from visionyard.modelsource import did_you_mean, is_hub_id, resolve_model_source


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


def test_a_local_name_beside_a_close_folder_is_refused_with_a_did_you_mean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bare name or a path one letter off an existing model folder is a typo: refused before
    any Hub request, naming the folder. An `org/name` stays a Hub id even then (a local
    mirror's neighbour may well be on the Hub), and so does a bare name close to nothing."""
    for folder in (tmp_path / "tiny-resnet", tmp_path / "org" / "tiny-resnet"):
        folder.mkdir(parents=True)
        (folder / "config.json").write_text("{}")
    (tmp_path / "no-config").mkdir()  # not a model: never suggested
    monkeypatch.chdir(tmp_path)
    for typo, meant in (
        ("tiny-resnett", "'tiny-resnet'"),
        ("./tiny-resnett", "'./tiny-resnet'"),
        (str(tmp_path / "tiny-resnett"), repr(str(tmp_path / "tiny-resnet"))),
        ("./org/tiny-resnett", "'./org/tiny-resnet'"),
    ):
        with pytest.raises(ModelLoadError, match=re.escape(f"Did you mean {meant}?")) as caught:
            resolve_model_source(typo)
        assert "'org/name'" in str(caught.value)
    for hub_id in ("org/tiny-resnett", "zzzzzz", "no-confg"):
        assert resolve_model_source(hub_id) == hub_id


def test_only_genuinely_close_names_are_suggested() -> None:
    # Names sharing only a prefix such as "tiny-" are not offered: that is noise, not help.
    folders = ["tiny-resnet", "tiny-vit", "tiny-convnext", "tiny-resnet-v2"]
    assert (
        did_you_mean("tiny-resnett", folders) == "Did you mean 'tiny-resnet' or 'tiny-resnet-v2'?"
    )
    assert did_you_mean("tiny-vitt", folders) == "Did you mean 'tiny-vit'?"
    assert did_you_mean("resnet-50", folders) == ""
