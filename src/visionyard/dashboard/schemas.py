"""Shared API schemas: pagination envelope and query parameters."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, ConfigDict

T = TypeVar("T")

MAX_PAGE = 200


class ApiModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class Pagination(BaseModel):
    limit: int
    offset: int
    order: str


def pagination(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page size")] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Items to skip")] = 0,
    order: Annotated[str, Query(pattern="^(asc|desc)$", description="Sort direction")] = "desc",
) -> Pagination:
    return Pagination(limit=limit, offset=offset, order=order)
