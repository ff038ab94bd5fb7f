"""Health and version: the only routes that need no authentication."""

from __future__ import annotations

from fastapi import APIRouter

from visionyard import __version__
from visionyard.dashboard.access import PublicRoute
from visionyard.dashboard.deps import StateDep
from visionyard.dashboard.schemas.system import Health
from visionyard.dashboard.services.health import database_backend

router = APIRouter(tags=["system"])


@router.get("/health", operation_id="health", response_model=Health, dependencies=[PublicRoute])
def health(state: StateDep) -> Health:
    return Health(status="ok", version=__version__, database=database_backend(state))
