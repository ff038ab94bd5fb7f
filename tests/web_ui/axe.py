"""axe-core (web_ui/node_modules) on a page as it is now: the serious and critical violations the
accessibility checks of the browser tests assert there are none of."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page

AXE = Path(__file__).resolve().parents[2] / "web_ui" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")

#: true once every finite animation (CSS transitions: a theme switch, a dialog opening) has ended,
#: so axe measures the colours a person sees, not a frame halfway (spinners run forever: ignored)
TRANSITIONS_ENDED = """() => document.getAnimations()
    .filter(a => a.effect && a.effect.getComputedTiming().endTime !== Infinity)
    .every(a => a.playState !== 'running')"""


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page, once its transitions have ended."""
    if not AXE.is_file():
        pytest.skip(f"axe-core is not installed ({AXE}): run `make ui`")
    page.wait_for_function(TRANSITIONS_ENDED)
    if page.evaluate("typeof window.axe") == "undefined":
        # Evaluated through the DevTools protocol, not added as a <script>: the page's
        # Content-Security-Policy allows only its own inline scripts (by hash), which is right.
        page.evaluate(f"() => {{ {AXE.read_text(encoding='utf-8')}\n }}")
    result = page.evaluate("axe.run(document, { resultTypes: ['violations'] })")
    return [v for v in result["violations"] if v.get("impact") in BLOCKING]


def serious_axe_violations(page: Page) -> list[str]:
    """The same, one line each: the rule, what it asks, and the first elements that break it."""
    return [
        f"{v['id']}: {v['help']} ({len(v['nodes'])}x, e.g. "
        + ", ".join(" ".join(map(str, n["target"])) for n in v["nodes"][:3])
        + ")"
        for v in axe_violations(page)
    ]
