"""`visionyard login` and `visionyard logout`."""

from __future__ import annotations

import os
import socket
from typing import Annotated

import typer

from visionyard.client.commands.common import client_errors


def login(
    url: Annotated[
        str | None,
        typer.Option(
            help="Dashboard URL (default: VISIONYARD_URL, the stored one, or "
            "http://127.0.0.1:8000)."
        ),
    ] = None,
    username: Annotated[
        str | None, typer.Option("--username", "-u", help="Asked if not given.")
    ] = None,
    password: Annotated[
        str | None,
        typer.Option(
            help="Asked without echo if not given (prefer the prompt: a password "
            "on the command line lands in the shell history)."
        ),
    ] = None,
    token: Annotated[
        str | None, typer.Option(help="Store this API token instead of logging in with a password.")
    ] = None,
) -> None:
    """Log in to a dashboard and store its URL and an API token for the other commands.

    With a username and password, a new API token named after this machine is created from a
    login session; with --token, that token is checked and stored. The file is
    $XDG_CONFIG_HOME/visionyard/credentials.json (~/.config/...), readable only by you."""
    from visionyard.client import credentials
    from visionyard.client.api import Api, api_message, login_session
    from visionyard.client.errors import ClientError, exit_code_for_status
    from visionyard.client.output import message

    with client_errors():
        base = credentials.normalize_url(
            url
            or os.environ.get(credentials.URL_ENV)
            or credentials.read_file().get("url")
            or credentials.DEFAULT_URL
        )
        token_id: int | None = None
        if token:
            secret = token.strip()
        else:
            user = username or typer.prompt("username")
            secret_password = password or typer.prompt("password", hide_input=True)
            session = login_session(base, user, secret_password)
            try:
                created = session.post(
                    "/tokens",
                    json={"name": f"visionyard-cli@{socket.gethostname()}"[:128], "kind": "user"},
                )
                if not created.is_success:
                    raise ClientError(
                        f"logged in, but could not create an API token: {api_message(created)}",
                        exit_code_for_status(created.status_code),
                    )
                secret, token_id = created.json()["token"], int(created.json()["id"])
                session.post("/auth/logout")  # the token is what later commands use
            finally:
                session.close()
        with Api(credentials.Credentials(base, secret, "--token")) as api:
            me = api.get("/auth/me")
        path = credentials.save(base, secret, token_id)
        message(f"logged in to {base} as {me['username']}; credentials stored in {path}")
        if os.environ.get(credentials.TOKEN_ENV):
            message(
                f"note: {credentials.TOKEN_ENV} is set and overrides the stored token", err=True
            )


def logout() -> None:
    """Forget the stored credentials (and revoke the token `login` created for them)."""
    from visionyard.client import credentials
    from visionyard.client.api import Api
    from visionyard.client.errors import ClientError
    from visionyard.client.output import message

    with client_errors():
        stored = credentials.read_file()
        token_id = stored.get("token_id", "")
        if stored.get("token") and token_id.isdigit():
            creds = credentials.Credentials(
                credentials.normalize_url(stored.get("url") or credentials.DEFAULT_URL),
                stored["token"],
                str(credentials.credentials_path()),
            )
            try:
                with Api(creds) as api:
                    api.request("DELETE", f"/tokens/{int(token_id)}")
            except ClientError as exc:
                message(f"warning: the token was not revoked on the dashboard ({exc})", err=True)
        removed = credentials.forget()
        message(f"removed {removed}" if removed else "no stored credentials")
        if os.environ.get(credentials.TOKEN_ENV):
            message(f"note: {credentials.TOKEN_ENV} is still set in this environment", err=True)
