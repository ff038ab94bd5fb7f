"""Migrations: head applies on both backends and matches the ORM models exactly."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from visionyard.db.engine import make_engine
from visionyard.db.migrate import (
    SchemaOutOfDate,
    alembic_config,
    current_revision,
    ensure_schema,
    head_revision,
    upgrade,
)
from visionyard.db.models import Base, Project, Run, RunEvent, RunState
from visionyard.runqueue.metric_chunks import read_points


def test_head_applies_and_matches_models(db_url: str) -> None:
    engine = make_engine(db_url)
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations disagree: {diff}"


def test_out_of_date_schema_gets_an_actionable_message(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(SchemaOutOfDate, match="visionyard db upgrade"):
        ensure_schema(engine, auto_upgrade=False)
    ensure_schema(engine, auto_upgrade=True)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def _downgraded(db_url: str, revision: str) -> Engine:
    """The test's database taken back to `revision` (running every later downgrade)."""
    engine = make_engine(db_url)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
    assert current_revision(engine) == revision
    return engine


def _at_0001(db_url: str) -> Engine:
    return _downgraded(db_url, "0001")


def test_0002_keeps_one_checkpoint_per_folder_moves_stale_errors_and_summarises(
    db_url: str,
) -> None:
    engine = _at_0001(db_url)
    project = sa.table("projects", sa.column("id"), sa.column("name"), sa.column("description"),
                       sa.column("created_at"), sa.column("updated_at"))  # fmt: skip
    runs = sa.table(
        "runs", *(sa.column(c) for c in (
            "id", "project_id", "name", "config_hash", "state", "priority", "gpu_count",
            "attempt", "restarts", "max_restarts", "cancel_requested", "error", "claimed_at",
            "created_at")),
        sa.column("config_snapshot", sa.JSON), sa.column("progress", sa.JSON),
    )  # fmt: skip
    events = sa.table(
        "run_events", *(sa.column(c) for c in (
            "run_id", "attempt", "kind", "name", "step", "value", "dedupe_key", "created_at")),
        sa.column("payload", sa.JSON),
    )  # fmt: skip
    checkpoints = sa.table("checkpoints", *(sa.column(c) for c in (
        "run_id", "attempt", "name", "path", "epoch", "step", "metric", "created_at")))  # fmt: skip
    now = datetime(2026, 12, 1, tzinfo=UTC)
    run = {"project_id": 1, "config_hash": "h", "priority": 0, "gpu_count": 0, "restarts": 1,
           "max_restarts": 3, "cancel_requested": False, "config_snapshot": {}, "progress": {},
           "created_at": now}  # fmt: skip
    with engine.begin() as conn:
        conn.execute(sa.insert(project).values(id=1, name="p", description="", created_at=now,
                                               updated_at=now))  # fmt: skip
        conn.execute(
            sa.insert(runs).values(
                id=1,
                name="retrying",
                state="queued",
                attempt=2,
                error="attempt 1 crashed",
                claimed_at=None,
                **run,
            )
        )
        conn.execute(
            sa.insert(runs).values(
                id=2,
                name="failed",
                state="failed",
                attempt=1,
                error="bad config",
                claimed_at=now,
                **run,
            )
        )
        conn.execute(sa.insert(events), [
            {"run_id": 1, "attempt": a, "kind": "metric", "name": "val/acc@1", "step": s,
             "value": v, "dedupe_key": f"{a}:m:{s}:val/acc@1", "created_at": 0.0,
             "payload": {"epoch": s // 10}}
            for a, s, v in [(1, 10, 0.5), (1, 20, 0.8), (2, 30, 0.7)]
        ])  # fmt: skip
        conn.execute(sa.insert(checkpoints), [
            {"run_id": 1, "attempt": a, "name": n, "path": f"checkpoints/{n}", "epoch": s // 10,
             "step": s, "metric": None, "created_at": now}
            for a, n, s in [(1, "last", 10), (1, "best", 10), (1, "last", 20), (2, "last", 5)]
        ])  # fmt: skip
    upgrade(engine, "0002")
    with engine.connect() as conn:
        # Nothing cascaded away (rebuilding `runs` on SQLite, foreign keys on, would have).
        assert conn.execute(sa.text("SELECT COUNT(*) FROM run_events")).scalar_one() == 3
        kept = conn.execute(sa.text("SELECT name, attempt, step FROM checkpoints ORDER BY name"))
        assert [tuple(r) for r in kept] == [("best", 1, 10), ("last", 2, 5)]
        rows = conn.execute(
            sa.select(sa.column("id"), sa.column("error"), sa.column("earlier_errors", sa.JSON),
                      sa.column("started_at")).select_from(sa.table("runs")).order_by("id")
        ).all()  # fmt: skip
        # The queued retry's error was attempt 1's; a finished run's error is its own.
        assert rows[0].error is None and rows[0].started_at is None
        assert rows[0].earlier_errors == [{"attempt": 1, "error": "attempt 1 crashed"}]
        assert (rows[1].error, rows[1].earlier_errors) == ("bad config", [])
        assert rows[1].started_at is not None
        summary = conn.execute(
            sa.text("SELECT max_value, max_step, last_value, last_step, last_epoch "
                    "FROM run_metric_summaries WHERE run_id = 1 AND name = 'val/acc@1'")
        ).one()  # fmt: skip
        assert tuple(summary) == (0.8, 20, 0.7, 30, 3)
    engine.dispose()


RELEASE_0002 = Path(__file__).parent / "fixtures" / "release-0002.sqlite"


def test_0003_gives_projects_written_by_the_flat_release_their_creator_as_owner(
    tmp_path: Path,
) -> None:
    """On a database written by the release before project roles (fixtures/README.md)."""
    copy = tmp_path / "release-0002.sqlite"
    shutil.copyfile(RELEASE_0002, copy)
    engine = make_engine(f"sqlite:///{copy}")
    assert current_revision(engine) == "0002"
    upgrade(engine)
    with engine.connect() as conn:
        owners = conn.execute(
            sa.text(
                "SELECT p.name, u.username, m.role, p.created_by = u.id FROM projects p "
                "JOIN project_members m ON m.project_id = p.id JOIN users u ON u.id = m.user_id "
                "ORDER BY p.name"
            )
        ).all()
        # alpha: alice wrote its first config version (bob a later one); beta: bob's run.
        assert [tuple(r) for r in owners] == [
            ("alpha", "alice", "owner", True),
            ("beta", "bob", "owner", True),
        ]
        orphan = conn.execute(sa.text("SELECT created_by FROM projects WHERE name = 'orphan'"))
        assert orphan.scalar_one() is None
        tokens = conn.execute(sa.text("SELECT scope, project_ids FROM api_tokens")).all()
        assert {tuple(t) for t in tokens} == {("write", None)}
        seen = conn.execute(sa.text("SELECT last_seen_at FROM login_sessions")).scalars().all()
        assert seen and all(s is not None for s in seen)
    engine.dispose()


def test_0003_downgrades_and_upgrades_again(db_url: str) -> None:
    engine = _downgraded(db_url, "0002")
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def _point_rows(conn: sa.Connection) -> list[tuple]:
    """Per-point metric rows of a 0003 schema: (id, attempt, name, step, value, epoch, time)."""
    rows = conn.execute(
        sa.text(
            "SELECT id, attempt, name, step, value, payload, created_at FROM run_events "
            "WHERE kind = 'metric' ORDER BY name, attempt, step"
        )
    ).all()
    out = []
    for id_, attempt, name, step, value, payload, created in rows:
        payload = json.loads(payload) if isinstance(payload, str) else payload
        out.append((id_, attempt, name, step, value, payload.get("epoch"), created))
    return out


def test_0004_packs_metric_points_into_chunks_and_unpacks_them_on_downgrade(db_url: str) -> None:
    engine = make_engine(db_url)
    with Session(engine) as session, session.begin():
        project = Project(name="p")
        session.add(project)
        session.flush()
        run = Run(project_id=project.id, name="r", config_snapshot={}, config_hash="h",
                  state=RunState.succeeded, progress={})  # fmt: skip
        session.add(run)
        session.flush()
        run_id = run.id
    engine.dispose()
    engine = _downgraded(db_url, "0003")
    events = sa.table(
        "run_events", *(sa.column(c) for c in (
            "run_id", "attempt", "kind", "name", "step", "value", "dedupe_key", "created_at")),
        sa.column("payload", sa.JSON),
    )  # fmt: skip
    # 1,500 steps of a loss (two chunks), a resumed attempt, gaps, points without an epoch,
    # and a log line in between that must keep its id.
    points = [(1, "train/loss", s, None if s % 97 == 0 else 1 / s, s // 100 if s % 5 else None)
              for s in range(1, 1501)]  # fmt: skip
    points += [(2, "train/loss", s, 0.5, 9) for s in range(1400, 1411)]
    points += [(1, "val/acc", s, s / 2000, s // 100) for s in (500, 1000, 1500)]
    with engine.begin() as conn:
        conn.execute(sa.insert(events), [
            {"run_id": run_id, "attempt": a, "kind": "metric", "name": n, "step": s, "value": v,
             "dedupe_key": f"{a}:m:{s}:{n}", "created_at": 1000.0 + s + a / 10,
             "payload": {} if e is None else {"epoch": e}}
            for a, n, s, v, e in points[:700]
        ])  # fmt: skip
        conn.execute(sa.insert(events), [{
            "run_id": run_id, "attempt": 1, "kind": "log", "name": "info", "step": None,
            "value": None, "dedupe_key": "1:log:1", "created_at": 5.0,
            "payload": {"message": "hello"}}])  # fmt: skip
        conn.execute(sa.insert(events), [
            {"run_id": run_id, "attempt": a, "kind": "metric", "name": n, "step": s, "value": v,
             "dedupe_key": f"{a}:m:{s}:{n}", "created_at": 1000.0 + s + a / 10,
             "payload": {} if e is None else {"epoch": e}}
            for a, n, s, v, e in points[700:]
        ])  # fmt: skip
        before = _point_rows(conn)
        log_id = conn.execute(sa.text("SELECT id FROM run_events WHERE kind = 'log'")).scalar()
    upgrade(engine)
    with Session(engine) as session:
        stored = read_points(session, [run_id], ["train/loss", "val/acc"])
        chunks = session.execute(
            select(RunEvent.id, RunEvent.name, RunEvent.attempt, RunEvent.step, RunEvent.last_step)
            .where(RunEvent.kind == "metric")
            .order_by(RunEvent.name, RunEvent.attempt, RunEvent.step)
        ).all()
        log = session.execute(select(RunEvent).where(RunEvent.kind == "log")).scalar_one()
    after = sorted(
        (a, name, step, value, epoch, time)
        for (_, name), p in stored.items()
        for a, step, value, epoch, time in zip(
            p.attempts.tolist(), p.steps.tolist(), p.value_list(), p.epoch_list(),
            p.times.tolist(), strict=True)
    )  # fmt: skip
    assert after == sorted(row[1:] for row in before)
    # 1,500 points of attempt 1 are two chunks; each takes the id of the newest point it holds.
    newest = {}
    for id_, attempt, name, step, *_ in before:
        newest[(name, attempt, step)] = id_
    assert [(c.name, c.attempt, c.step, c.last_step) for c in chunks] == [
        ("train/loss", 1, 1, 1024), ("train/loss", 1, 1025, 1500), ("train/loss", 2, 1400, 1410),
        ("val/acc", 1, 500, 1500),
    ]  # fmt: skip
    assert [c.id for c in chunks] == [
        max(newest[(c.name, c.attempt, s)] for (n, a, s) in newest
            if (n, a) == (c.name, c.attempt) and c.step <= s <= c.last_step)
        for c in chunks
    ]  # fmt: skip
    assert (log.id, log.payload) == (log_id, {"message": "hello"})
    engine.dispose()

    engine = _downgraded(db_url, "0003")
    with engine.connect() as conn:
        restored = _point_rows(conn)
    assert [row[1:] for row in restored] == [row[1:] for row in before]
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()
