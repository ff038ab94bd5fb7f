"""SQL for the live-events bus: small functions taking a `Session` (the events repository).

Every query is by topic key and id range, served by the `(run_id, id)` and `(topic, id)` indexes.
Rows are serialised here, once, into the message text every subscriber shares.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from visionyard.dashboard.events.messages import Topic, event_message, run_event_data
from visionyard.db.models import FeedEvent, Run, RunEvent
from visionyard.errors import NotFoundError
from visionyard.runqueue.events import RUN_EVENT_KINDS
from visionyard.runqueue.metric_chunks import as_points, unpack

#: the kinds of a run topic's events: the stored kinds, but a stored chunk of metric points
#: (kind "metric") is sent as one "metrics" event
LIVE_RUN_EVENT_KINDS = (RUN_EVENT_KINDS - {"metric"}) | {"metrics"}


@dataclass(frozen=True, slots=True)
class Event:
    """One message ready to send: its sequence number (the row id) and its JSON text."""

    seq: int
    text: str
    #: the project of the run a "runs" event is about (who may receive it); None elsewhere
    project_id: int | None = None


def run_not_found(run_id: int) -> NotFoundError:
    return NotFoundError(f"run {run_id} does not exist; check the run id (GET /api/v1/runs)")


def run_exists(session: Session, run_id: int) -> bool:
    return session.execute(select(Run.id).where(Run.id == run_id)).first() is not None


def max_seq(session: Session, topic: Topic, *, upto: int | None) -> int:
    """The topic's highest sequence number (0 if none), not above `upto` when given."""
    if topic.run_id is not None:
        query = select(func.max(RunEvent.id)).where(RunEvent.run_id == topic.run_id)
        if upto is not None:
            query = query.where(RunEvent.id <= upto)
    else:
        query = select(func.max(FeedEvent.id)).where(FeedEvent.topic == topic.name)
        if upto is not None:
            query = query.where(FeedEvent.id <= upto)
    return int(session.execute(query).scalar() or 0)


def events_after(
    session: Session, topic: Topic, *, after: int, upto: int | None, limit: int
) -> list[Event]:
    """The topic's events with `after < seq <= upto` (no upper bound if None), oldest first,
    at most `limit` of them."""
    if topic.run_id is not None:
        return _run_events(session, topic, after=after, upto=upto, limit=limit)
    return _feed_events(session, topic, after=after, upto=upto, limit=limit)


def _run_events(
    session: Session, topic: Topic, *, after: int, upto: int | None, limit: int
) -> list[Event]:
    query = select(
        RunEvent.id,
        RunEvent.attempt,
        RunEvent.kind,
        RunEvent.name,
        RunEvent.step,
        RunEvent.value,
        RunEvent.payload,
        RunEvent.created_at,
        RunEvent.points,
    ).where(RunEvent.run_id == topic.run_id, RunEvent.id > after)
    if upto is not None:
        query = query.where(RunEvent.id <= upto)
    rows = session.execute(query.order_by(RunEvent.id).limit(limit)).all()
    events = []
    for row in rows:
        if row.kind == "metric":  # a chunk of points: one "metrics" event
            data = run_event_data(
                kind="metrics",
                name=row.name,
                step=row.step,
                value=None,
                attempt=row.attempt,
                payload=_chunk_payload(row.attempt, row.points),
            )
        else:
            data = run_event_data(
                kind=row.kind,
                name=row.name,
                step=row.step,
                value=row.value,
                attempt=row.attempt,
                payload=row.payload,
            )
        events.append(Event(row.id, event_message(topic.name, row.id, row.created_at, data)))
    return events


def _chunk_payload(attempt: int, data: bytes | None) -> dict[str, list[Any]]:
    points = as_points([(attempt, unpack(data or b""))])
    return {
        "steps": points.steps.tolist(),
        "values": points.value_list(),  # a gap is null
        "times": points.times.tolist(),
        "epochs": points.epoch_list(),
    }


def _feed_events(
    session: Session, topic: Topic, *, after: int, upto: int | None, limit: int
) -> list[Event]:
    query = select(FeedEvent.id, FeedEvent.payload, FeedEvent.created_at).where(
        FeedEvent.topic == topic.name, FeedEvent.id > after
    )
    if upto is not None:
        query = query.where(FeedEvent.id <= upto)
    rows = session.execute(query.order_by(FeedEvent.id).limit(limit)).all()
    events = []
    for row in rows:
        payload = dict(row.payload or {})
        project_id = payload.get("project_id")
        text = event_message(topic.name, row.id, row.created_at, payload)
        events.append(Event(row.id, text, project_id if isinstance(project_id, int) else None))
    return events
