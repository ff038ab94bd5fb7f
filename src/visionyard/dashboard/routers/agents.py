"""Agents: list with liveness and current run, inspect, drain and un-drain (admin)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter

from visionyard.dashboard.access import AdminUser, CurrentUser, visible_project_ids
from visionyard.dashboard.deps import SessionDep, StateDep
from visionyard.dashboard.schemas.agents import AgentOut, AgentPage, AgentRun
from visionyard.dashboard.schemas.common import IdPath, NameFilter, PageParams
from visionyard.dashboard.services import agents as service

router = APIRouter(tags=["agents"])


def _out(view: service.AgentView, visible: frozenset[int] | None) -> AgentOut:
    """`visible`: the caller's projects; the run of another project is not shown (agents are
    shared by every project; what they work on is not)."""
    agent = view.agent
    run = view.current_run
    if run is not None and visible is not None and run.project_id not in visible:
        run = None
    return AgentOut(
        id=agent.id,
        name=agent.name,
        hostname=agent.hostname,
        device=agent.device,
        gpus=list(agent.gpus or []),
        drained=agent.drained,
        version=agent.version,
        alive=view.alive,
        last_heartbeat_at=datetime.fromtimestamp(agent.last_heartbeat_at, UTC)
        if agent.last_heartbeat_at
        else None,
        seconds_since_heartbeat=view.seconds_since_heartbeat,
        current_run=None
        if run is None
        else AgentRun(id=run.id, name=run.name, state=run.state, attempt=run.attempt),
        created_at=agent.created_at,
    )


@router.get("/agents", operation_id="listAgents", response_model=AgentPage)
def list_agents(
    user: CurrentUser,
    session: SessionDep,
    state: StateDep,
    page: PageParams,
    alive: bool | None = None,
    drained: bool | None = None,
    q: NameFilter = None,
    sort: Literal["name", "last_heartbeat_at", "created_at"] = "name",
) -> AgentPage:
    views, total = service.list_agents(
        session,
        state.settings,
        alive=alive,
        drained=drained,
        q=q,
        sort=sort,
        descending=page.descending,
        limit=page.limit,
        offset=page.offset,
    )
    visible = visible_project_ids(session, user)
    return AgentPage.of([_out(v, visible) for v in views], total, page)


@router.get("/agents/{agent_id}", operation_id="getAgent", response_model=AgentOut)
def get_agent(
    agent_id: IdPath, user: CurrentUser, session: SessionDep, state: StateDep
) -> AgentOut:
    return _out(
        service.get_agent(session, state.settings, agent_id), visible_project_ids(session, user)
    )


@router.post("/agents/{agent_id}/drain", operation_id="drainAgent", response_model=AgentOut)
def drain_agent(
    agent_id: IdPath, _admin: AdminUser, session: SessionDep, state: StateDep
) -> AgentOut:
    """Stop handing work to the agent; it hands its current run back (re-queued, no restart
    charged) on its next heartbeat. Admins only."""
    return _out(service.set_drained(session, state.settings, agent_id, True), None)


@router.post("/agents/{agent_id}/undrain", operation_id="undrainAgent", response_model=AgentOut)
def undrain_agent(
    agent_id: IdPath, _admin: AdminUser, session: SessionDep, state: StateDep
) -> AgentOut:
    """Let the agent claim work again. Admins only."""
    return _out(service.set_drained(session, state.settings, agent_id, False), None)
