"""Migrations: head applies on both backends and matches the ORM models exactly."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from visionyard.db.engine import make_engine
from visionyard.db.migrate import SchemaOutOfDate, current_revision, ensure_schema, head_revision
from visionyard.db.models import Base


def test_head_applies_and_matches_models(db_url: str) -> None:
    engine = make_engine(db_url)
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations disagree: {diff}"


def test_out_of_date_schema_gets_an_actionable_message(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(SchemaOutOfDate, match="visionyard db upgrade"):
        ensure_schema(engine, auto_upgrade=False)
    ensure_schema(engine, auto_upgrade=True)
    assert current_revision(engine) == head_revision()
    engine.dispose()
