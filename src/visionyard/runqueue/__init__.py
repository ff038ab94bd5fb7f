"""The run queue: enqueue, atomic claim, leases and the reaper, fenced agent writes, lifecycle
transitions and wake-ups. Shared by the dashboard and the training agents; works on SQLite and
PostgreSQL. Every function takes the database (an Engine or a sessionmaker) explicitly.

Semantics: docs/architecture.md, "The run queue: states, leases, fencing"; the promises (R1-R5,
R15) and the tests in tests/runqueue that prove them: docs/reliability.md.
"""

from __future__ import annotations

from visionyard.runqueue.agents import (
    agent_heartbeat,
    register_agent,
    runs_held_by,
    set_agent_drained,
)
from visionyard.runqueue.claim import DEFAULT_LEASE_SECONDS, ClaimedRun, claim_next
from visionyard.runqueue.enqueue import enqueue
from visionyard.runqueue.errors import RunNotFound, StaleAttempt, UnknownAgent
from visionyard.runqueue.events import event_rows, record_checkpoint, write_events
from visionyard.runqueue.lease import ReapResult, reap_expired, renew_lease
from visionyard.runqueue.lifecycle import (
    OUTCOMES,
    CancelResult,
    Outcome,
    finish_run,
    request_cancel,
    requeue_for_drain,
)
from visionyard.runqueue.notify import CHANNEL, WorkWaiter

__all__ = [
    "CHANNEL",
    "DEFAULT_LEASE_SECONDS",
    "OUTCOMES",
    "CancelResult",
    "ClaimedRun",
    "Outcome",
    "ReapResult",
    "RunNotFound",
    "StaleAttempt",
    "UnknownAgent",
    "WorkWaiter",
    "agent_heartbeat",
    "claim_next",
    "enqueue",
    "event_rows",
    "finish_run",
    "reap_expired",
    "record_checkpoint",
    "register_agent",
    "renew_lease",
    "request_cancel",
    "requeue_for_drain",
    "runs_held_by",
    "set_agent_drained",
    "write_events",
]
