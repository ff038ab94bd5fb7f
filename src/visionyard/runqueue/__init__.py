"""The run queue: enqueue, atomic claim, leases and the reaper, fenced agent writes, lifecycle
transitions (cancel, resume), wake-ups and cancel delivery to agents. Shared by the dashboard
and the training agents; works on SQLite and PostgreSQL. Every function takes the database (an
Engine or a sessionmaker) explicitly.

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
from visionyard.runqueue.control import CANCEL_CHANNEL, CancelWatch, cancel_requested
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
from visionyard.runqueue.notify import CHANNEL, SQLITE_POLL_INTERVAL, WorkWaiter
from visionyard.runqueue.resume import RESUMABLE_STATES, not_resumable_reason, resume_run

__all__ = [
    "CANCEL_CHANNEL",
    "CHANNEL",
    "DEFAULT_LEASE_SECONDS",
    "OUTCOMES",
    "RESUMABLE_STATES",
    "CancelResult",
    "CancelWatch",
    "ClaimedRun",
    "Outcome",
    "ReapResult",
    "RunNotFound",
    "StaleAttempt",
    "UnknownAgent",
    "SQLITE_POLL_INTERVAL",
    "WorkWaiter",
    "agent_heartbeat",
    "cancel_requested",
    "claim_next",
    "enqueue",
    "event_rows",
    "finish_run",
    "reap_expired",
    "record_checkpoint",
    "not_resumable_reason",
    "register_agent",
    "renew_lease",
    "request_cancel",
    "requeue_for_drain",
    "resume_run",
    "runs_held_by",
    "set_agent_drained",
    "write_events",
]
