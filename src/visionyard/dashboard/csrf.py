"""Cross-site request forgery: changes made with the session cookie must prove they come from
the dashboard's own pages.

The browser attaches the session cookie to requests that other sites' pages make (a form that
posts to the dashboard, a `fetch` in no-cors mode). SameSite=Lax stops those of other sites,
not those of "same-site" pages: another port of the same host, another subdomain of the same
domain (a notebook server, someone's page on a shared machine). So, a double submit bound to the
session: at login the dashboard sets a random CSRF secret as a cookie that the pages can read
(`vy_csrf`) and stores its SHA-256 with the session. Every POST, PUT, PATCH or DELETE that
authenticates with the session cookie must send that secret back in the `X-CSRF-Token` header.
A page of another origin cannot make the browser send a custom header to the dashboard (the
browser would ask first, CORS, and the dashboard admits only DASHBOARD_CORS_ORIGINS), and
binding the secret to the session means a cookie planted by a neighbour does not pass.
Requests with an API token (`Authorization: Bearer`) are exempt: a browser never adds that
header by itself.

Two more holes, closed here too: the login takes only a JSON body (a cross-site form could
otherwise log a victim into the attacker's account), and TensorBoard's own pages, which post
read-only queries without the header, must come from the dashboard's own origin.
"""

from __future__ import annotations

from fastapi import Request

from visionyard.dashboard.events.origin import origin_allowed
from visionyard.dashboard.security import same_secret_hash
from visionyard.dashboard.services.auth import Principal
from visionyard.errors import CsrfError, UnsupportedMediaTypeError

CSRF_COOKIE = "vy_csrf"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: TensorBoard's pages (proxied): its scripts post without the header, so their origin decides
TENSORBOARD_PREFIX = "/tb/"


def require_csrf_token(request: Request, principal: Principal) -> None:
    """Refuse (CsrfError, 403 `csrf`) a change made with the session cookie that does not send
    the session's CSRF secret in X-CSRF-Token."""
    if principal.via != "session" or request.method not in UNSAFE_METHODS:
        return
    if request.url.path.startswith(TENSORBOARD_PREFIX):
        _require_own_origin(request)
        return
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        raise CsrfError(
            f"this change was sent with the session cookie but without the {CSRF_HEADER} "
            f"header: send the value of the {CSRF_COOKIE} cookie in it (the web UI does), or "
            "authenticate with an API token (Authorization: Bearer) instead"
        )
    if principal.csrf_hash is None:
        raise CsrfError(
            "this session began before the dashboard protected sessions against cross-site "
            "requests and has no CSRF token; log in again"
        )
    if not same_secret_hash(sent, principal.csrf_hash):
        raise CsrfError(
            f"the {CSRF_HEADER} header does not match this session's CSRF token (the "
            f"{CSRF_COOKIE} cookie set at login): reload the page, or log in again"
        )


def _require_own_origin(request: Request) -> None:
    # Browsers send Origin with every POST; a page of the dashboard's own origin is the
    # TensorBoard the UI embeds, anything else (or nothing) is not.
    origin = request.headers.get("origin")
    if origin is None or not origin_allowed(origin, host=request.headers.get("host"), allowed=()):
        raise CsrfError(
            "TensorBoard accepts changes made with the session cookie only from the dashboard's "
            "own pages; open it from the dashboard"
        )


def require_json_body(request: Request) -> None:
    """Refuse (415) a body that is not declared JSON: HTML forms can send only form encodings
    and text/plain across sites, and a body with no type at all is what a cross-site `fetch`
    of a Blob sends."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaTypeError(
            "send the login as JSON, with the header Content-Type: application/json: "
            '{"username": "...", "password": "..."}'
        )
