"""Write the dashboard's OpenAPI document, from which the web UI's typed client is generated.

    python -m visionyard.dashboard.openapi_export web_ui/lib/api/openapi.json

`make api-types` runs this and then openapi-typescript; a test fails when the committed copy
differs from what the app serves, so the UI's types cannot silently drift from the API.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from visionyard.settings import load_settings


def openapi_document() -> dict[str, Any]:
    """The document of an app on throw-away settings (it does not depend on them)."""
    from visionyard.dashboard.app import create_app

    with tempfile.TemporaryDirectory(prefix="visionyard-openapi-") as tmp:
        app = create_app(
            load_settings(
                data_dir=Path(tmp),
                admin_password="unused-openapi",
                admin_token="unused-openapi-token",
            )
        )
        document = app.openapi()
        app.state.vy.engine.dispose()
        return document


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m visionyard.dashboard.openapi_export OUTPUT.json", file=sys.stderr)
        return 2
    Path(argv[0]).write_text(render(openapi_document()), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
