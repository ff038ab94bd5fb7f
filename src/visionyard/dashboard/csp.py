"""The Content-Security-Policy of each kind of page the dashboard serves.

The web UI is a static export of Next.js: its pages carry inline bootstrap scripts (the React
server payload, the theme script), different on each page. Rather than allow every inline script
('unsafe-inline', which would let an injected one run too), each page's policy lists the SHA-256
of the inline scripts that page holds (`inline_script_hashes`), computed once per file. Styles
keep 'unsafe-inline': the components set `style` attributes, and an injected style cannot run code.

TensorBoard's pages (proxied under /tb/) are its own build, with inline scripts and styles, and
run in a frame of the dashboard: they get a looser policy of their own.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable

#: inline <script> elements (no src), with their type if any: group 1 the attributes, 2 the code
_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)
_SRC = re.compile(r"\bsrc\s*=", re.IGNORECASE)
_TYPE = re.compile(r"""\btype\s*=\s*["']?([^"'\s>]+)""", re.IGNORECASE)
#: the types a browser runs as script (others, like application/json, are data: no hash needed)
_SCRIPT_TYPES = {"", "text/javascript", "application/javascript", "module"}
#: what may stand in a Host header that is put into a policy; anything else is left out
_SAFE_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")

#: what every policy shares: no plugins, no <base> elsewhere, framed only by the dashboard
_COMMON = ("object-src 'none'", "base-uri 'self'", "frame-ancestors 'self'", "form-action 'self'")


def inline_script_hashes(html: str) -> tuple[str, ...]:
    """The CSP hash source ('sha256-...') of each inline script of `html`, in order, once each."""
    found: dict[str, None] = {}
    for attributes, code in _SCRIPT.findall(html):
        if _SRC.search(attributes):
            continue
        kind = _TYPE.search(attributes)
        if kind is not None and kind.group(1).lower() not in _SCRIPT_TYPES:
            continue
        digest = base64.b64encode(hashlib.sha256(code.encode("utf-8")).digest()).decode()
        found[f"'sha256-{digest}'"] = None
    return tuple(found)


def _socket_sources(host: str | None) -> str:
    """The live-events socket of this host: CSP 3 lets 'self' cover ws: and wss:, older
    browsers need them named."""
    if host is None or not _SAFE_HOST.match(host):
        return ""
    return f" ws://{host} wss://{host}"


def page_policy(host: str | None, script_hashes: Iterable[str] = ()) -> str:
    """The policy of the dashboard's own pages (the web UI, the API documentation) and the
    default for every other response: only its own files, and inline scripts by hash."""
    scripts = " ".join(("'self'", *script_hashes))
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src {scripts}",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            f"connect-src 'self'{_socket_sources(host)}",
            "worker-src 'self' blob:",
            "frame-src 'self'",
            *_COMMON,
        )
    )


#: TensorBoard's pages: its own inline scripts and styles (and its bundled libraries' eval), its
#: own data, nothing from elsewhere
TENSORBOARD_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        *_COMMON,
    )
)
