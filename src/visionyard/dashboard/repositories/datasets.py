"""SQL for registered datasets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from visionyard.dashboard.repositories import name_contains, page
from visionyard.db.models import Dataset

SORT_COLUMNS = {"name": Dataset.name, "created_at": Dataset.created_at}


def get(session: Session, dataset_id: int) -> Dataset | None:
    return session.get(Dataset, dataset_id)


def get_by_name(session: Session, name: str) -> Dataset | None:
    return session.scalar(select(Dataset).where(Dataset.name == name))


def get_by_path(session: Session, rel_path: str) -> Dataset | None:
    return session.scalar(select(Dataset).where(Dataset.rel_path == rel_path).limit(1))


def add(
    session: Session,
    *,
    name: str,
    rel_path: str,
    analysis: dict[str, Any],
    fingerprint: str,
    analysed_at: Any,
) -> Dataset:
    dataset = Dataset(
        name=name,
        rel_path=rel_path,
        analysis=analysis,
        fingerprint=fingerprint,
        analysed_at=analysed_at,
    )
    session.add(dataset)
    session.flush()
    return dataset


def list_page(
    session: Session, *, q: str | None, sort: str, descending: bool, limit: int, offset: int
) -> tuple[Sequence[Dataset], int]:
    query = select(Dataset)
    if q:
        query = query.where(name_contains(Dataset.name, q))
    return page(
        session,
        query,
        sort_column=SORT_COLUMNS[sort],
        id_column=Dataset.id,
        descending=descending,
        limit=limit,
        offset=offset,
    )


def remove(session: Session, dataset_id: int) -> None:
    session.execute(delete(Dataset).where(Dataset.id == dataset_id))
