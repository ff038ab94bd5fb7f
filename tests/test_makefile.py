"""The Makefile's environment: offline mode belongs to the tests, not to the platform a user keeps.

`make demo` leaves a platform people go on using with their own Hub models. A Makefile that
exported HF_HUB_OFFLINE=1 to every target passed it on to the dashboard, the agents and every
trainer they started, so a Hub model failed with a "Hub offline" message.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")


def _stand_in(path: Path, script: str) -> Path:
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return path


def _make(target: str, tmp_path: Path, *settings: str) -> subprocess.CompletedProcess[str]:
    """`make target` for real, with BIN pointing at stand-ins for the venv's programs (python,
    ruff, mypy, visionyard) that print the environment variables named in PRINTED, and no set-up
    prerequisite (STAMP=), so nothing is installed or started. Chromium is a stand-in file
    unless `settings` ("NAME=value" make variables) say otherwise."""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir(exist_ok=True)
    printed = " ".join(f"${{{name}:-<unset>}}" for name in PRINTED)
    for program in ("python", "ruff", "mypy", "visionyard", "npm"):
        _stand_in(fake_bin / program, f'echo "{printed}"\n')
    chromium = _stand_in(tmp_path / "chromium", "exit 0\n")
    # The web UI: npm is a stand-in too, and its install and build steps are left out
    # (test_ui_is_built_only_when_its_sources_or_lock_change covers them).
    ui = [f"NPM={fake_bin / 'npm'}", "UI_DEPS=", "UI_BUILD="]
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("HF_HUB_", "MAKE", "VISIONYARD_"))
    }
    return subprocess.run(
        ["make", "-s", "-C", str(REPO), target, "STAMP=", f"BIN={fake_bin}", "DEMO_ARGS="]
        + [f"CHROMIUM={chromium}", *ui, *settings],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


#: what the stand-ins print, in this order
PRINTED = ("HF_HUB_OFFLINE", "VISIONYARD_REQUIRE_BROWSER", "VISIONYARD_CHROMIUM")


def _seen_by(target: str, tmp_path: Path, variable: str, *settings: str) -> list[str]:
    """`variable` as each program of `target`'s recipe sees it, make run from an environment
    without it."""
    done = _make(target, tmp_path, *settings)
    assert done.returncode == 0, done.stdout + done.stderr
    column = PRINTED.index(variable)
    return [line.split()[column] for line in done.stdout.splitlines() if line.strip()]


def _offline_setting_seen_by(target: str, tmp_path: Path) -> list[str]:
    return _seen_by(target, tmp_path, "HF_HUB_OFFLINE")


def test_make_demo_does_not_put_the_platform_offline(tmp_path: Path) -> None:
    assert _offline_setting_seen_by("demo", tmp_path) == ["<unset>"]


def test_the_test_targets_run_offline(tmp_path: Path) -> None:
    # lint (ruff twice), typecheck (mypy), the UI's lint and typecheck (npm twice), pytest:
    # every step of `make test` is offline.
    assert _offline_setting_seen_by("test", tmp_path) == ["1"] * 6
    (tmp_path / "fast").mkdir()
    assert _offline_setting_seen_by("test-fast", tmp_path / "fast") == ["1"]


# ---- the browser tests' Chromium ---------------------------------------------------------------


def _apt_get_stand_in(tmp_path: Path, chromium: Path, exit_code: int = 0) -> tuple[Path, Path]:
    """An apt-get that logs its arguments and, on `install`, puts an executable at `chromium`
    (or fails with `exit_code`); returns it and its log."""
    log = tmp_path / "apt-get.log"
    log.touch()
    script = f'echo "$*" >> {log}\n'
    if exit_code:
        script += f"exit {exit_code}\n"
    else:
        script += f'case "$1" in install) echo exit 0 > {chromium}; chmod +x {chromium};; esac\n'
    return _stand_in(tmp_path / "apt-get", script), log


def test_make_test_makes_a_missing_browser_fail_the_browser_tests(tmp_path: Path) -> None:
    # Every program of `make test` sees the requirement, and the Chromium it names.
    assert _seen_by("test", tmp_path, "VISIONYARD_REQUIRE_BROWSER") == ["1"] * 6
    assert _seen_by("test", tmp_path, "VISIONYARD_CHROMIUM") == [str(tmp_path / "chromium")] * 6
    # The edit loop leaves the browser tests out (they start a server) and installs nothing.
    (tmp_path / "fast").mkdir()
    assert _seen_by("test-fast", tmp_path / "fast", "VISIONYARD_REQUIRE_BROWSER") == ["<unset>"]


def test_make_test_installs_chromium_once_when_it_is_missing(tmp_path: Path) -> None:
    chromium = tmp_path / "system" / "chromium"
    chromium.parent.mkdir()
    apt_get, log = _apt_get_stand_in(tmp_path, chromium)
    settings = (f"CHROMIUM={chromium}", f"APT_GET={apt_get}")

    first = _make("test", tmp_path, *settings)
    assert first.returncode == 0, first.stdout + first.stderr
    calls = log.read_text().splitlines()
    assert calls[0].split()[0] == "update" and calls[1].split()[0] == "install", calls
    assert {"-y", "--no-install-recommends", "chromium"} <= set(calls[1].split())
    assert os.access(chromium, os.X_OK)
    # The tests ran after it, with that browser.
    assert first.stdout.splitlines()[-1].split()[-1] == str(chromium)

    again = _make("test", tmp_path, *settings)
    assert again.returncode == 0 and len(log.read_text().splitlines()) == 2  # not again

    fast = tmp_path / "fast"
    fast.mkdir()
    absent = fast / "chromium-absent"
    apt_get, log = _apt_get_stand_in(fast, absent)
    done = _make("test-fast", fast, f"CHROMIUM={absent}", f"APT_GET={apt_get}")
    assert done.returncode == 0 and log.read_text() == "" and not absent.exists()


def test_a_chromium_that_cannot_be_installed_stops_make_test_saying_what_to_do(
    tmp_path: Path,
) -> None:
    """As a user without root sees it: apt-get refuses, and make says how to go on."""
    chromium = tmp_path / "system" / "chromium"
    apt_get, log = _apt_get_stand_in(tmp_path, chromium, exit_code=100)
    done = _make("test", tmp_path, f"CHROMIUM={chromium}", f"APT_GET={apt_get}")
    assert done.returncode != 0
    assert "could not install Chromium" in done.stderr
    assert "apt-get install chromium" in done.stderr and "CHROMIUM=/path/to" in done.stderr
    assert log.read_text().startswith("update")
    assert done.stdout.strip().splitlines()[-1].startswith("Installing Chromium")  # no tests ran


# ---- the web UI's build ------------------------------------------------------------------------

UI_FILES = (
    "package.json",
    "package-lock.json",
    "next.config.ts",
    "postcss.config.mjs",
    "tsconfig.json",
    "app/page.tsx",
    "components/ui/button.tsx",
    "lib/utils.ts",
)


def _ui_tree(root: Path) -> Path:
    """A web_ui/ whose install and build are newer than every source, as after a build."""
    ui = root / "web_ui"
    for name in UI_FILES:
        (ui / name).parent.mkdir(parents=True, exist_ok=True)
        (ui / name).write_text("{}")
    for built in ("node_modules/.installed-stamp", "out/index.html"):
        (ui / built).parent.mkdir(parents=True, exist_ok=True)
        (ui / built).write_text("")
    later = time.time() + 10
    os.utime(ui / "node_modules/.installed-stamp", (later, later))
    os.utime(ui / "out/index.html", (later + 1, later + 1))
    return ui


def _ui_plan(root: Path, *settings: str) -> subprocess.CompletedProcess[str]:
    """What `make ui` would run in `root` (-n: print the commands, run nothing)."""
    return subprocess.run(
        ["make", "-s", "-n", "-C", str(root), "-f", str(REPO / "Makefile"), "ui", *settings],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_ui_is_built_only_when_its_sources_or_lock_change(tmp_path: Path) -> None:
    ui = _ui_tree(tmp_path)
    assert _ui_plan(tmp_path).stdout == ""  # up to date: nothing to do

    newest = time.time() + 20
    os.utime(ui / "components/ui/button.tsx", (newest, newest))
    plan = _ui_plan(tmp_path).stdout
    assert "npm run build" in plan and "npm ci" not in plan  # a source: build, no install

    os.utime(ui / "package-lock.json", (newest + 5, newest + 5))
    plan = _ui_plan(tmp_path).stdout
    assert plan.index("npm ci") < plan.index("npm run build")  # the lock: install, then build


def test_make_demo_without_node_starts_without_the_ui_and_says_how(tmp_path: Path) -> None:
    done = _make("demo-ui", tmp_path, f"NPM={tmp_path / 'no-npm-here'}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Node.js" in done.stdout and "make ui" in done.stdout
