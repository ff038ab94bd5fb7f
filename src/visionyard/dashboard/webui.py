"""The web UI on the dashboard's own port: the Next.js static export served at `/`.

Order matters. The API routers are added first; then a catch-all under the API prefix answers
unknown API paths with the JSON 404 every client expects (without it they would fall through to
the UI's 404 page, and a POST would get a 405 from the static files); the static files come last,
mounted only where a build exists. Without one, `/` says how to build it and the API works as
before.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from os import PathLike
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import Scope

from visionyard.dashboard.access import PublicRoute
from visionyard.dashboard.csp import inline_script_hashes, page_policy
from visionyard.dashboard.errors import error_body

log = logging.getLogger("visionyard.dashboard")

#: the source checkout's web UI build (an editable install runs from the checkout)
DEFAULT_WEB_UI_DIR = Path(__file__).resolve().parents[3] / "web_ui" / "out"
HOW_TO_BUILD = (
    "The web UI is not built. Build it with `make ui` (needs Node.js 20 or newer and npm), "
    "or point VISIONYARD_WEB_UI_DIR at a build; the API works without it at /api/v1 "
    "(documentation: /api/v1/docs)."
)


def web_ui_dir(configured: Path | None) -> Path:
    """Where the build is looked for: VISIONYARD_WEB_UI_DIR, else the checkout's web_ui/out."""
    return (configured or DEFAULT_WEB_UI_DIR).expanduser()


def is_built(directory: Path) -> bool:
    return (directory / "index.html").is_file()


def ui_is_served(configured: Path | None) -> bool:
    """Whether a dashboard with this VISIONYARD_WEB_UI_DIR serves the web UI at `/`."""
    return is_built(web_ui_dir(configured))


@lru_cache(maxsize=1024)
def _page_script_hashes(path: str, _mtime_ns: int, _size: int) -> tuple[str, ...]:
    """The inline scripts' hashes of one HTML file, cached by its path and version (a rebuilt
    UI has new files: new modification times, new entries)."""
    try:
        html = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ()
    return inline_script_hashes(html)


class UiFiles(StaticFiles):
    """The build's files; an HTML page gets a Content-Security-Policy that allows exactly its
    own inline scripts (`visionyard.dashboard.csp`)."""

    def file_response(
        self,
        full_path: PathLike[str] | str,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        if str(full_path).endswith(".html"):
            hashes = _page_script_hashes(
                str(full_path), stat_result.st_mtime_ns, stat_result.st_size
            )
            host = Headers(scope=scope).get("host")
            response.headers["Content-Security-Policy"] = page_policy(host, hashes)
        return response


def install_web_ui(app: FastAPI, api_prefix: str, configured: Path | None) -> None:
    """Add the API catch-all and, where the build exists (`web_ui_dir`), the UI."""

    @app.api_route(
        f"{api_prefix}/{{rest:path}}",
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
        dependencies=[PublicRoute],
    )
    async def unknown_api_path(request: Request, rest: str) -> JSONResponse:
        return JSONResponse(
            error_body(
                "not_found",
                f"no API route {request.method} {api_prefix}/{rest}; every route is listed "
                f"in the API documentation at {api_prefix}/docs",
            ),
            status_code=404,
        )

    directory = web_ui_dir(configured)
    if is_built(directory):
        app.mount("/", UiFiles(directory=directory, html=True), name="web_ui")
        return

    log.warning("%s (looked in %s)", HOW_TO_BUILD, directory)

    @app.get("/", include_in_schema=False, dependencies=[PublicRoute])
    async def not_built() -> HTMLResponse:
        return HTMLResponse(
            "<!doctype html><title>Visionyard</title>"
            f"<p>{HOW_TO_BUILD}</p><p><a href='{api_prefix}/docs'>API documentation</a></p>"
        )
