"""What every client command shares: the --json option and turning failures into a message
and an exit code, never a traceback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from visionyard.client.errors import ClientError
from visionyard.errors import VisionyardError
from visionyard.exitcodes import EXIT_SERVER_ERROR

if TYPE_CHECKING:
    from visionyard.client.api import Api

#: set to show a traceback when the client fails unexpectedly
DEBUG_ENV = "VISIONYARD_DEBUG"

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print the API's JSON answer instead of a table.")
]


@contextmanager
def client_errors() -> Iterator[None]:
    """Print a ClientError (or a local VisionyardError, e.g. a bad config file) as `error: ...`
    on stderr and exit with its code."""
    try:
        yield
    except ClientError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(exc.exit_code) from None
    except VisionyardError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        typer.secho("interrupted", err=True)
        raise typer.Exit(130) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:
        # A bug of the client or something unforeseen: one line, unless asked for the details.
        if os.environ.get(DEBUG_ENV):
            raise
        typer.secho(
            f"error: the client failed unexpectedly ({type(exc).__name__}: {exc}); set "
            f"{DEBUG_ENV}=1 to see where",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(EXIT_SERVER_ERROR) from None


def connect() -> Api:
    """The API of the configured dashboard, with its token (ClientError when there is none)."""
    from visionyard.client.api import Api
    from visionyard.client.credentials import load

    return Api(load())
