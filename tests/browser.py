"""Browser fixtures: a real Chromium driven by Playwright, kept off the network.

Playwright's own browser download (`playwright install`) needs a network the test machines do
not have, so the tests drive the distribution's Chromium (`apt-get install chromium`, which
`make test` does when it is missing). Where no Chromium is found, a browser test skips with the
reason, so that `pytest` on a laptop still runs; `make test` sets VISIONYARD_REQUIRE_BROWSER=1
and then a missing browser fails the test instead, so that CI never passes by skipping them.

Chromium's settings, caches and Playwright's own files go under `.browser/` in the repository
(ignored by git), never into the user's home.

Fixtures (registered for every test by tests/conftest.py):
- `browser`: one Chromium per test module;
- `page`: a fresh context and page per test, closed afterwards.

`only_local_requests(page, origin)` aborts every request to another origin and returns the list
of those it aborted, so a test proves that a page works with no network at all.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Route

REPO = Path(__file__).resolve().parents[1]
#: where Chromium and Playwright keep their files (the repository's .gitignore lists it)
BROWSER_HOME = REPO / ".browser"
#: set (to anything but "" or "0") by `make test`: a missing browser fails instead of skipping
REQUIRE_BROWSER = "VISIONYARD_REQUIRE_BROWSER"
#: the Chromium executable to use; otherwise the first of CHROMIUM_NAMES on PATH
CHROMIUM_SETTING = "VISIONYARD_CHROMIUM"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: how to get one, said in every skip or failure
HOW_TO_GET_ONE = (
    "install it (Debian/Ubuntu: apt-get install chromium; `make test` does this itself), "
    f"or point {CHROMIUM_SETTING} at a Chromium or Chrome executable"
)
#: URL schemes that never leave the browser
LOCAL_SCHEMES = ("data", "blob", "about")


def browser_required() -> bool:
    return os.environ.get(REQUIRE_BROWSER, "") not in ("", "0")


def no_browser(reason: str) -> NoReturn:
    """Skip the test, or fail it where a browser is required (`make test`)."""
    if browser_required():
        pytest.fail(f"{reason} ({REQUIRE_BROWSER} is set, so this fails instead of skipping)")
    pytest.skip(reason)


def find_chromium() -> str | None:
    configured = os.environ.get(CHROMIUM_SETTING)
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def browser_env() -> dict[str, str]:
    """The environment of Playwright's driver and of Chromium: their files under BROWSER_HOME."""
    return {
        "XDG_CONFIG_HOME": str(BROWSER_HOME / "config"),
        "XDG_CACHE_HOME": str(BROWSER_HOME / "cache"),
        "PLAYWRIGHT_BROWSERS_PATH": str(BROWSER_HOME / "playwright"),
    }


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium per test module, so that Playwright's event loop is gone before another
    module's asyncio tests run in the same process."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        no_browser(
            "the browser tests need Playwright: pip install -c requirements.lock -e '.[dev]'"
        )
    executable = find_chromium()
    if executable is None:
        configured = os.environ.get(CHROMIUM_SETTING)
        where = (
            f"{CHROMIUM_SETTING}={configured} is not an executable"
            if configured
            else (f"none of {', '.join(CHROMIUM_NAMES)} is on PATH")
        )
        no_browser(f"no Chromium for the browser tests ({where}); {HOW_TO_GET_ONE}")
    env = browser_env()
    for folder in env.values():
        Path(folder).mkdir(parents=True, exist_ok=True)
    with pytest.MonkeyPatch.context() as patch:
        # Playwright's driver reads these when it starts (and keeps them); the rest of the
        # session's processes do not see them. Chromium gets them through `env`.
        for name, value in env.items():
            patch.setenv(name, value)
        playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=executable, headless=True, env={**os.environ, **env}
        )
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()


def only_local_requests(page: Page, origin: str) -> list[str]:
    """Abort every request of `page` (and of any popup or worker of its context) that goes to
    another origin than `origin` ("http://127.0.0.1:8000"); return the URLs aborted, which the
    list keeps gathering for as long as the page lives."""
    aborted: list[str] = []

    def guard(route: Route) -> None:
        url = route.request.url
        if same_origin(url, origin) or urlsplit(url).scheme in LOCAL_SCHEMES:
            route.continue_()
        else:
            aborted.append(url)
            route.abort("internetdisconnected")

    page.context.route("**/*", guard)
    return aborted


def same_origin(url: str, origin: str) -> bool:
    a, b = urlsplit(url), urlsplit(origin)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)
