"""Shared API schemas: pagination envelope and query parameters."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Path as PathParam
from fastapi import Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from visionyard.text import check_text

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


# ---- input types that keep every backend out of trouble ------------------------------------------
# PostgreSQL rejects NUL characters in text and integers beyond int32 in INTEGER columns; both
# would otherwise surface as 500s. Every id and free-text input goes through these (the text
# rule itself: `visionyard.text`).

MAX_ID = 2_147_483_647


SafeStr = Annotated[str, AfterValidator(check_text)]
Name = Annotated[str, AfterValidator(check_text), Field(min_length=1, max_length=128)]
Text = Annotated[str, AfterValidator(check_text), Field(max_length=10_000)]
IdPath = Annotated[int, PathParam(ge=1, le=MAX_ID)]
