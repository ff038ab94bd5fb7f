"""Where the client keeps its credentials: the config folder, the file's mode, the order of
the environment and the file (real files, no server)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from visionyard.client import credentials


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("VISIONYARD_URL", raising=False)
    monkeypatch.delenv("VISIONYARD_TOKEN", raising=False)
    return tmp_path / "xdg"


def test_saved_file_is_0600_in_a_0700_folder_even_with_a_lax_umask(config_home: Path) -> None:
    old = os.umask(0o000)
    try:
        path = credentials.save("http://h:1", "secret-token", 7)
    finally:
        os.umask(old)
    assert path == config_home / "visionyard" / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert credentials.load() == credentials.Credentials("http://h:1", "secret-token", str(path))


def test_an_existing_open_folder_is_closed_to_others(config_home: Path) -> None:
    (config_home / "visionyard").mkdir(parents=True, mode=0o755)
    os.chmod(config_home / "visionyard", 0o755)
    credentials.save("http://h:1", "t")
    assert stat.S_IMODE((config_home / "visionyard").stat().st_mode) == 0o700


def test_a_leftover_temporary_file_does_not_lend_its_mode(config_home: Path) -> None:
    folder = config_home / "visionyard"
    folder.mkdir(parents=True)
    leftover = folder / f".credentials.json.{os.getpid()}.tmp"
    leftover.write_text("{}")
    os.chmod(leftover, 0o644)
    path = credentials.save("http://h:1", "t")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and not leftover.exists()


def test_without_xdg_the_folder_is_under_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert (
        credentials.credentials_path() == tmp_path / ".config" / "visionyard" / "credentials.json"
    )


def test_environment_overrides_the_file_and_a_token_never_goes_to_another_url(
    config_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials.save("http://stored:1", "stored-token")
    monkeypatch.setenv("VISIONYARD_TOKEN", "env-token")
    assert credentials.load() == credentials.Credentials(
        "http://stored:1", "env-token", "VISIONYARD_TOKEN"
    )
    monkeypatch.delenv("VISIONYARD_TOKEN")
    monkeypatch.setenv("VISIONYARD_URL", "http://other:2/api/v1/")
    assert credentials.load() == credentials.Credentials("http://other:2", None, None)
    assert credentials.forget() is not None and credentials.forget() is None
