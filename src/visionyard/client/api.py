"""The dashboard's REST API over httpx, and what its failures mean for a person at a terminal.

Every answer that is not a success becomes a `ClientError` with the message to print:

- the connection is refused or times out: the URL that was tried and how to start a dashboard;
- 401: the credentials are missing or no longer valid: `visionyard login` or VISIONYARD_TOKEN;
- any other error: the API's own message (`{"error": {"message": ...}}`), which says what is
  wrong and what to do, with its field errors.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import httpx

from visionyard.client.credentials import TOKEN_ENV, URL_ENV, Credentials
from visionyard.client.errors import ClientError, exit_code_for_status
from visionyard.exitcodes import EXIT_NOT_LOGGED_IN, EXIT_SERVER_ERROR, EXIT_UNREACHABLE

API_PREFIX = "/api/v1"
#: seconds to wait for an answer; uploads get no read limit (the server reads as fast as it can)
TIMEOUT = httpx.Timeout(30.0, connect=10.0)
#: the largest page the API serves
PAGE_LIMIT = 200


def _unreachable(url: str, exc: Exception) -> ClientError:
    return ClientError(
        f"cannot reach the dashboard at {url} ({type(exc).__name__}: {exc or 'no answer'}). "
        "Start it with `visionyard serve` (or `visionyard up`) on that machine, or point the "
        f"client elsewhere with `visionyard login --url URL` or {URL_ENV}.",
        EXIT_UNREACHABLE,
    )


def not_logged_in(url: str, detail: str | None = None) -> ClientError:
    why = f" ({detail})" if detail else ""
    return ClientError(
        f"the dashboard at {url} did not accept the credentials{why}. Run `visionyard login` "
        f"(add --url {url} for another dashboard) or set {TOKEN_ENV} to an API token.",
        EXIT_NOT_LOGGED_IN,
    )


def api_message(response: httpx.Response) -> str:
    """The API's error message (with its field errors), or the raw status."""
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        message: str = error["message"]
        fields = error.get("fields") or []
        extra = [
            f"  - {f.get('field')}: {f.get('message')}"
            for f in fields
            if isinstance(f, dict) and f"{f.get('field')}: {f.get('message')}" not in message
        ]
        return "\n".join([message, *extra])
    text = response.text.strip()[:500]
    return f"HTTP {response.status_code} {response.reason_phrase}" + (f": {text}" if text else "")


def _no_such_route(response: httpx.Response) -> bool:
    """True for the framework's own 404/405 (no such route), not a resource the API looked up
    and did not find (its messages say which, and what to do)."""
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        return False
    return error.get("message") in ("Not Found", "Method Not Allowed")


class Api:
    """One dashboard, one token. Use as a context manager (it holds a connection pool)."""

    def __init__(self, credentials: Credentials, *, require_token: bool = True) -> None:
        if require_token and not credentials.token:
            raise ClientError(
                f"not logged in to {credentials.url}: run `visionyard login` (add --url URL for "
                f"another dashboard) or set {TOKEN_ENV} to an API token",
                EXIT_NOT_LOGGED_IN,
            )
        self.url = credentials.url
        headers = {"Accept": "application/json"}
        if credentials.token:
            headers["Authorization"] = f"Bearer {credentials.token}"
        self._http = httpx.Client(base_url=self.url + API_PREFIX, headers=headers, timeout=TIMEOUT)

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise _unreachable(self.url, exc) from None
        if response.is_success:
            return response
        if response.status_code == 401:
            raise not_logged_in(self.url, api_message(response))
        if response.status_code in (404, 405) and _no_such_route(response):
            raise ClientError(
                f"the dashboard at {self.url} does not offer {method} {API_PREFIX}{path}; it is "
                "older than this client: upgrade it (or use a client of its version)"
            )
        code = exit_code_for_status(response.status_code)
        prefix = "the dashboard failed: " if code == EXIT_SERVER_ERROR else ""
        raise ClientError(prefix + api_message(response), code)

    def get(self, path: str, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v is not None}
        return self.request("GET", path, params=clean).json()

    def post(self, path: str, body: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
        response = self.request("POST", path, json=body, **kwargs)
        return response.json() if response.content else None

    def put(self, path: str, body: Mapping[str, Any]) -> Any:
        return self.request("PUT", path, json=body).json()

    def upload(
        self, path: str, chunks: Iterable[bytes], size: int, params: Mapping[str, Any]
    ) -> Any:
        """POST a byte stream of known `size` (no read timeout: the server unpacks it first)."""
        response = self.request(
            "POST",
            path,
            content=iter(chunks),
            params={k: v for k, v in params.items() if v is not None},
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
            timeout=httpx.Timeout(30.0, connect=10.0, read=None, write=None),
        )
        return response.json()

    def pages(self, path: str, *, limit: int | None = None, **params: Any) -> Iterator[Any]:
        """The items of a paginated list, page by page, up to `limit` items (all if None)."""
        offset = 0
        given = 0
        while True:
            size = PAGE_LIMIT if limit is None else min(PAGE_LIMIT, limit - given)
            if size <= 0:
                return
            page = self.get(path, limit=size, offset=offset, **params)
            items = page.get("items", [])
            for item in items:
                yield item
                given += 1
            offset += len(items)
            if not items or offset >= int(page.get("total", 0)):
                return


#: the dashboard's readable CSRF cookie and the header it is sent back in (the client must not
#: import the dashboard: visionyard.dashboard.csrf names them too)
CSRF_COOKIE = "vy_csrf"
CSRF_HEADER = "X-CSRF-Token"


def login_session(url: str, username: str, password: str) -> httpx.Client:
    """An httpx client holding a fresh login session (the dashboard's cookie)."""
    client = httpx.Client(base_url=url + API_PREFIX, timeout=TIMEOUT)
    try:
        response = client.post("/auth/login", json={"username": username, "password": password})
    except httpx.TransportError as exc:
        client.close()
        raise _unreachable(url, exc) from None
    if response.status_code == 401:
        client.close()
        raise ClientError(
            f"the dashboard at {url} refused the login: {api_message(response)}; check the "
            "username and password",
            EXIT_NOT_LOGGED_IN,
        )
    if not response.is_success:
        client.close()
        raise ClientError(api_message(response), exit_code_for_status(response.status_code))
    # Changes made with the session cookie must carry the session's CSRF token.
    csrf_token = response.cookies.get(CSRF_COOKIE)
    if csrf_token:
        client.headers[CSRF_HEADER] = csrf_token
    return client
