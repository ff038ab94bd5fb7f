"""Schema migrations shipped in the package (Alembic) and the start-up schema check."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from visionyard.errors import VisionyardError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class SchemaOutOfDate(VisionyardError):
    """The database schema is older (or newer) than this version of Visionyard expects."""


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the package ships at least one migration"
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def ensure_schema(engine: Engine, *, auto_upgrade: bool) -> None:
    """SQLite (one machine, ours) upgrades itself; a shared PostgreSQL is upgraded on purpose."""
    current, head = current_revision(engine), head_revision()
    if current == head:
        return
    if auto_upgrade:
        upgrade(engine)
        return
    state = "is empty" if current is None else f"is at revision {current}"
    raise SchemaOutOfDate(
        f"the database schema {state}, this Visionyard needs {head}. Back up the database, then "
        "run `visionyard db upgrade` (with the same DASHBOARD_DB_URL) and start again."
    )
