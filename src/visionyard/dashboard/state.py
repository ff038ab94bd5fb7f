"""Process-wide objects the app creates at start-up (engine, session factories, secret box)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from visionyard.secretbox import SecretBox
from visionyard.settings import Settings


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    read_sessions: sessionmaker[Session]
    secrets: SecretBox
    #: background services (event bus, reaper, TensorBoard manager...) keyed by name
    services: dict[str, Any] = field(default_factory=dict)
