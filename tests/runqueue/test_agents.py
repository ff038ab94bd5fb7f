"""Agent registry: upsert by name, heartbeat returns the drain flag, unknown agents refused."""

from __future__ import annotations

import pytest

from visionyard.db.models import Agent, FeedEvent
from visionyard.runqueue import UnknownAgent, agent_heartbeat, register_agent, set_agent_drained

from .queuedb import QueueDB


def test_register_is_an_upsert_by_name_that_keeps_the_drain_flag(q: QueueDB) -> None:
    first = register_agent(
        q.factory, name="gpu-box", hostname="h1", device="cuda:0", gpus=[0], version="1", now=5.0
    )
    set_agent_drained(q.factory, first, True)
    again = register_agent(
        q.factory, name="gpu-box", hostname="h2", device="cuda:1", gpus=[0, 1], version="2", now=9.0
    )
    other = register_agent(q.factory, name="cpu", hostname="h3", device="cpu", gpus=[], version="2")
    assert again == first and other != first
    with q.factory() as session:
        agent = session.get(Agent, first)
        assert agent is not None
        assert (agent.hostname, agent.device, agent.gpus, agent.version) == (
            "h2",
            "cuda:1",
            [0, 1],
            "2",
        )
        assert agent.last_heartbeat_at == 9.0
        assert agent.drained is True  # an operator's drain survives an agent restart
        events = [e.payload["event"] for e in session.query(FeedEvent).filter_by(topic="agents")]
    assert events == ["registered", "drained", "registered", "registered"]


def test_heartbeat_records_time_and_returns_drained(q: QueueDB) -> None:
    agent = q.agent()
    assert agent_heartbeat(q.factory, agent, now=123.5) is False
    with q.factory() as session:
        assert session.get(Agent, agent).last_heartbeat_at == 123.5  # type: ignore[union-attr]
    set_agent_drained(q.factory, agent, True)
    assert agent_heartbeat(q.factory, agent) is True


def test_unknown_agent_is_told_to_register(q: QueueDB) -> None:
    with pytest.raises(UnknownAgent, match="agent 999 is not registered"):
        agent_heartbeat(q.factory, 999)
    with pytest.raises(UnknownAgent, match="agent 999"):
        set_agent_drained(q.factory, 999, True)
