"""Security headers on every HTTP response, as the outermost middleware.

- `X-Content-Type-Options: nosniff`: a browser never runs an upload or a JSON body as a script or
  page because its content looks like one;
- `Referrer-Policy: same-origin`: page addresses (run ids, filters) never leave for other sites;
- `X-Frame-Options: SAMEORIGIN` and CSP `frame-ancestors 'self'`: only the dashboard frames its
  pages (it frames TensorBoard's), so no other site can overlay them (clickjacking);
- `Content-Security-Policy`: what a route or the web UI's files set for their page
  (`visionyard.dashboard.csp`), else the dashboard's default page policy;
- `Cache-Control: no-store` on the API's JSON answers, which carry private data: no shared or
  disk cache keeps them. Answers that chose their own caching (thumbnails) keep it.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from visionyard.dashboard.csp import page_policy

FIXED = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "SAMEORIGIN",
}


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, api_prefix: str) -> None:
        self.app = app
        self.api_prefix = api_prefix.rstrip("/") + "/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_api = str(scope.get("path", "")).startswith(self.api_prefix)
        host = Headers(scope=scope).get("host")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in FIXED.items():
                    headers[name] = value
                if "content-security-policy" not in headers:
                    headers["Content-Security-Policy"] = page_policy(host)
                media_type = headers.get("content-type", "").split(";", 1)[0].strip()
                if is_api and media_type == "application/json" and "cache-control" not in headers:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)
