"""The web UI's typed client cannot drift from the API: the committed OpenAPI document must be
the app's own, and the committed TypeScript types must be what openapi-typescript makes of it.
`make api-types` regenerates both."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.browser import browser_required
from visionyard.dashboard.openapi_export import openapi_document, render

WEB_UI = Path(__file__).resolve().parents[2] / "web_ui"
DOCUMENT = WEB_UI / "lib" / "api" / "openapi.json"
TYPES = WEB_UI / "lib" / "api" / "schema.d.ts"
GENERATOR = WEB_UI / "node_modules" / ".bin" / "openapi-typescript"
REGENERATE = "run `make api-types` and commit web_ui/lib/api/"


def test_the_committed_openapi_document_is_the_apps() -> None:
    committed = json.loads(DOCUMENT.read_text())
    current = openapi_document()
    changed = sorted(
        set(committed["paths"]) ^ set(current["paths"])
        | {
            p
            for p in set(committed["paths"]) & set(current["paths"])
            if committed["paths"][p] != current["paths"][p]
        }
    )
    assert committed == current, f"the API changed ({changed[:10] or 'components'}): {REGENERATE}"
    assert DOCUMENT.read_text() == render(current), f"not in the canonical form: {REGENERATE}"


def test_the_committed_types_are_generated_from_the_document(tmp_path: Path) -> None:
    if not GENERATOR.exists() or shutil.which("node") is None:
        reason = "openapi-typescript is not installed (make ui-check installs it with npm ci)"
        if browser_required():
            pytest.fail(reason)
        pytest.skip(reason)
    fresh = tmp_path / "schema.d.ts"
    subprocess.run(
        [str(GENERATOR), str(DOCUMENT), "-o", str(fresh)],
        check=True,
        capture_output=True,
        cwd=WEB_UI,
        timeout=120,
    )
    assert fresh.read_text() == TYPES.read_text(), f"schema.d.ts is stale: {REGENERATE}"
