"""Every page of the web UI, in the light and the dark theme, on real data (a platform whose agent
trained real runs): axe-core finds no serious or critical accessibility violation, and a
full-page screenshot of each is saved to .browser/screenshots/<page>-<theme>.png for people to
look at (the folder is ignored by git)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser import BROWSER_HOME
from tests.dbutil import fresh_sqlite_database
from tests.web_ui.axe import TRANSITIONS_ENDED, axe_violations
from tests.web_ui.conftest import UI_TIMEOUT_MS, log_in
from tests.web_ui.platform import Showcase, UiPlatform, make_ui_platform, seed_showcase

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

SCREENSHOTS = BROWSER_HOME / "screenshots"
VIEWPORT = {"width": 1440, "height": 900}


@dataclass(frozen=True)
class Seeded:
    platform: UiPlatform
    data: Showcase


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, digits_root: Path) -> Iterator[Seeded]:
    """One platform for the module, seeded once (its agent trains two short runs)."""
    base = tmp_path_factory.mktemp("a11y")
    with fresh_sqlite_database(base / "db") as db_url:
        platform = make_ui_platform(base / "platform", db_url, digits_root)
        try:
            platform.start_dashboard()
            platform.start_agent("cpu-1")
            yield Seeded(platform, seed_showcase(platform))
        finally:
            platform.stop_agents()
            platform.stop_dashboard()


@dataclass(frozen=True)
class UiPage:
    name: str
    path: Callable[[Showcase], str]
    #: text the page shows once its data is there
    ready: Callable[[Showcase], str]


PAGES = (
    UiPage("projects", lambda s: "/projects/", lambda s: "handwritten-digits"),
    UiPage("project-runs", lambda s: f"/project/?id={s.project_id}", lambda s: "resnet-baseline"),
    UiPage("configs", lambda s: f"/project/configs/?id={s.project_id}", lambda s: "resnet-fast-lr"),
    UiPage("config-editor", lambda s: f"/config/?id={s.config_id}", lambda s: "resnet-baseline"),
    UiPage(
        "config-history",
        lambda s: f"/config/?id={s.config_id}&tab=history",
        lambda s: "two epochs, the default lr",
    ),
    UiPage("run-overview", lambda s: f"/run/?id={s.run_ids[0]}", lambda s: "resnet-baseline"),
    UiPage("run-logs", lambda s: f"/run/?id={s.run_ids[0]}&tab=logs", lambda s: "epoch"),
    UiPage("run-results", lambda s: f"/run/?id={s.run_ids[0]}&tab=results", lambda s: "acc"),
    UiPage(
        "run-evaluation",
        lambda s: f"/run/?id={s.run_ids[0]}&tab=evaluation",
        lambda s: "Reliability diagram",
    ),
    UiPage(
        "run-checkpoints",
        lambda s: f"/run/?id={s.run_ids[0]}&tab=checkpoints",
        lambda s: "Build archive",
    ),
    UiPage(
        "run-testing",
        lambda s: f"/run/?id={s.run_ids[0]}&tab=testing",
        lambda s: "Drop images here",
    ),
    UiPage(
        "compare",
        lambda s: f"/compare/?runs={','.join(map(str, s.run_ids))}",
        lambda s: "resnet-fast-lr",
    ),
    UiPage("datasets", lambda s: "/datasets/", lambda s: "digits"),
    UiPage("dataset", lambda s: f"/dataset/?id={s.dataset_id}", lambda s: "digits"),
    UiPage("models", lambda s: f"/project/models/?id={s.project_id}", lambda s: "tiny-resnet"),
    UiPage("agents", lambda s: "/agents/", lambda s: "cpu-1"),
    UiPage("admin", lambda s: "/admin/", lambda s: "ada"),
    UiPage("admin-audit", lambda s: "/admin/audit/", lambda s: "127.0.0.1"),
    UiPage("account", lambda s: "/account/", lambda s: "this browser"),
    UiPage("members", lambda s: f"/project/members/?id={s.project_id}", lambda s: "member since"),
)


def describe(page_name: str, violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        nodes = v["nodes"]
        targets = ", ".join(" ".join(map(str, node["target"])) for node in nodes[:5])
        more = f" (+{len(nodes) - 5} more)" if len(nodes) > 5 else ""
        why = " ".join(str(nodes[0].get("failureSummary", "")).split()) if nodes else ""
        lines.append(f"{page_name}: {v['id']} [{v['impact']}] {v['help']}: {targets}{more}; {why}")
    return "\n".join(lines)


def settle(page: Page, ready_text: str) -> None:
    """Wait for the page's data (its `ready_text`), no loading skeleton left, fonts and layout
    done, so that axe and the screenshot see the page a person sees."""
    page.get_by_text(ready_text).first.wait_for(timeout=UI_TIMEOUT_MS)
    from playwright.sync_api import Error as PlaywrightError

    # a page that keeps polling never idles, and is still worth checking
    with contextlib.suppress(PlaywrightError):
        page.wait_for_load_state("networkidle", timeout=5_000)
    page.wait_for_function(
        "!document.querySelector('[aria-busy=\"true\"], .animate-pulse')", timeout=UI_TIMEOUT_MS
    )
    page.wait_for_function(TRANSITIONS_ENDED)  # dialogs, tabs, charts


#: the elements that stick out of the window on the right (a page that scrolls sideways)
WIDER_THAN_WINDOW = """() => {
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth <= width + 1) return [];
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + [...el.classList].slice(0, 3).map((c) => '.' + c).join('');
  // inside a box that scrolls or clips it, it is not the page's doing: unless it is positioned
  // against something outside that box (an sr-only label in a scrolled table, say), which the
  // box does not clip
  const clipped = (el) => {
    let box = el.parentElement;
    while (box && box !== document.body && getComputedStyle(box).overflowX === 'visible') {
      box = box.parentElement;
    }
    if (!box || box === document.body) return false;
    const position = getComputedStyle(el).position;
    if (position === 'fixed') return false;
    if (position !== 'absolute') return true;
    const anchor = el.offsetParent;
    return !!anchor && (anchor === box || box.contains(anchor));
  };
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    const right = el.getBoundingClientRect().right;
    const parent = el.parentElement;
    const inside = (e) => !e || e.getBoundingClientRect().right <= width + 1 || clipped(e);
    if (right > width + 1 && !clipped(el) && inside(parent)) {
      out.push(`${name(el)} (right edge at ${Math.round(right)} px)`);
    }
  }
  return out.slice(0, 3);
}"""


def sideways(page: Page) -> list[str]:
    """What makes the page wider than the window, if anything does."""
    return page.evaluate(WIDER_THAN_WINDOW)


def photograph(page: Page, path: Path) -> None:
    """The whole page: the app shell scrolls its <main>, not the document, so a full-page
    screenshot would cut it at the window's height; the window is made as tall as the content
    for the shot instead."""
    viewport = page.viewport_size or VIEWPORT
    hidden = page.evaluate(
        "(() => { const m = document.querySelector('main');"
        " return m ? Math.max(0, m.scrollHeight - m.clientHeight) : 0; })()"
    )
    page.set_viewport_size({"width": viewport["width"], "height": viewport["height"] + hidden})
    try:
        page.wait_for_timeout(200)  # charts follow their container's size
        page.screenshot(path=path, full_page=True)
    finally:
        page.set_viewport_size(viewport)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_page_passes_axe_and_is_photographed(
    browser: Browser, seeded: Seeded, theme: str
) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    url = seeded.platform.url
    context = browser.new_context(color_scheme=theme, viewport=VIEWPORT)
    try:
        page = context.new_page()
        problems: list[str] = []

        page.goto(f"{url}/login/")
        page.get_by_label("Password").wait_for(timeout=UI_TIMEOUT_MS)
        assert ("dark" in (page.locator("html").get_attribute("class") or "")) == (theme == "dark")
        problems.append(describe("login", axe_violations(page)))
        photograph(page, SCREENSHOTS / f"login-{theme}.png")

        log_in(page, url)

        for ui_page in PAGES:  # every page is checked and photographed, whatever fails
            response = page.goto(url + ui_page.path(seeded.data))
            if response is None or response.status != 200:
                problems.append(f"{ui_page.name}: {ui_page.path(seeded.data)} is not there")
                continue
            try:
                settle(page, ui_page.ready(seeded.data))
            except PlaywrightTimeout:
                problems.append(
                    f"{ui_page.name}: did not show {ui_page.ready(seeded.data)!r} with no "
                    f"loading state left within {UI_TIMEOUT_MS / 1000:.0f} s"
                )
            problems.append(describe(ui_page.name, axe_violations(page)))
            if wide := sideways(page):
                problems.append(
                    f"{ui_page.name}: wider than the {VIEWPORT['width']} px window, it scrolls "
                    f"sideways; sticking out: {', '.join(wide)}"
                )
            photograph(page, SCREENSHOTS / f"{ui_page.name}-{theme}.png")

        report = "\n".join(p for p in problems if p)
        assert not report, f"pages with problems ({theme} theme):\n{report}"
    finally:
        context.close()
