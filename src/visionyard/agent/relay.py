"""Relaying a running trainer into the database: its events file, its output, system samples.

Everything goes through the run queue's fenced writes (`write_events`, `record_checkpoint`), so a
stale attempt's relay is refused (StaleAttempt propagates: the caller kills its trainer). A batch
that fails on a transient database error stays pending and is sent again with the next one; the
stores are idempotent, so a batch that did commit before the error is not stored twice (R15).
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy.exc import OperationalError

from visionyard import runqueue
from visionyard.agent.dbhealth import DatabaseHealth
from visionyard.runqueue._db import DB

log = logging.getLogger(__name__)

_READ_LIMIT = 4 * 1024 * 1024  # bytes of events.jsonl read per pump
_TAIL_WINDOW = 64 * 1024
MAX_LINE_CHARS = 8192
#: output past the run's stored-log cap is kept on the agent's disk, in `<attempt log>` with
#: the suffix `.overflow.log`, up to this many bytes an attempt (a runaway trainer printing in
#: a loop must not fill the disk either); past it lines are only counted
MAX_OVERFLOW_BYTES = 1024**3
REDACTED = "[redacted]"


def complete_lines_end(path: Path) -> int:
    """Offset just after the file's last newline: where the next event will start. A torn last
    line (its writer died mid-write) is excluded; the next trainer truncates it away."""
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            start = max(0, size - _TAIL_WINDOW)
            fh.seek(start)
            window = fh.read()
    except FileNotFoundError:
        return 0
    cut = window.rfind(b"\n")
    if cut < 0:
        return start if start else 0
    return start + cut + 1


class EventTail:
    """Reads the complete lines appended to a trainer's events.jsonl since `offset`."""

    def __init__(self, path: Path, offset: int = 0) -> None:
        self.path = path
        self.offset = offset
        self.skipped = 0

    def read(self) -> list[dict[str, Any]]:
        try:
            with open(self.path, "rb") as fh:
                size = fh.seek(0, os.SEEK_END)
                if size < self.offset:  # replaced or truncated under us: start over
                    self.offset = 0
                fh.seek(self.offset)
                data = fh.read(_READ_LIMIT)
        except FileNotFoundError:
            return []
        cut = data.rfind(b"\n")
        if cut < 0:
            return []
        self.offset += cut + 1
        events = []
        for line in data[: cut + 1].splitlines():
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except ValueError:
                self.skipped += 1
                continue
            if isinstance(event, dict) and isinstance(event.get("type"), str):
                events.append(event)
            else:
                self.skipped += 1
        return events


def _level(line: str) -> str:
    if line.startswith(("error:", "Traceback", "visionyard: ")) or " ERROR " in line:
        return "error"
    if " WARNING " in line or "Warning:" in line:
        return "warning"
    return "info"


def earlier_output_bytes(agent_dir: Path, attempt: int) -> int:
    """Bytes of output the run's earlier attempts stored: each attempt's `attempt-N.log` mirrors
    exactly the lines it stored, and the folder is on the shared run storage, so this holds
    whichever agent ran them."""
    total = 0
    for earlier in range(1, attempt):
        with contextlib.suppress(OSError):
            total += (agent_dir / f"attempt-{earlier}.log").stat().st_size
    return total


class OutputLog:
    """The trainer's merged stdout/stderr: secrets redacted, stored up to the run's cap
    `max_bytes` less the `already_stored` bytes of its earlier attempts, then a visible marker;
    the last `tail_lines` lines are always kept, so a traceback at the end of a noisy attempt
    still reaches the logs. Mirrored to `path` on disk; the lines past the cap go to
    `overflow_path` on disk (up to `max_overflow_bytes`), which the marker names.

    `add_lines` is called from the process reader thread, `take` from the relay: hence the
    lock.
    """

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int,
        secrets: Sequence[str] = (),
        tail_lines: int = 100,
        already_stored: int = 0,
        max_overflow_bytes: int = MAX_OVERFLOW_BYTES,
    ) -> None:
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())
        self.overflow_path = path.with_name(f"{path.stem}.overflow.log")
        self._overflow: TextIO | None = None
        self._overflow_budget = max_overflow_bytes
        self.overflow_bytes = 0
        self._max_bytes = max_bytes
        self._budget = max(0, max_bytes - already_stored)
        self._secrets = [s for s in secrets if s]
        self._lock = threading.Lock()
        self._pending: list[dict[str, Any]] = []
        self._tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
        self._seq = 0
        self.stored_bytes = 0
        self.dropped_lines = 0
        self.dropped_bytes = 0
        self._closed = False

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def _append(self, line: str, level: str | None = None) -> None:
        self._seq += 1
        self._pending.append(
            {
                "type": "log",
                "seq": self._seq,
                "time": time.time(),
                "level": level or _level(line),
                "message": line,
                "source": "output",
            }
        )
        self._file.write(line + "\n")  # the caller flushes, once per batch

    def add(self, raw: str) -> None:
        self.add_lines([raw])

    def add_lines(self, raws: Iterable[str]) -> None:
        """Lines of output in order (without their newlines): redacted, cut to MAX_LINE_CHARS,
        then stored while the cap allows, else kept on disk and counted."""
        lines = []
        for raw in raws:
            line = self.redact(raw)
            if len(line) > MAX_LINE_CHARS:
                line = line[:MAX_LINE_CHARS] + f"… [{len(line) - MAX_LINE_CHARS} characters cut]"
            lines.append(line)
        with self._lock:
            if self._closed:
                return
            for line in lines:
                self._add_one(line)
            self._file.flush()

    def _add_one(self, line: str) -> None:
        size = (len(line) if line.isascii() else len(line.encode("utf-8"))) + 1
        self._tail.append(line)
        if self.stored_bytes + size <= self._budget:
            self.stored_bytes += size
            self._append(line)
            return
        if self.dropped_lines == 0:
            self._append(
                f"[visionyard] log output truncated: this run reached its cap of "
                f"{self._max_bytes} bytes over all its attempts "
                "(VISIONYARD_AGENT_MAX_LOG_BYTES); further lines are not stored, the last "
                "ones are shown when the trainer exits; the agent keeps them (up to "
                f"{self._overflow_budget} bytes) in {self.overflow_path} on its machine",
                level="warning",
            )
        self.dropped_lines += 1
        self.dropped_bytes += size
        self._keep_overflow(line, size)

    def _keep_overflow(self, line: str, size: int) -> None:
        # Buffered, unlike the stored lines' mirror: a flood writes here once per line.
        if self.overflow_bytes + size > self._overflow_budget:
            return
        if self._overflow is None:
            self._overflow = open(self.overflow_path, "a", encoding="utf-8")  # noqa: SIM115
        self._overflow.write(line + "\n")
        self.overflow_bytes += size

    def last_lines(self) -> list[str]:
        with self._lock:
            return list(self._tail)

    def take(self) -> list[dict[str, Any]]:
        with self._lock:
            events, self._pending = self._pending, []
            return events

    def close(self) -> None:
        """After the trainer exited (and its output was read to the end)."""
        with self._lock:
            if self._closed:
                return
            if self.dropped_lines:
                tail = list(self._tail)
                kept = (
                    f"{self.overflow_path} on the agent's machine holds them"
                    if self.overflow_bytes == self.dropped_bytes
                    else f"{self.overflow_path} on the agent's machine holds the first "
                    f"{self.overflow_bytes} bytes of them"
                )
                self._append(
                    f"[visionyard] {self.dropped_lines} lines ({self.dropped_bytes} bytes) of "
                    f"output were dropped from the stored log ({kept}); the last {len(tail)} lines "
                    "follow",
                    level="warning",
                )
                for line in tail:
                    self._append(line)
            self._closed = True
            self._file.flush()
            self._file.close()
            if self._overflow is not None:
                self._overflow.close()

    def error_message(self) -> str | None:
        """The trainer's one-line error (`error: ...` from the CLI), if it printed one."""
        lines = self.last_lines()
        for index in range(len(lines) - 1, -1, -1):
            if lines[index].startswith("error: "):
                # The CLI's message may span lines (a list of config problems).
                return "\n".join(lines[index:])[len("error: ") :][:4000]
        return None


class Relay:
    """Batches one attempt's events into the database."""

    def __init__(
        self,
        db: DB,
        *,
        run_id: int,
        attempt: int,
        agent_id: int,
        events: EventTail,
        output: OutputLog,
        db_health: DatabaseHealth | None = None,
    ) -> None:
        self.db = db
        self.db_health = db_health or DatabaseHealth()
        self.run_id = run_id
        self.attempt = attempt
        self.agent_id = agent_id
        self.events = events
        self.output = output
        self._pending: list[dict[str, Any]] = []
        self._checkpoints: list[dict[str, Any]] = []

    @property
    def idle(self) -> bool:
        """Nothing is waiting to be sent."""
        return not self._pending and not self._checkpoints

    def add_system_sample(self, values: dict[str, float], now: float | None = None) -> None:
        """A system sample as metrics "system/<name>"; its step is the unix time in seconds, so
        samples of successive attempts line up on one time axis."""
        if values:
            ts = time.time() if now is None else now
            self._pending.append(
                {
                    "type": "metrics",
                    "split": "system",
                    "step": int(ts),
                    "time": ts,
                    "values": values,
                }
            )

    def _collect(self, events: Iterable[dict[str, Any]]) -> None:
        for event in events:
            kind = event["type"]
            if kind == "log":
                continue  # the same lines arrive through the trainer's output, with the rest
            if kind == "checkpoint":
                self._checkpoints.append(event)
            self._pending.append(event)

    def pump(self) -> int:
        """Send what arrived since the last pump; returns the number of new rows stored.
        Raises StaleAttempt when this attempt is no longer the run's live one."""
        self._collect(self.events.read())
        self._pending.extend(self.output.take())
        if not self._pending and not self._checkpoints:
            return 0
        try:
            stored = 0
            if self._pending:
                stored = runqueue.write_events(
                    self.db, self.run_id, self.attempt, self._pending, agent_id=self.agent_id
                )
                self._pending = []
            while self._checkpoints:
                event = self._checkpoints[0]
                runqueue.record_checkpoint(
                    self.db,
                    self.run_id,
                    self.attempt,
                    str(event.get("name") or "checkpoint")[:64],
                    str(event.get("path") or "")[:1024],
                    event.get("epoch") if isinstance(event.get("epoch"), int) else None,
                    int(event.get("step") or 0),
                    event.get("metric"),
                    agent_id=self.agent_id,
                )
                self._checkpoints.pop(0)
        except OperationalError as exc:
            self.db_health.failed(f"relaying the events of run {self.run_id}", exc)
            return 0
        self.db_health.ok()
        return stored
