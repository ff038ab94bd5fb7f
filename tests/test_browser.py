"""The browser fixtures (tests/browser.py): without a Chromium, a browser test skips with the
reason and what to do, except where VISIONYARD_REQUIRE_BROWSER is set (`make test`), where it
fails, so that a run without a browser cannot pass by skipping its browser tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser import find_chromium, no_browser

REPO = Path(__file__).resolve().parents[1]
A_BROWSER_TEST = "def test_needs_a_browser(page):\n    assert page.evaluate('1 + 1') == 2\n"


def run_browser_test(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """A one-test pytest session with the browser fixtures, in its own process."""
    (tmp_path / "test_one.py").write_text(A_BROWSER_TEST)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    base = {k: v for k, v in os.environ.items() if not k.startswith("VISIONYARD_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.browser", "-p", "no:cacheprovider"]
        + ["-rsf", "--rootdir", str(tmp_path), "-c", str(tmp_path / "pytest.ini")]
        + [str(tmp_path / "test_one.py")],
        cwd=REPO,
        # Without the installed plugins (hypothesis, schemathesis, xdist): a quicker start.
        env={**base, "PYTHONPATH": str(REPO), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_no_chromium_skips_with_the_reason_and_what_to_do(tmp_path: Path) -> None:
    done = run_browser_test(tmp_path, VISIONYARD_CHROMIUM=str(tmp_path / "no-such-chromium"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 skipped" in done.stdout
    assert "no Chromium for the browser tests" in done.stdout
    assert "apt-get install chromium" in done.stdout and "VISIONYARD_CHROMIUM" in done.stdout


def test_no_chromium_fails_where_a_browser_is_required(tmp_path: Path) -> None:
    done = run_browser_test(
        tmp_path,
        VISIONYARD_CHROMIUM=str(tmp_path / "no-such-chromium"),
        VISIONYARD_REQUIRE_BROWSER="1",
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 error" in done.stdout and "skipped" not in done.stdout
    assert "VISIONYARD_REQUIRE_BROWSER is set, so this fails instead of skipping" in done.stdout


@pytest.mark.slow
def test_a_chromium_found_runs_the_test(tmp_path: Path) -> None:
    if find_chromium() is None:
        no_browser("no Chromium here; the two tests above cover that case")
    done = run_browser_test(tmp_path, VISIONYARD_REQUIRE_BROWSER="1")
    assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout + done.stderr
