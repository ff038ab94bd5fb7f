"""SQL for agents (the training workers) and the runs they are working on."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from visionyard.dashboard.repositories import name_contains, page
from visionyard.db.models import Agent, Run

SORT_COLUMNS = {
    "name": Agent.name,
    "last_heartbeat_at": Agent.last_heartbeat_at,
    "created_at": Agent.created_at,
}


def get(session: Session, agent_id: int) -> Agent | None:
    return session.scalar(
        select(Agent).where(Agent.id == agent_id).execution_options(populate_existing=True)
    )


def list_page(
    session: Session,
    *,
    alive_since: float,
    alive: bool | None,
    drained: bool | None,
    q: str | None,
    sort: str,
    descending: bool,
    limit: int,
    offset: int,
) -> tuple[Sequence[Agent], int]:
    """Agents; `alive` filters on a heartbeat at or after `alive_since` (unix seconds)."""
    query = select(Agent)
    if alive is True:
        query = query.where(Agent.last_heartbeat_at >= alive_since)
    elif alive is False:
        query = query.where(Agent.last_heartbeat_at < alive_since)
    if drained is not None:
        query = query.where(Agent.drained.is_(drained))
    if q:
        query = query.where(name_contains(Agent.name, q))
    return page(
        session,
        query,
        sort_column=SORT_COLUMNS[sort],
        id_column=Agent.id,
        descending=descending,
        limit=limit,
        offset=offset,
    )


def runs_by_id(session: Session, run_ids: Collection[int]) -> dict[int, Any]:
    """run id -> row (id, name, state, attempt, project_id), for the runs agents are working
    on."""
    if not run_ids:
        return {}
    rows = session.execute(
        select(Run.id, Run.name, Run.state, Run.attempt, Run.project_id).where(Run.id.in_(run_ids))
    )
    return {row.id: row for row in rows}


def claim_facts(session: Session) -> Sequence[Any]:
    """Every agent, with what the claim query checks about it (id, name, last_heartbeat_at,
    drained, gpus)."""
    return session.execute(
        select(Agent.id, Agent.name, Agent.last_heartbeat_at, Agent.drained, Agent.gpus)
    ).all()
