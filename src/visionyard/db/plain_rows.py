"""Reading many rows of plain columns as the database driver's own tuples.

SQLAlchemy builds a `Row` per result row and runs each column's result processor; for a
100,000-point metric series that cost as much again as the query itself (bench/series_bench.py:
about 120 ms through a Core `select` against about 50 ms through the driver's cursor, on SQLite
and PostgreSQL alike). Only for statements whose parameters and columns need no conversion by
SQLAlchemy's types: integers, floats and strings.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session


def plain_rows(session: Session, statement: Select[*tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Every row of `statement`, run in the session's transaction on the driver's cursor.

    The parameters are passed as given (no bind processors): a parameter type that SQLAlchemy
    converts (JSON paths, enums, dates on SQLite) must not be used here."""
    connection = session.connection()
    # render_postcompile: an IN list's "expanding" parameter becomes one parameter per value.
    compiled = statement.compile(
        dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
    )
    named = compiled.construct_params()
    params: Any = (
        tuple(named[name] for name in compiled.positiontup or ()) if compiled.positional else named
    )
    cursor = connection.connection.cursor()
    try:
        cursor.execute(compiled.string, params)
        return list(cursor.fetchall())
    finally:
        cursor.close()
