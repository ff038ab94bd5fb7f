"""Origin check for WebSockets (cross-site WebSocket hijacking, S11).

CORS does not apply to WebSockets: a page on any site can open one to the dashboard, and the
browser attaches the session cookie when it is not same-site-restricted. Browsers always send
`Origin` on a WebSocket handshake, so a browser connection is accepted only from the dashboard's
own origin (matching the Host header) or one listed in DASHBOARD_CORS_ORIGINS. Non-browser
clients (scripts, the CLI) send no Origin and authenticate with a token.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _host_port(netloc: str, scheme: str) -> tuple[str, int] | None:
    try:
        parts = urlsplit(f"//{netloc}")
        host, port = parts.hostname, parts.port
    except ValueError:  # a malformed port
        return None
    if not host:
        return None
    if port is None:
        port = _DEFAULT_PORTS.get(scheme)
        if port is None:
            return None
    return host.lower(), port


def _normalise(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def origin_allowed(origin: str, *, host: str | None, allowed: Iterable[str]) -> bool:
    """Whether a browser page at `origin` may open a WebSocket to the server reached as `host`
    (the Host header). `allowed` are the configured CORS origins ("https://ui.example.com")."""
    if _normalise(origin) in {_normalise(a) for a in allowed}:
        return True
    try:
        parts = urlsplit(origin.strip())
    except ValueError:
        return False
    # "null" (sandboxed frames, file://) and anything that is not a web origin is foreign.
    if parts.scheme not in ("http", "https") or not parts.netloc or not host:
        return False
    mine = _host_port(parts.netloc, parts.scheme)
    served = _host_port(host, parts.scheme)
    return mine is not None and mine == served
