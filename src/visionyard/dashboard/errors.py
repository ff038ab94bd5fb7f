"""The one place where exceptions become HTTP responses.

Every error body has the same shape: {"error": {"code", "message", "fields"?}}. Messages say what
is wrong and what to do. Unexpected exceptions become a logged 500 without internals in the body;
the test suite fuzzes every route to keep that path unreachable.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from visionyard.errors import (
    AuthenticationError,
    CheckpointError,
    ConfigError,
    ConflictError,
    CsrfError,
    DatasetError,
    ExportError,
    InvalidRequestError,
    ModelLoadError,
    NotFoundError,
    PathOutsideRootError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitedError,
    RunFolderError,
    RunStateError,
    ServiceUnavailableError,
    UnsupportedMediaTypeError,
    VisionyardError,
)

log = logging.getLogger("visionyard.dashboard")

STATUS_BY_ERROR: list[tuple[type[VisionyardError], int, str]] = [
    (AuthenticationError, 401, "unauthenticated"),
    (CsrfError, 403, "csrf"),  # before its base class
    (PermissionDeniedError, 403, "forbidden"),
    (NotFoundError, 404, "not_found"),
    (PathOutsideRootError, 400, "path_outside_root"),
    (ConflictError, 409, "conflict"),
    (RunStateError, 409, "invalid_state"),
    (PayloadTooLargeError, 413, "too_large"),
    (UnsupportedMediaTypeError, 415, "unsupported_media_type"),
    (RateLimitedError, 429, "rate_limited"),
    (ServiceUnavailableError, 503, "unavailable"),
    (ConfigError, 422, "invalid_config"),
    (DatasetError, 422, "invalid_dataset"),
    (ModelLoadError, 422, "invalid_model"),
    (CheckpointError, 422, "invalid_checkpoint"),
    (ExportError, 422, "export_failed"),
    (RunFolderError, 422, "invalid_run_folder"),
    (InvalidRequestError, 422, "invalid_request"),
    (VisionyardError, 400, "bad_request"),
]


class FieldError(BaseModel):
    field: str = Field(description="Where: a body field ('tags.2'), or 'query.x' / 'path.x'")
    message: str


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable, machine-readable: 'not_found', 'conflict', ...")
    message: str = Field(description="What is wrong and what to do, for people")
    fields: list[FieldError] = Field(
        default_factory=list, description="The offending fields (422s); absent when none"
    )


class ErrorResponse(BaseModel):
    """The body of every error response (4xx and 5xx)."""

    error: ErrorDetail


def error_body(
    code: str, message: str, fields: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return {"error": body}


def status_for(exc: VisionyardError) -> tuple[int, str]:
    for cls, status, code in STATUS_BY_ERROR:
        if isinstance(exc, cls):
            return status, code
    return 400, "bad_request"


def error_headers(exc: VisionyardError) -> dict[str, str] | None:
    """The headers an error answer carries: how to authenticate (401), when to retry (429)."""
    if isinstance(exc, AuthenticationError):
        return {"WWW-Authenticate": "Bearer"}
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(exc, RateLimitedError) and retry_after is not None:
        return {"Retry-After": str(max(1, retry_after))}
    return None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(VisionyardError)
    async def _visionyard(_request: Request, exc: VisionyardError) -> JSONResponse:
        status, code = status_for(exc)
        fields = getattr(exc, "fields", None)
        return JSONResponse(
            error_body(code, str(exc), fields), status_code=status, headers=error_headers(exc)
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {
                "field": ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "<body>",
                "message": str(err.get("msg", "invalid")),
            }
            for err in exc.errors()
        ]
        summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
        return JSONResponse(
            error_body("invalid_request", f"invalid request: {summary}", fields), status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthenticated"}.get(
            exc.status_code, "http_error"
        )
        return JSONResponse(
            error_body(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            error_body("internal_error", "internal error; the server log has the details"),
            status_code=500,
        )
