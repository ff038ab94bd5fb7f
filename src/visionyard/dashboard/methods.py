"""405 Method Not Allowed for every method a path does not have, with an `Allow` header that
lists all the methods it does have.

Starlette answers per route: a path served by two routes (GET and POST /projects) got an
`Allow` header naming only the first one's methods, and a request that a templated sibling
also matches (DELETE /datasets/browse against /datasets/{dataset_id}) reached that route and
failed its id validation with a 422. Here a request is matched the way OpenAPI matches it: to
the most concrete path template ("a concrete path is matched before its templated
counterparts"), and the methods allowed are those of every route with that template.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi.routing import iter_route_contexts
from starlette.responses import JSONResponse
from starlette.routing import Router, compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from visionyard.dashboard.errors import error_body


@dataclass(frozen=True)
class PathTemplate:
    path: str
    regex: re.Pattern[str]
    parameters: int
    methods: frozenset[str]


def path_templates(router: Router) -> list[PathTemplate]:
    """Every HTTP path template of the app with the union of its routes' methods, the most
    concrete first (fewest parameters; declaration order among equals), and templates with a
    `{name:path}` parameter (the web UI's catch-all for unknown API paths) last, as they match
    anything below them."""
    methods: dict[str, set[str]] = {}
    for context in iter_route_contexts(router.routes):
        if context.methods is None or context.path is None:
            continue  # a WebSocket route: no HTTP methods
        methods.setdefault(context.path, set()).update(context.methods)
    templates = []
    for path, allowed in methods.items():
        regex, _format, convertors = compile_path(path)
        templates.append(PathTemplate(path, regex, len(convertors), frozenset(allowed)))
    return sorted(templates, key=lambda t: (":path}" in t.path, t.parameters))


def allowed_methods(templates: list[PathTemplate], path: str) -> frozenset[str] | None:
    """The methods of the most concrete template matching `path`, or None when none does."""
    for template in templates:
        if template.regex.match(path):
            return template.methods
    return None


class MethodNotAllowedMiddleware:
    def __init__(self, app: ASGIApp, router: Router) -> None:
        self.app = app
        self.router = router
        self._templates: list[PathTemplate] | None = None

    def templates(self) -> list[PathTemplate]:
        # Built on the first request: every router is included by then.
        if self._templates is None:
            self._templates = path_templates(self.router)
        return self._templates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method = scope["method"]
            allowed = allowed_methods(self.templates(), scope["path"])
            if allowed is not None and method not in allowed:
                listed = ", ".join(sorted(allowed))
                response = JSONResponse(
                    error_body(
                        "method_not_allowed",
                        f"{method} is not allowed on {scope['path']}; it allows {listed}",
                    ),
                    status_code=405,
                    headers={"Allow": listed},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
