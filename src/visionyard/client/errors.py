"""Failures of the terminal client: one exception carrying the message to print and the exit
code (`visionyard.exitcodes`). Commands raise it; the command wrapper prints it without a
traceback."""

from __future__ import annotations

from visionyard.exitcodes import (
    EXIT_BAD_INPUT,
    EXIT_NOT_LOGGED_IN,
    EXIT_SERVER_ERROR,
)


class ClientError(Exception):
    def __init__(self, message: str, exit_code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def exit_code_for_status(status: int) -> int:
    """The exit code for a dashboard's error answer."""
    if status == 401:
        return EXIT_NOT_LOGGED_IN
    if status >= 500:
        return EXIT_SERVER_ERROR
    return EXIT_BAD_INPUT
