"""The wire format of the live-events WebSocket: topics, client messages, server messages.

Pure functions, no I/O: parsing never raises anything but `ProtocolError`, whose message is sent
back to the client as `{"type": "error", ...}` (a bad message never closes the socket).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from visionyard.runqueue.feed import AGENTS_TOPIC, RUN_TOPIC_PREFIX, RUNS_TOPIC

FEED_TOPICS = frozenset({RUNS_TOPIC, AGENTS_TOPIC})

#: run ids are INTEGER columns (int32 on PostgreSQL); larger values are refused, not queried
MAX_RUN_ID = 2_147_483_647
#: sequence numbers are BIGINT ids
MAX_SEQ = 2**63 - 1
#: client messages are tiny; anything larger is refused unparsed
MAX_CLIENT_MESSAGE_CHARS = 4096

_RUN_TOPIC = re.compile(re.escape(RUN_TOPIC_PREFIX) + r"([1-9][0-9]{0,9})")


class ProtocolError(Exception):
    """A client message the server cannot act on; `topic` is echoed when it was readable."""

    def __init__(self, message: str, topic: str | None = None) -> None:
        super().__init__(message)
        self.topic = topic


@dataclass(frozen=True, slots=True)
class Topic:
    """A validated topic: "runs", "agents", or "run:<id>" (then `run_id` is set)."""

    name: str
    run_id: int | None = None


def parse_topic(value: object) -> Topic:
    if not isinstance(value, str):
        raise ProtocolError('\'topic\' must be a string: "runs", "agents" or "run:<run id>"')
    if value in FEED_TOPICS:
        return Topic(value)
    match = _RUN_TOPIC.fullmatch(value)
    # Canonical spelling only ("run:7", not "run:007"): two spellings would be two topics.
    if match is None or int(match.group(1)) > MAX_RUN_ID:
        shown = value if len(value) <= 64 else value[:64] + "..."
        raise ProtocolError(
            f'unknown topic {shown!r}; use "runs", "agents" or "run:<run id>" '
            f"(a run id from 1 to {MAX_RUN_ID}, without leading zeros)"
        )
    return Topic(value, int(match.group(1)))


@dataclass(frozen=True, slots=True)
class Subscribe:
    topic: Topic
    after: int | None


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    topic: Topic


@dataclass(frozen=True, slots=True)
class Ping:
    pass


@dataclass(frozen=True, slots=True)
class Pong:
    pass


ClientMessage = Subscribe | Unsubscribe | Ping | Pong


def _parse_after(value: object, topic: str) -> int | None:
    if value is None:
        return None
    # bool is an int subclass; `true` is not a sequence number.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEQ:
        raise ProtocolError(
            "'after' must be null (live events only) or the last sequence number you received "
            f"(an integer from 0 to {MAX_SEQ})",
            topic,
        )
    return value


def parse_client_message(text: str) -> ClientMessage:
    """Parse one text frame from the client."""
    if len(text) > MAX_CLIENT_MESSAGE_CHARS:
        raise ProtocolError(
            f"message too long ({len(text)} characters, at most {MAX_CLIENT_MESSAGE_CHARS})"
        )
    try:
        data = json.loads(text)
    except ValueError:
        raise ProtocolError(
            'message is not valid JSON; send e.g. {"op": "subscribe", "topic": "runs"}'
        ) from None
    if not isinstance(data, dict):
        raise ProtocolError('message must be a JSON object with an "op" field')
    op = data.get("op")
    if op == "ping":
        return Ping()
    if op == "pong":
        return Pong()
    if op in ("subscribe", "unsubscribe"):
        if "topic" not in data:
            raise ProtocolError(f"'{op}' needs a 'topic'")
        raw_topic = data["topic"]
        topic = parse_topic(raw_topic)
        if op == "unsubscribe":
            return Unsubscribe(topic)
        return Subscribe(topic, _parse_after(data.get("after"), topic.name))
    shown = op if isinstance(op, str) and len(op) <= 32 else "<missing or invalid>"
    raise ProtocolError(f'unknown op {shown!r}; use "subscribe", "unsubscribe", "ping" or "pong"')


# ---- server -> client -------------------------------------------------------------------------


def json_safe(value: Any) -> Any:
    """`value` with non-finite floats replaced by None: browsers' JSON.parse rejects NaN and
    Infinity, and a diverged loss must not break the whole stream."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def _dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def event_message(topic: str, seq: int, ts: float | None, data: dict[str, Any]) -> str:
    """`{"type": "event", "topic", "seq", "ts", "data"}`, serialised once and shared by every
    subscriber of the topic."""
    return _dumps(
        {"type": "event", "topic": topic, "seq": seq, "ts": json_safe(ts), "data": json_safe(data)}
    )


def control_message(kind: str, **fields: Any) -> str:
    """Any non-event message: subscribed, unsubscribed, lagged, error, ping, pong."""
    return _dumps({"type": kind, **json_safe(fields)})


def error_message(message: str, topic: str | None = None) -> str:
    if topic is None:
        return control_message("error", message=message)
    return control_message("error", message=message, topic=topic)


def run_event_data(
    *,
    kind: str,
    name: str | None,
    step: int | None,
    value: float | None,
    attempt: int,
    payload: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "kind": kind,
        "name": name,
        "step": step,
        "value": value,
        "attempt": attempt,
        "payload": payload or {},
    }
