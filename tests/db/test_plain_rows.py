"""`plain_rows` returns what a Core select returns, as plain tuples, in the session's
transaction, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import insert, select

from visionyard.db.engine import make_engine, make_session_factory
from visionyard.db.models import Project
from visionyard.db.plain_rows import plain_rows


def test_the_same_rows_as_a_core_select_as_tuples(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with make_session_factory(engine)() as session, session.begin():
            session.execute(insert(Project), [{"name": f"p{i}"} for i in range(5)])
            # Uncommitted rows: the helper reads in the session's own transaction.
            query = (
                select(Project.id, Project.name)
                .where(Project.name.in_(["p1", "p3", "p4"]), Project.id > 0)
                .order_by(Project.name.desc())
            )
            rows = plain_rows(session, query)
            assert rows == [tuple(row) for row in session.execute(query)]
            assert [name for _, name in rows] == ["p4", "p3", "p1"]
            assert all(type(row) is tuple for row in rows)
            assert plain_rows(session, query.where(Project.name == "none")) == []
    finally:
        engine.dispose()
