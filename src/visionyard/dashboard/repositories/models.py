"""SQL for the model registry (per project)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from visionyard.dashboard.repositories import project_named_page
from visionyard.db.models import ModelEntry

SORT_COLUMNS = {"name": ModelEntry.name, "created_at": ModelEntry.created_at}


def get(session: Session, model_id: int) -> ModelEntry | None:
    return session.get(ModelEntry, model_id)


def get_by_name(session: Session, project_id: int, name: str) -> ModelEntry | None:
    query = select(ModelEntry).where(ModelEntry.project_id == project_id, ModelEntry.name == name)
    return session.scalar(query)


def add(
    session: Session,
    *,
    project_id: int,
    name: str,
    source: str,
    kind: str,
    token_encrypted: bytes | None,
) -> ModelEntry:
    entry = ModelEntry(
        project_id=project_id,
        name=name,
        source=source,
        kind=kind,
        token_encrypted=token_encrypted,
    )
    session.add(entry)
    session.flush()
    return entry


def list_page(
    session: Session,
    *,
    project_id: int,
    q: str | None,
    sort: str,
    descending: bool,
    limit: int,
    offset: int,
) -> tuple[Sequence[ModelEntry], int]:
    return project_named_page(
        session,
        ModelEntry,
        project_id=project_id,
        q=q,
        sort_column=SORT_COLUMNS[sort],
        descending=descending,
        limit=limit,
        offset=offset,
    )


def remove(session: Session, model_id: int) -> None:
    session.execute(delete(ModelEntry).where(ModelEntry.id == model_id))


def hub_sources(session: Session, project_id: int) -> set[str]:
    """The Hub ids the project's registry holds (a config may name them however they are
    spelled)."""
    query = select(ModelEntry.source).where(
        ModelEntry.project_id == project_id, ModelEntry.kind == "hub"
    )
    return set(session.scalars(query))
