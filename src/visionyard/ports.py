"""Is the dashboard's port free? Checked before anything is printed or started, so a taken port
ends with one clear message and exit code 2 instead of a "Visionyard is up" banner followed by
uvicorn's `[Errno 98]` and its own exit code 3 (which the README reserves for "stopped on
request")."""

from __future__ import annotations

import errno
import socket

from visionyard.errors import VisionyardError

PORT_HINT = 'pick another with --port N (for the demo: make demo DEMO_ARGS="--port N")'


class PortUnavailableError(VisionyardError):
    """The dashboard cannot listen on the configured host and port."""


def ensure_port_free(host: str, port: int) -> None:
    """Bind (and release) a socket the way uvicorn will. SO_REUSEADDR as uvicorn sets it, so a
    port left in TIME_WAIT by a platform that just stopped is not reported as taken, while one
    another process listens on still is. Another program can take the port between this check
    and uvicorn's bind; that rare case still ends in uvicorn's own error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortUnavailableError(
                    f"port {port} on {host} is already in use (another Visionyard or another "
                    f"program); {PORT_HINT}"
                ) from None
            raise PortUnavailableError(
                f"cannot listen on {host}:{port} ({exc.strerror or exc}); {PORT_HINT}, or --host"
            ) from None
