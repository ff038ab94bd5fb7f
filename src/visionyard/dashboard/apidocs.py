"""The interactive API documentation (Swagger UI), served entirely by the dashboard itself.

FastAPI's built-in docs page loads Swagger UI's script, stylesheet and icon from a CDN, so on a
machine without internet access it stayed blank. The same files ship in the `fastapi-offline`
package (pinned in requirements.lock; Swagger UI 5, which renders the OpenAPI 3.1 documents
FastAPI writes): the page built here points at copies served from `<prefix>/docs/assets/`, so it
needs no network at all.

The page, its OAuth2 redirect page and the assets answer without credentials, like the OpenAPI
document they display, and stay out of that document: they are not API operations.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse

from visionyard.dashboard.csp import inline_script_hashes, page_policy

#: the installed package that ships Swagger UI's built files, and its folder holding them
ASSETS_PACKAGE = "fastapi_offline"
ASSETS_FOLDER = "static"

#: the files the page loads, by the name the package ships them under, with their media type
ASSETS: dict[str, str] = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon.png": "image/png",
}

#: a browser revalidates the files on each load: after an upgrade of the package, the page
#: never mixes a cached old script with a new stylesheet
ASSET_HEADERS = {"Cache-Control": "no-cache"}


def docs_path(prefix: str) -> str:
    return f"{prefix}/docs"


def oauth2_redirect_path(prefix: str) -> str:
    return f"{prefix}/docs/oauth2-redirect"


def asset_path(prefix: str, name: str) -> str:
    return f"{prefix}/docs/assets/{name}"


def asset_folder() -> Path:
    """Where the package keeps the files; an install without them fails at start, saying so."""
    folder = Path(str(files(ASSETS_PACKAGE).joinpath(ASSETS_FOLDER)))
    missing = [name for name in ASSETS if not (folder / name).is_file()]
    if missing:
        raise RuntimeError(
            f"the API documentation's files {', '.join(missing)} are missing from {folder}; "
            f"reinstall the {ASSETS_PACKAGE} package (pip install -c requirements.lock "
            f"--force-reinstall {ASSETS_PACKAGE.replace('_', '-')})"
        )
    return folder


def install_api_docs(app: FastAPI, prefix: str) -> None:
    """Serve Swagger UI at `<prefix>/docs` from local files (create the app with docs_url=None,
    so that FastAPI does not add its CDN-based page)."""
    folder = asset_folder()
    openapi_url = app.openapi_url
    if openapi_url is None:
        raise ValueError("the API documentation needs the app's openapi_url")

    async def swagger_ui(request: Request) -> HTMLResponse:
        # As FastAPI's own page does: behind a proxy that mounts the app below a root path, the
        # page's URLs carry that path.
        root = str(request.scope.get("root_path", "")).rstrip("/")
        page = get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=root + asset_path(prefix, "swagger-ui-bundle.js"),
            swagger_css_url=root + asset_path(prefix, "swagger-ui.css"),
            swagger_favicon_url=root + asset_path(prefix, "favicon.png"),
            oauth2_redirect_url=root + oauth2_redirect_path(prefix),
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters=app.swagger_ui_parameters,
        )
        return with_own_scripts(page, request)

    async def oauth2_redirect(request: Request) -> HTMLResponse:
        return with_own_scripts(get_swagger_ui_oauth2_redirect_html(), request)

    # Plain routes, as FastAPI adds its own docs page: GET and HEAD, no operation in the document.
    app.add_route(docs_path(prefix), swagger_ui, include_in_schema=False)
    app.add_route(oauth2_redirect_path(prefix), oauth2_redirect, include_in_schema=False)
    for name, media_type in ASSETS.items():
        app.add_route(
            asset_path(prefix, name),
            _file_endpoint(folder / name, media_type),
            include_in_schema=False,
        )


def with_own_scripts(page: HTMLResponse, request: Request) -> HTMLResponse:
    """`page` with the policy that allows exactly its inline scripts (it starts Swagger UI
    from one)."""
    html = bytes(page.body).decode("utf-8", "replace")
    page.headers["Content-Security-Policy"] = page_policy(
        request.headers.get("host"), inline_script_hashes(html)
    )
    return page


def _file_endpoint(path: Path, media_type: str) -> Callable[[Request], Awaitable[FileResponse]]:
    """One fixed file per route: no part of the request names a file, so nothing else in the
    package's folder (or outside it) can be asked for."""

    async def serve(request: Request) -> FileResponse:
        return FileResponse(path, media_type=media_type, headers=ASSET_HEADERS)

    return serve
