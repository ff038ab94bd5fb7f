"""A migrated queue database with one project, and small helpers to enqueue runs, register
agents and read rows back (used through the fixtures in conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from visionyard.db.engine import make_engine, make_session_factory
from visionyard.db.models import FeedEvent, Project, Run, RunEvent
from visionyard.runqueue import enqueue, register_agent


@dataclass
class QueueDB:
    url: str
    engine: Engine
    factory: sessionmaker[Session]
    project_id: int

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    def enqueue(self, name: str = "r", **kwargs: Any) -> int:
        kwargs.setdefault("config_snapshot", {"lr": 0.001, "name": name})
        kwargs.setdefault("config_hash", "0" * 64)
        return enqueue(self.factory, project_id=self.project_id, name=name, **kwargs)

    def agent(self, name: str = "a1", gpus: int = 0) -> int:
        return register_agent(
            self.factory,
            name=name,
            hostname="host",
            device="cpu" if gpus == 0 else "cuda:0",
            gpus=[{"index": i} for i in range(gpus)],
            version="test",
        )

    def run(self, run_id: int) -> Run:
        with self.factory() as session:
            run = session.get(Run, run_id)
            assert run is not None
            session.expunge(run)
            return run

    def sql(self, statement: str, **params: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(text(statement), params)

    def count_events(self, run_id: int) -> int:
        with self.factory() as session:
            stmt = select(func.count()).select_from(RunEvent).where(RunEvent.run_id == run_id)
            return session.execute(stmt).scalar_one()

    def feed(self, run_id: int | None = None) -> list[dict[str, Any]]:
        with self.factory() as session:
            rows = session.execute(
                select(FeedEvent.payload).where(FeedEvent.topic == "runs").order_by(FeedEvent.id)
            ).scalars()
            return [p for p in rows if run_id is None or p["run_id"] == run_id]


def open_queue_db(url: str) -> Iterator[QueueDB]:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory() as session, session.begin():
        project = Project(name="p")
        session.add(project)
        session.flush()
        project_id = project.id
    try:
        yield QueueDB(url=url, engine=engine, factory=factory, project_id=project_id)
    finally:
        engine.dispose()
