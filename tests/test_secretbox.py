"""visionyard.secretbox: one key derivation and one decryption rule for the dashboard (which
encrypts model tokens) and the agent (which decrypts them for a trainer)."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from visionyard.secretbox import SecretBox, load_or_create_key


def test_the_same_configured_key_decrypts_on_either_side(tmp_path: Path) -> None:
    dashboard = SecretBox(load_or_create_key(tmp_path / "dashboard", "s3cret"))
    agent = SecretBox(load_or_create_key(tmp_path / "agent", "s3cret"))
    sealed = dashboard.encrypt("hf_token")
    assert sealed != b"hf_token" and b"hf_token" not in sealed
    assert agent.model_token(sealed, model="org/m") == "hf_token"
    assert not (tmp_path / "agent").exists()  # a configured key writes no file


def test_a_generated_key_is_written_once_private_and_reused(tmp_path: Path) -> None:
    first = load_or_create_key(tmp_path, None)
    path = tmp_path / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(tmp_path, None) == first


def test_no_token_is_none_and_another_keys_token_is_none_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    box = SecretBox(load_or_create_key(tmp_path, "one"))
    other = SecretBox(load_or_create_key(tmp_path, "two")).encrypt("hf_token")
    assert box.model_token(None, model=7) is None
    assert not caplog.records
    with caplog.at_level(logging.WARNING, logger="visionyard.secretbox"):
        assert box.model_token(other, model=7) is None
    [record] = caplog.records
    assert "model 7" in record.getMessage() and "VISIONYARD_SECRET_KEY" in record.getMessage()
    assert "hf_token" not in record.getMessage()
