"""Whether the dashboard can reach its database (the health route's probe)."""

from __future__ import annotations

from sqlalchemy import text

from visionyard.dashboard.state import AppState


def database_backend(state: AppState) -> str:
    """The database's backend name ("sqlite", "postgresql") after a trivial query, so an
    unreachable database fails the health check instead of answering "ok"."""
    with state.read_sessions() as session:
        session.execute(text("SELECT 1"))
    return state.engine.dialect.name
