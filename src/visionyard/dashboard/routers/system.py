"""Health and version: the only routes that need no authentication."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from visionyard import __version__
from visionyard.dashboard.deps import StateDep
from visionyard.dashboard.schemas.system import Health

router = APIRouter(tags=["system"])


@router.get("/health", operation_id="health", response_model=Health)
def health(state: StateDep) -> Health:
    with state.read_sessions() as session:
        session.execute(text("SELECT 1"))
    return Health(status="ok", version=__version__, database=state.engine.dialect.name)
