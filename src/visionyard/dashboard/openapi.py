"""The error responses of every operation in the OpenAPI document, declared in one place.

The web UI generates its typed client from the document, so each operation must declare every
status it can answer, with the one error body (`ErrorResponse`). Most of them follow from the
route itself and are derived here, so a new route gets them without anyone remembering:

- 401 and 403 when it depends on the caller (every access decision but `PublicRoute`: a role
  too low, a read-only or agent token, a non-admin);
- 404 when its path names a resource by id;
- 422 when it takes any input (path, query, header or body) that validation can refuse;
- 400 when it takes a JSON body (one that is not JSON at all cannot be parsed).

Operations that need a user also name the credentials they accept (`security`).

The rest are decided by the services an operation calls (a conflict, a run in the wrong state,
the queue quota, a path outside its root, a filter naming a missing project) and are listed in
`RAISED_BY_SERVICES`, next to nothing else. The live-server schemathesis run in the test suite
fails on any status an operation returns without declaring it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from visionyard.dashboard.csrf import UNSAFE_METHODS
from visionyard.dashboard.deps import SESSION_COOKIE, get_principal
from visionyard.dashboard.errors import ErrorResponse

REF = "#/components/schemas/"

#: how a user authenticates: an API token, or the session cookie that logging in sets
SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    "bearerToken": {"type": "http", "scheme": "bearer", "description": "An API token"},
    "sessionCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE,
        "description": "Set by POST /auth/login",
    },
}

#: what each error status means in this API, with the `error.code` values it carries
DESCRIPTIONS: dict[int, str] = {
    400: "The body is not JSON (`http_error`), or a path is not a plain relative path or "
    "leads outside its root (`path_outside_root`), or an upload is not a tar of plain files "
    "(`bad_request`)",
    401: "No valid credentials: log in, or send `Authorization: Bearer <API token>` "
    "(`unauthenticated`)",
    403: "The caller may not do this: it needs a higher project role or an admin, or the "
    "token is read-only or an agent's (`forbidden`); or a change sent with the session cookie "
    "lacks the session's CSRF token: send the `vy_csrf` cookie's value in the `X-CSRF-Token` "
    "header (`csrf`)",
    404: "A resource named by the request does not exist (`not_found`)",
    409: "The request conflicts with the current state: a name already taken, a run in the "
    "wrong state, a concurrent change (`conflict`, `invalid_state`)",
    422: "The request is invalid: its parameters or body do not match this schema "
    "(`invalid_request`, naming the fields), or its content is refused on inspection "
    "(`invalid_config`, `invalid_dataset`, `invalid_model`, `invalid_run_folder`, "
    "`invalid_checkpoint`, `export_failed`)",
    413: "The upload is larger than the server accepts, or holds too many files (`too_large`)",
    415: "The body is not of the media type the operation takes; the login takes only "
    "`application/json` (`unsupported_media_type`)",
    429: "Too many queued runs for this user, or another export being built; wait or cancel "
    "some. Or too many failed logins for the username or from the address: the `Retry-After` "
    "header says in how many seconds to try again (`rate_limited`)",
}

#: (method, path) -> statuses its services raise beyond those derived from the route
RAISED_BY_SERVICES: dict[tuple[str, str], frozenset[int]] = {
    ("POST", "/api/v1/auth/login"): frozenset({401, 415, 429}),
    ("POST", "/api/v1/users"): frozenset({409}),
    ("PATCH", "/api/v1/users/{user_id}"): frozenset({409}),
    ("POST", "/api/v1/projects"): frozenset({409}),
    ("PUT", "/api/v1/projects/{project_id}/members"): frozenset({409}),
    ("DELETE", "/api/v1/projects/{project_id}/members/{user_id}"): frozenset({409}),
    ("PATCH", "/api/v1/projects/{project_id}"): frozenset({409}),
    ("DELETE", "/api/v1/projects/{project_id}"): frozenset({409}),
    ("POST", "/api/v1/projects/{project_id}/groups"): frozenset({409}),
    ("PATCH", "/api/v1/groups/{group_id}"): frozenset({409}),
    ("GET", "/api/v1/datasets/browse"): frozenset({400, 404}),
    ("POST", "/api/v1/datasets"): frozenset({400, 409}),
    ("POST", "/api/v1/datasets/{dataset_id}/analyze"): frozenset({400}),
    ("GET", "/api/v1/datasets/{dataset_id}/samples"): frozenset({400}),
    ("GET", "/api/v1/datasets/{dataset_id}/thumbnail"): frozenset({400}),
    ("POST", "/api/v1/projects/{project_id}/models"): frozenset({400, 409}),
    ("PATCH", "/api/v1/models/{model_id}"): frozenset({400, 409}),
    ("POST", "/api/v1/projects/{project_id}/configs"): frozenset({400, 409}),
    ("PUT", "/api/v1/configs/{config_id}"): frozenset({400, 409}),
    ("POST", "/api/v1/configs/{config_id}/clone"): frozenset({409}),
    ("POST", "/api/v1/configs/{config_id}/runs"): frozenset({429}),
    ("POST", "/api/v1/runs/{run_id}/cancel"): frozenset({409}),
    ("POST", "/api/v1/runs/{run_id}/requeue"): frozenset({409, 429}),
    ("POST", "/api/v1/runs/{run_id}/resume"): frozenset({409, 429}),
    ("DELETE", "/api/v1/runs/{run_id}"): frozenset({409}),
    ("GET", "/api/v1/runs/{run_id}/results"): frozenset({400, 409}),
    ("GET", "/api/v1/runs/{run_id}/files"): frozenset({400, 409}),
    ("GET", "/api/v1/options"): frozenset({404}),
    ("POST", "/api/v1/projects/{project_id}/runs/import"): frozenset({400, 409, 413}),
    ("GET", "/api/v1/runs/compare"): frozenset({404}),
    ("POST", "/api/v1/runs/{run_id}/predict"): frozenset({400, 409, 413}),
    ("POST", "/api/v1/runs/{run_id}/reports/{checkpoint}/upload"): frozenset({409, 413, 429}),
    ("POST", "/api/v1/runs/{run_id}/export"): frozenset({409, 429}),
    ("GET", "/api/v1/runs/{run_id}/export/{name}"): frozenset({400, 409}),
}


def _dependencies(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _dependencies(sub)


def _takes_input(dependant: Dependant) -> bool:
    return any(
        d.path_params or d.query_params or d.header_params or d.cookie_params or d.body_params
        for d in (dependant, *_dependencies(dependant))
    )


def _takes_body(dependant: Dependant) -> bool:
    return any(d.body_params for d in (dependant, *_dependencies(dependant)))


def authenticated(dependant: Dependant) -> bool:
    return any(sub.call is get_principal for sub in _dependencies(dependant))


def derived_statuses(dependant: Dependant) -> set[int]:
    """The error statuses that follow from a route's own dependencies and parameters."""
    calls = {sub.call for sub in _dependencies(dependant)}
    statuses: set[int] = set()
    if get_principal in calls:
        statuses.update((401, 403))
    if dependant.path_params:
        statuses.add(404)
    if _takes_input(dependant):
        statuses.add(422)
    if _takes_body(dependant):
        statuses.add(400)
    return statuses


def documented_routes(app: FastAPI) -> Iterator[tuple[str, str, Dependant]]:
    """(method, path, dependant) of every operation in the document."""
    for context in iter_route_contexts(app.routes):
        path = context.path_format
        if not isinstance(context.original_route, APIRoute) or not context.include_in_schema:
            continue
        assert path is not None  # every APIRoute has one
        for method in sorted(context.methods or ()):
            yield method, path, context.dependant


def error_statuses(method: str, path: str, dependant: Dependant) -> set[int]:
    statuses = derived_statuses(dependant) | RAISED_BY_SERVICES.get((method, path), frozenset())
    if method in UNSAFE_METHODS and authenticated(dependant):
        statuses.add(403)  # a change through the session cookie without its CSRF token
    return statuses


def _add_components(document: dict[str, Any]) -> None:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    error_schema = ErrorResponse.model_json_schema(ref_template=f"{REF}{{model}}")
    schemas.update(error_schema.pop("$defs", {}))
    schemas[ErrorResponse.__name__] = error_schema
    # FastAPI's own 422 body, which this API never sends (its 422s are ErrorResponse too).
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    document["components"]["securitySchemes"] = SECURITY_SCHEMES


def add_error_responses(app: FastAPI, document: dict[str, Any]) -> None:
    """Declare, on every operation of `document`, the error statuses it can answer (replacing
    FastAPI's default 422, whose body this API does not use) and, on those that need a user,
    the credentials they accept."""
    _add_components(document)
    error_content = {"application/json": {"schema": {"$ref": f"{REF}{ErrorResponse.__name__}"}}}
    for method, path, dependant in documented_routes(app):
        operation = document["paths"][path][method.lower()]
        responses = operation.setdefault("responses", {})
        for status in sorted(error_statuses(method, path, dependant)):
            responses[str(status)] = {
                "description": DESCRIPTIONS[status],
                "content": error_content,
            }
        if authenticated(dependant):
            operation["security"] = [{name: []} for name in SECURITY_SCHEMES]


def install_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` (and so /openapi.json) return the document with its error
    responses declared; it is built once, on first use, after every router is included."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            add_error_responses(app, FastAPI.openapi(app))  # builds and caches it
        assert app.openapi_schema is not None
        return app.openapi_schema

    # FastAPI's documented way to customise the document: replace the app's openapi method.
    app.openapi = openapi  # type: ignore[method-assign]
