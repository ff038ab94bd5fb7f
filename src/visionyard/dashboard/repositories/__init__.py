"""SQL for the dashboard: small functions taking a `Session`, one module per resource.

This module holds what every list query shares: a case-insensitive substring filter and a
counted, sorted page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

T = TypeVar("T")


def name_contains(column: InstrumentedAttribute[str], q: str) -> ColumnElement[bool]:
    """`column` contains `q`, ignoring case, with `%` and `_` in `q` taken literally."""
    # lower() on both sides instead of ILIKE: the same SQL on SQLite and PostgreSQL.
    return func.lower(column).contains(q.lower(), autoescape=True)


def page(
    session: Session,
    query: Select[T],
    *,
    sort_column: InstrumentedAttribute[Any],
    id_column: InstrumentedAttribute[int],
    descending: bool,
    limit: int,
    offset: int,
) -> tuple[Sequence[T], int]:
    """One page of `query` and the total number of rows it matches.

    The id is the tie-breaker, so rows with equal sort keys keep a stable order across pages.
    """
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    if descending:
        ordered = query.order_by(sort_column.desc(), id_column.desc())
    else:
        ordered = query.order_by(sort_column.asc(), id_column.asc())
    items = session.scalars(ordered.limit(limit).offset(offset)).all()
    return items, int(total or 0)


def project_named_page(
    session: Session,
    entity: Any,
    *,
    project_id: int,
    q: str | None,
    sort_column: InstrumentedAttribute[Any],
    descending: bool,
    limit: int,
    offset: int,
) -> tuple[Sequence[Any], int]:
    """A page of a project's `entity` rows (groups, models, configs), optionally name-filtered."""
    query = select(entity).where(entity.project_id == project_id)
    if q:
        query = query.where(name_contains(entity.name, q))
    return page(
        session,
        query,
        sort_column=sort_column,
        id_column=entity.id,
        descending=descending,
        limit=limit,
        offset=offset,
    )
