"""Runs for browser tests, written straight into the served dashboard's database: 2,000 runs
in a second instead of 2,000 queue requests (each of which validates a config and its model).

The rows are what the run queue and a trainer would have left: a config snapshot, a state (a
running run has an agent and a lease), tags, progress and the per-metric summaries that run
lists sort and filter by.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from tests.liveserver import admin_api
from visionyard import runqueue
from visionyard.db.engine import make_engine, make_session_factory
from visionyard.db.models import Agent, Run, RunMetricSummary, RunState, RunTag
from visionyard.settings import Settings


@dataclass
class SeedRun:
    name: str
    state: RunState = RunState.queued
    lr: float = 0.001
    optimizer: str = "adamw"
    #: metric name -> its values per epoch (the summary keeps min, max and last)
    metrics: dict[str, list[float]] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    group_id: int | None = None


def make_project(url: str, name: str) -> int:
    with admin_api(url) as api:
        response = api.post("/projects", json={"name": name})
    response.raise_for_status()
    return int(response.json()["id"])


def _snapshot(run: SeedRun) -> dict[str, Any]:
    return {
        "model_flavour": "microsoft/resnet-18",
        "epochs": 10,
        "batch_size": 32,
        "lr": run.lr,
        "optimizer": run.optimizer,
        "monitor_metric": "acc@1",
    }


def seed_runs(settings: Settings, project_id: int, runs: list[SeedRun]) -> list[int]:
    """Insert the runs (oldest first: the table's default order shows the last one first)."""
    engine = make_engine(settings.database_url)
    start = datetime.now(UTC) - timedelta(hours=1)
    try:
        with make_session_factory(engine)() as session, session.begin():
            agent: Agent | None = None
            if any(r.state == RunState.running for r in runs):
                agent = Agent(name="seed-agent", hostname="seed", last_heartbeat_at=1e12)
                session.add(agent)
                session.flush()
            rows = []
            for i, spec in enumerate(runs):
                running = spec.state == RunState.running
                finished = spec.state in (RunState.succeeded, RunState.failed, RunState.canceled)
                epochs = max((len(v) for v in spec.metrics.values()), default=0)
                created = start + timedelta(seconds=i)
                rows.append(
                    Run(
                        project_id=project_id,
                        group_id=spec.group_id,
                        name=spec.name,
                        config_snapshot=_snapshot(spec),
                        config_hash="0" * 64,
                        state=spec.state,
                        agent_id=agent.id if running and agent else None,
                        lease_expires_at=1e12 if running else None,
                        created_at=created,
                        started_at=created if running or finished else None,
                        finished_at=created + timedelta(minutes=5) if finished else None,
                        progress={
                            "epoch": epochs,
                            "epochs": 10,
                            "step": epochs * 10,
                            "total_steps": 100,
                            "eta_s": 60.0,
                        }
                        if epochs
                        else {},  # fmt: skip
                        tags=[RunTag(tag=t) for t in spec.tags],
                    )
                )
            session.add_all(rows)
            session.flush()
            summaries = [
                {
                    "run_id": row.id,
                    "name": name,
                    "attempt": 1,
                    "first_step": 10,
                    "last_step": 10 * len(values),
                    "last_value": values[-1],
                    "last_epoch": len(values),
                    "min_value": min(values),
                    "min_step": 10 * (values.index(min(values)) + 1),
                    "max_value": max(values),
                    "max_step": 10 * (values.index(max(values)) + 1),
                }
                for row, spec in zip(rows, runs, strict=True)
                for name, values in spec.metrics.items()
                if values
            ]
            if summaries:
                session.execute(insert(RunMetricSummary), summaries)
            return [row.id for row in rows]
    finally:
        engine.dispose()


def write_events(settings: Settings, run_id: int, events: list[dict[str, Any]]) -> None:
    """What a seeded running run's trainer would report (its agent relays it): the real
    queue function, so the run's topic and its progress change as they would in training."""
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as session:
            agent_id = session.scalar(select(Run.agent_id).where(Run.id == run_id))
        runqueue.write_events(engine, run_id, 1, events, agent_id=agent_id)
    finally:
        engine.dispose()
