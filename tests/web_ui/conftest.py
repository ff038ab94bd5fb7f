"""The real web UI build (web_ui/out, `make ui`) served by a real `visionyard serve`.

A missing build fails under `make test` (which builds it first) and skips elsewhere, with the
command that builds it, like a missing browser.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser import no_browser
from tests.dashboard.conftest import ADMIN_PASSWORD
from tests.liveserver import serving
from visionyard.dashboard.webui import DEFAULT_WEB_UI_DIR, is_built
from visionyard.settings import Settings, load_settings

if TYPE_CHECKING:
    from playwright.sync_api import Page

#: how long a page may take to show its data on a busy 2-core machine
UI_TIMEOUT_MS = 20_000


def require_build() -> Path:
    if not is_built(DEFAULT_WEB_UI_DIR):
        no_browser(f"the web UI is not built in {DEFAULT_WEB_UI_DIR}: run `make ui`")
    return DEFAULT_WEB_UI_DIR


@pytest.fixture
def ui_settings(tmp_path: Path, models_dir: Path) -> Settings:
    """A platform of its own on SQLite, serving the real build."""
    return load_settings(
        data_dir=tmp_path / "data",
        datasets_dir=tmp_path / "datasets",
        runs_dir=tmp_path / "runs",
        models_dir=models_dir,
        web_ui_dir=require_build(),
        events_poll_interval=0.1,
    )


@pytest.fixture
def ui_url(ui_settings: Settings, tmp_path: Path) -> Iterator[str]:
    with serving(ui_settings, tmp_path / "serve.log") as url:
        yield url


def log_in(page: Page, url: str, password: str = ADMIN_PASSWORD) -> None:
    """Log in through the login page, as a person does, and wait for the projects page."""
    page.goto(f"{url}/login/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/projects/", timeout=UI_TIMEOUT_MS)


@pytest.fixture
def logged_in(page: Page, ui_url: str) -> Callable[[], Page]:
    def go() -> Page:
        log_in(page, ui_url)
        return page

    return go
