"""Timestamps as the database columns mean them: always in UTC, always with their offset.

SQLite stores the timezone-aware columns without an offset and hands them back naive; every value
was written in UTC. Compared with an aware `now` a naive value raises TypeError, and serialised
without an offset a browser reads it as local time, so every reader goes through `as_utc`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


@overload
def as_utc(value: datetime) -> datetime: ...
@overload
def as_utc(value: None) -> None: ...
def as_utc(value: datetime | None) -> datetime | None:
    """`value` with its UTC offset (a naive value is UTC, as written); None stays None."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
