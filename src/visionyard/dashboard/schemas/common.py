"""What every resource's schemas share: request/response bases, pagination, safe input types."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Self, TypeVar

from fastapi import Depends, Query
from fastapi import Path as PathParam
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from visionyard.dashboard import patterns
from visionyard.db.timestamps import as_utc
from visionyard.paths import MAX_PATH_CHARS
from visionyard.text import check_text

T = TypeVar("T")

MAX_PAGE = 200


class ApiModel(BaseModel):
    """A response body built from an ORM row's attributes."""

    model_config = ConfigDict(from_attributes=True)


class RequestBody(BaseModel):
    """The base of every JSON request body: an unknown field is a 422 that names it, and so is
    a value of another JSON type than the schema's.

    Silently dropping a misspelt field (`gpu_cout`) would queue a run with the default instead
    of what the caller asked for. Strict types, because pydantic's lax mode reads `0` as
    `false`, `false` as `0` and `"5"` as `5`: the OpenAPI document says boolean or integer, and
    the client generated from it must be able to trust that.
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    @field_validator("*", mode="before")
    @classmethod
    def _integral_numbers_are_integers(cls, value: Any) -> Any:
        # JSON Schema counts 3.0 as an integer (and so does schemathesis); strict mode alone
        # would refuse it. For every other type the strict check that follows is unchanged.
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value


class Page(BaseModel, Generic[T]):
    """The envelope of every list. Each resource subclasses it (`class RunPage(Page[RunOut])`):
    used directly, `Page[RunOut]` would appear in the OpenAPI document as "Page_RunOut_", and
    the web UI's generated client is typed by these names.
    """

    items: list[T]
    total: int
    limit: int
    offset: int

    @classmethod
    def of(cls, items: list[T], total: int, page: Pagination) -> Self:
        return cls(items=items, total=total, limit=page.limit, offset=page.offset)


class Pagination(BaseModel):
    limit: int
    offset: int
    order: str

    @property
    def descending(self) -> bool:
        return self.order == "desc"


def pagination(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page size")] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Items to skip")] = 0,
    order: Annotated[str, Query(pattern="^(asc|desc)$", description="Sort direction")] = "desc",
) -> Pagination:
    return Pagination(limit=limit, offset=offset, order=order)


#: the `limit`/`offset`/`order` query parameters of every list route
PageParams = Annotated[Pagination, Depends(pagination)]


# ---- input types that keep every backend out of trouble ------------------------------------------
# PostgreSQL rejects NUL characters in text and integers beyond int32 in INTEGER columns; both
# would otherwise surface as 500s. Every id and free-text input goes through these (the text
# rule itself: `visionyard.text`).

MAX_ID = 2_147_483_647


# The pattern states the rule in the OpenAPI document (the validator enforces it).
_NoNulSchema = Field(json_schema_extra={"pattern": patterns.TEXT})
SafeStr = Annotated[str, AfterValidator(check_text), _NoNulSchema]
Name = Annotated[str, AfterValidator(check_text), _NoNulSchema, Field(min_length=1, max_length=128)]
Text = Annotated[str, AfterValidator(check_text), _NoNulSchema, Field(max_length=10_000)]
IdPath = Annotated[int, PathParam(ge=1, le=MAX_ID)]
#: an optional id filter in the query string
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]

# Plain str on purpose: NUL, '..', absolute paths... are refused by the service with a 400
# that says why (PathOutsideRootError), the same answer for every route taking a path. The
# pattern states those rules in the OpenAPI document only.
#: a path relative to a server folder (a dataset's, a run's), in a body or the query string
RelPath = Annotated[
    str, Field(max_length=MAX_PATH_CHARS, json_schema_extra={"pattern": patterns.RELATIVE_PATH})
]

#: the `q` filter of list routes: a case-insensitive substring of the name
NameFilter = Annotated[
    SafeStr | None,
    Query(max_length=128, description="Case-insensitive substring of the name"),
]


#: a timestamp that always serialises with its UTC offset, on SQLite as on PostgreSQL
UtcDateTime = Annotated[datetime, AfterValidator(as_utc)]
