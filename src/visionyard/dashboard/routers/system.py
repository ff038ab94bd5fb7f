"""Health and version: the only routes that need no authentication."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from visionyard import __version__
from visionyard.dashboard.deps import StateDep

router = APIRouter(tags=["system"])

#: (method, path) pairs reachable without credentials; the auth test enumerates every other route
PUBLIC_ROUTES = frozenset(
    {
        ("GET", "/api/v1/health"),
        ("POST", "/api/v1/auth/login"),
        ("GET", "/api/v1/openapi.json"),
        ("GET", "/api/v1/docs"),
        ("GET", "/api/v1/docs/oauth2-redirect"),
        ("GET", "/api/v1/redoc"),
    }
)


class Health(BaseModel):
    status: str
    version: str
    database: str


@router.get("/health", operation_id="health", response_model=Health)
def health(state: StateDep) -> Health:
    with state.read_sessions() as session:
        session.execute(text("SELECT 1"))
    return Health(status="ok", version=__version__, database=state.engine.dialect.name)
