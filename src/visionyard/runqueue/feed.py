"""Change-feed rows for the "runs" and "agents" WebSocket topics.

Always called inside the transaction that makes the change, so a client never sees a change
that was rolled back, and never misses one that was committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from visionyard.db.models import FeedEvent, Run

RUNS_TOPIC = "runs"
AGENTS_TOPIC = "agents"
#: one run's own events (metrics, logs, progress...) are the topic "run:<run id>"
RUN_TOPIC_PREFIX = "run:"
#: dashboards LISTEN here; the payload is the topic ("runs", "agents", "run:<id>")
EVENTS_CHANNEL = "visionyard_events"


def run_topic(run_id: int) -> str:
    """The topic of one run's own events."""
    return f"{RUN_TOPIC_PREFIX}{run_id}"


def announce(session: Session, topic: str, *also: tuple[str, str]) -> None:
    """Wake the dashboards' event bus for `topic` when this transaction commits (PostgreSQL;
    SQLite dashboards poll). Dropped on rollback, like the rows it announces. `also`: more
    (channel, payload) notifications sent in the same statement (one round trip for all)."""
    if session.get_bind().dialect.name == "postgresql":
        pairs = [(EVENTS_CHANNEL, topic), *also]
        calls = ", ".join(f"pg_notify(:c{i}, :p{i})" for i in range(len(pairs)))
        params = {}
        for i, (channel, payload) in enumerate(pairs):
            params[f"c{i}"] = channel
            params[f"p{i}"] = payload
        session.execute(text(f"SELECT {calls}"), params)


def run_change(
    run_id: int, state: str, attempt: int, agent: str | None, **extra: Any
) -> dict[str, Any]:
    """The payload of a "runs" feed event: {run_id, state, attempt, agent} plus extras."""
    return {"run_id": run_id, "state": str(state), "attempt": attempt, "agent": agent, **extra}


def _with_projects(session: Session, payloads: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    ids = {p["run_id"] for p in payloads if "project_id" not in p}
    if not ids:
        return list(payloads)
    rows = session.execute(select(Run.id, Run.project_id).where(Run.id.in_(ids)))
    projects = {row.id: row.project_id for row in rows}
    return [
        p if "project_id" in p else {**p, "project_id": projects.get(p["run_id"])} for p in payloads
    ]


def emit(
    session: Session,
    topic: str,
    payloads: Sequence[dict[str, Any]],
    now: float,
    *,
    also_notify: Sequence[tuple[str, str]] = (),
) -> None:
    """Write one feed event per payload (one INSERT for the lot). Events of the "runs" topic
    carry their run's project: the dashboard sends each only to those who may see it (a
    payload that already has "project_id" saves the look-up). `also_notify`: see `announce`."""
    if not payloads:
        return
    if topic == RUNS_TOPIC:
        payloads = _with_projects(session, payloads)
    session.execute(
        insert(FeedEvent),
        [{"topic": topic, "payload": payload, "created_at": now} for payload in payloads],
    )
    announce(session, topic, *also_notify)
