"""Live events over one WebSocket: `/api/v1/ws`.

Protocol (version 1). All messages are JSON text frames.

Connecting
    Authenticate like any other route: the session cookie, `Authorization: Bearer <token>`, or
    `?token=<token>` (browsers cannot set headers on a WebSocket). A browser's `Origin` must be
    the dashboard's own origin or one of DASHBOARD_CORS_ORIGINS. Both are checked before any
    data flows; on failure the server closes at once with code 4401 (no/bad credentials) or
    4403 (foreign origin). Credentials are re-checked every ping interval: a revoked token or an
    expired session closes the socket with 4401.

Client -> server
    {"op": "subscribe", "topic": T, "after": <seq> | null}
        T is "runs" (run state changes), "agents" (agent registration, drain...) or
        "run:<id>" (one run's metrics, logs, progress, checkpoints, system samples).
        after = null: live events only. after = N: first every stored event of T with
        seq > N, oldest first, then live ones - no gap, no duplicate. Subscribing again to
        the same topic restarts it from the new `after`.
    {"op": "unsubscribe", "topic": T}
    {"op": "ping"}        -> {"type": "pong"}
    {"op": "pong"}        (optional answer to a server ping; ignored)

Server -> client
    {"type": "subscribed", "topic": T, "seq": S}
        Sent first for each subscription. S is T's newest sequence number at that moment:
        a backfill (after < S) ends with the event whose seq is S (or the newest below it).
    {"type": "event", "topic": T, "seq": N, "ts": <unix seconds>, "data": {...}}
        seq strictly increases per topic. "run:<id>" data: {"kind", "name", "step", "value",
        "attempt", "payload": {...}} (a NaN or infinite value is sent as null: JSON has no such
        numbers). The kinds:
          "metrics"     points of one metric of one attempt: name "<split>/<metric>"
                        (e.g. "val/accuracy", "train/step_loss", "train/lr"), step = the
                        first point's step; payload "steps", "values" (null for a gap),
                        "times" (unix seconds each was logged) and "epochs" (null when
                        unknown), in step order. System samples are metrics too, named
                        "system/<sample>" (e.g. "system/cpu_percent"); their step is the unix
                        time in seconds. Points arrive in chunks as the agent relays them;
                        a client catching up from an older seq may receive, merged into one
                        later event, points it already has: keep one point per (attempt,
                        step).
          "log"         a line of the trainer's output: name is its level; payload "message".
          "progress"    payload: epoch, epochs, step, total_steps, eta_s.
          "checkpoint"  name (best, last, epoch_NNN), step; payload: path, epoch, metric.
          Every payload also holds the event's own "type", "seq" and "time".
          "state"       the trainer's own state changes: name is the state (starting,
                        running, resumed, stopping, stopped, succeeded, failed, canceled);
                        payload: the event with its details (e.g. "reason", "epoch").
          "artifact"    name: what was written (model, results, confusion_matrix); payload
                        "path", relative to the run folder.
          "other"       any other event type the trainer wrote, as its payload.
        "runs"/"agents" data: the change-feed payload, e.g.
        {"run_id", "state", "attempt", "agent"} or {"agent_id", "name", "event", "drained"}.
    {"type": "unsubscribed", "topic": T}
    {"type": "lagged", "topic": T, "seq": N}
        This client did not read fast enough; the subscription to T has ended after seq N.
        Resubscribe with "after": N to catch up from the database.
    {"type": "error", "message": "...", "topic"?: T}
        A bad message (invalid JSON, unknown op or topic, a run that does not exist, too many
        subscriptions); the socket stays open.
    {"type": "ping"}      every ~20 s; a client that hears nothing for ~60 s should reconnect.

Close codes: 4401 unauthenticated, 4403 origin not allowed, 1013 too many connections or a
client that does not read even control messages, 1001 server shutting down.

Client recipe: keep the last seq per topic; on reconnect (or `lagged`) subscribe with
"after": last seq; ignore events with seq <= last seq.

Writers wake PostgreSQL dashboards with `SELECT pg_notify('visionyard_events', '<topic>')` in
the inserting transaction (see `pgnotify`); without it events still arrive within one poll
interval (VISIONYARD_EVENTS_POLL_INTERVAL, default 0.25 s).
"""

from __future__ import annotations

from visionyard.dashboard.events.bus import EventBus
from visionyard.dashboard.events.hub import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED, Hub
from visionyard.dashboard.events.pgnotify import notify_topic
from visionyard.runqueue.feed import EVENTS_CHANNEL

__all__ = [
    "CLOSE_FORBIDDEN",
    "CLOSE_UNAUTHENTICATED",
    "EVENTS_CHANNEL",
    "EventBus",
    "Hub",
    "notify_topic",
]
