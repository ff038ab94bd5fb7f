"""The Host-header allowlist (`VISIONYARD_ALLOWED_HOSTS`), answering in the API's error shape.

Starlette's TrustedHostMiddleware answers a refused Host with a bare text "Invalid host header",
which leaves someone who started `visionyard serve --host 0.0.0.0` and browsed to the machine's
IP with no idea what to change. This subclass keeps its matching (exact names, "*.domain"
wildcards, the www redirect) and replaces only that answer: a JSON 400 naming the refused host
and the setting that admits it.
"""

from __future__ import annotations

# The parent class parses the header with this helper; using the same one keeps "which hosts
# are refused" identical to Starlette's (tests/dashboard/test_security.py pins the answers).
from starlette._utils import parse_host_header
from starlette.datastructures import Headers
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from visionyard.dashboard.errors import error_body
from visionyard.text import printable

SETTING = "VISIONYARD_ALLOWED_HOSTS"
#: a Host header is client input: show at most this much of it
SHOWN_CHARS = 100


def refusal_message(host: str | None) -> str:
    if host is None:
        return f"the request has no valid Host header; {SETTING} lists the names this serves"
    shown = printable(host[:SHOWN_CHARS])
    return f"host {shown!r} is not allowed; add it to {SETTING} (comma-separated) and restart"


class HostAllowlistMiddleware(TrustedHostMiddleware):
    def _admits(self, host: str) -> bool:
        """Starlette's rule: an exact name, a "*.domain" wildcard, or a www redirect to one."""
        return any(
            host == pattern
            or (pattern.startswith("*") and host.endswith(pattern[1:]))
            or "www." + host == pattern
            for pattern in self.allowed_hosts
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.allow_any and scope["type"] in ("http", "websocket"):
            parsed = parse_host_header(Headers(scope=scope).get("host"))
            host = parsed.host.lower() if parsed is not None else None
            if host is None or not self._admits(host):
                body = error_body("invalid_host", refusal_message(host))
                await JSONResponse(body, status_code=400)(scope, receive, send)
                return
        await super().__call__(scope, receive, send)
