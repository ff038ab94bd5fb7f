"""The Makefile's environment: offline mode belongs to the tests, not to the platform a user keeps.

`make demo` leaves a platform people go on using with their own Hub models. A Makefile that
exported HF_HUB_OFFLINE=1 to every target passed it on to the dashboard, the agents and every
trainer they started, so a Hub model failed with a "Hub offline" message.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")


def _offline_setting_seen_by(target: str, tmp_path: Path) -> list[str]:
    """HF_HUB_OFFLINE as each program of `target`'s recipe sees it, make run from an environment
    without it.

    The recipe runs for real, with BIN pointing at stand-ins for the venv's programs (python,
    ruff, mypy, visionyard) that print the variable, and no set-up prerequisite (STAMP=), so
    nothing is installed or started.
    """
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    for program in ("python", "ruff", "mypy", "visionyard"):
        stand_in = fake_bin / program
        stand_in.write_text('#!/bin/sh\necho "${HF_HUB_OFFLINE:-<unset>}"\n')
        stand_in.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_HUB_", "MAKE"))}
    result = subprocess.run(
        ["make", "-s", "-C", str(REPO), target, "STAMP=", f"BIN={fake_bin}", "DEMO_ARGS="],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.split()


def test_make_demo_does_not_put_the_platform_offline(tmp_path: Path) -> None:
    assert _offline_setting_seen_by("demo", tmp_path) == ["<unset>"]


def test_the_test_targets_run_offline(tmp_path: Path) -> None:
    # lint (ruff twice), typecheck (mypy), pytest: every step of `make test` is offline.
    assert _offline_setting_seen_by("test", tmp_path) == ["1", "1", "1", "1"]
    (tmp_path / "fast").mkdir()
    assert _offline_setting_seen_by("test-fast", tmp_path / "fast") == ["1"]
