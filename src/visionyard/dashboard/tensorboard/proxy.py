"""Forwarding a browser's request to its view's TensorBoard, and nowhere else.

The upstream address is built here, never taken from the request: always
`http://127.0.0.1:<the instance's port>/tb/<key>/<path>`, so no Host header, absolute request
URI or path can send the dashboard to another host or port. Path segments "." and ".." (after
percent-decoding) and backslashes are refused rather than normalised. The browser's cookies
and credentials are not passed on; TensorBoard's own cookies are not passed back.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from visionyard.dashboard.tensorboard.instances import Instance
from visionyard.errors import InvalidRequestError, NotFoundError

#: request headers TensorBoard gets (everything else, cookies and credentials first, stays here)
FORWARDED_REQUEST_HEADERS = (
    "accept",
    "accept-encoding",
    "accept-language",
    "content-type",
    "if-modified-since",
    "if-none-match",
    "range",
)
#: response headers the browser gets back
RETURNED_RESPONSE_HEADERS = (
    "cache-control",
    "content-encoding",
    "content-length",
    "content-type",
    "etag",
    "expires",
    "last-modified",
    "location",
    "x-content-type-options",
)
MAX_BODY_BYTES = 1 << 20


def upstream_path(instance: Instance, path: str) -> str:
    """The path on the instance for the view-relative `path`; NotFoundError for a path that
    would step out of the view's prefix."""
    segments = path.split("/")
    if any(s in (".", "..") for s in segments) or "\\" in path or "\x00" in path:
        raise NotFoundError("no such TensorBoard page: '.' and '..' are not allowed in its path")
    return f"{instance.prefix}/{path}"


def _location(value: str, instance: Instance) -> str:
    """A redirect TensorBoard sends, made relative to the dashboard (never its own address)."""
    parts = urlsplit(value)
    if parts.netloc and parts.netloc != f"127.0.0.1:{instance.port}":
        return instance.prefix + "/"
    rebuilt = parts.path + (f"?{parts.query}" if parts.query else "")
    return rebuilt or instance.prefix + "/"


async def forward(
    client: httpx.AsyncClient, request: Request, instance: Instance, path: str
) -> Response:
    url = httpx.URL(
        scheme="http",
        host="127.0.0.1",
        port=instance.port,
        path=upstream_path(instance, path),
        query=request.url.query.encode("latin-1"),
    )
    body = await request.body() if request.method == "POST" else b""
    if len(body) > MAX_BODY_BYTES:
        raise InvalidRequestError(
            f"a TensorBoard request body may be {MAX_BODY_BYTES} bytes at most"
        )
    headers = {
        name: value
        for name in FORWARDED_REQUEST_HEADERS
        if (value := request.headers.get(name)) is not None
    }
    upstream = client.build_request(request.method, url, headers=headers, content=body or None)
    response = await client.send(upstream, stream=True)
    returned = {
        name: value
        for name in RETURNED_RESPONSE_HEADERS
        if (value := response.headers.get(name)) is not None
    }
    if "location" in returned:
        returned["location"] = _location(returned["location"], instance)
    return StreamingResponse(
        response.aiter_raw(),
        status_code=response.status_code,
        headers=returned,
        background=BackgroundTask(response.aclose),
    )
