"""The two cookies of a login session: the session secret and its CSRF secret.

`vy_session` is HttpOnly: no script, the dashboard's own included, can read it. `vy_csrf` is
readable on purpose: the web UI copies it into the X-CSRF-Token header of each change
(`visionyard.dashboard.csrf`). Both are SameSite=Lax, Secure when `secure_cookies` is on, for
the whole site (the API and TensorBoard's pages), and last as long as the session at most.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import Response

from visionyard.dashboard.csrf import CSRF_COOKIE
from visionyard.dashboard.deps import SESSION_COOKIE
from visionyard.dashboard.services.login_sessions import NewSession
from visionyard.settings import Settings


def set_session_cookies(
    response: Response, started: NewSession, settings: Settings, lifetime: timedelta
) -> None:
    max_age = int(lifetime.total_seconds())
    for name, value, http_only in (
        (SESSION_COOKIE, started.secret, True),
        (CSRF_COOKIE, started.csrf_secret, False),
    ):
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            httponly=http_only,
            samesite="lax",
            secure=settings.secure_cookies,
            path="/",
        )


def clear_session_cookies(response: Response, settings: Settings) -> None:
    for name, http_only in ((SESSION_COOKIE, True), (CSRF_COOKIE, False)):
        response.delete_cookie(
            name, path="/", httponly=http_only, samesite="lax", secure=settings.secure_cookies
        )
