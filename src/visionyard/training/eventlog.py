"""The ``events.jsonl`` event stream: its contract and :class:`EventLog`, its only writer.

``events.jsonl`` (in the run directory) is append-only, one JSON object per line, written by one
process (rank 0). The agent tails it and relays each event into the database; the dashboard shows
them live. Every event carries:

- ``seq``: int, strictly increasing within the file, continued across resumes;
- ``time``: float, unix seconds;
- ``type``: one of the types below, plus that type's fields.

Event types the trainer emits:

``state``       ``state`` (starting | running | resumed | stopping | stopped | succeeded |
                failed | canceled) plus free-form info fields (e.g. ``reason``, ``epoch``).
                ``stopped``: the trainer honoured a stop/drain request, saved a resumable
                checkpoint and exited; the supervisor decides whether that means re-queue or
                canceled.
``log``         ``level`` (debug | info | warning | error), ``message``.
``metrics``     ``split`` (train | val | test), ``epoch``, ``step``, ``values`` {name: float}.
``train_step``  ``step``, ``epoch``, ``loss``, ``lr`` — every ``log_every`` optimizer steps.
``progress``    ``epoch``, ``epochs``, ``step``, ``total_steps``, ``eta_s``.
``checkpoint``  ``name`` (last | best | epoch_NNN), ``path`` (relative to the run directory when
                inside it), ``epoch``, ``step``, ``metric`` (monitored value or null).
``artifact``    ``kind`` (e.g. model, report, results, confusion_matrix), ``path`` (as for
                checkpoint).

Non-finite floats (NaN, ±Infinity) are written as ``null``: strict JSON has no spelling for them
(``json.dumps`` would emit the invalid token ``NaN``), and ``null`` is what chart libraries treat as
a gap. A diverged loss therefore appears as ``"loss": null``.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["EVENT_TYPES", "LOG_LEVELS", "RUN_STATES", "EventLog"]

EVENT_TYPES = frozenset(
    {"state", "log", "metrics", "train_step", "progress", "checkpoint", "artifact"}
)
RUN_STATES = frozenset(
    {"starting", "running", "resumed", "stopping", "stopped", "succeeded", "failed", "canceled"}
)
LOG_LEVELS = frozenset({"debug", "info", "warning", "error"})

_RESERVED_FIELDS = frozenset({"seq", "time", "type"})
_TAIL_BLOCK = 64 * 1024


def _jsonable(value: Any) -> Any:
    """Convert ``value`` to strict-JSON-safe builtins; non-finite floats become None."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # numpy scalars/arrays, torch tensors (host values only)
        return _jsonable(value.tolist())
    raise TypeError(f"event field of type {type(value).__name__} is not JSON-serialisable")


class EventLog:
    """Append-only events.jsonl: one JSON object per line. The agent tails this file and relays it.

    Reopening an existing file (a resumed run) continues ``seq`` after the last complete line. A
    torn last line (the process died mid-write) is truncated away, so the file stays a sequence of
    whole JSON lines and a tailing reader never sees the fragment glued to the next event.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._next_seq = self._recover() + 1
        # Unbuffered binary append: each event is written with as few write(2) calls as the OS
        # allows (normally one), so a reader sees whole lines as soon as emit() returns.
        self._fd: int | None = os.open(
            self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644
        )

    def _recover(self) -> int:
        """Drop a torn tail; return the last complete event's seq (0 if none)."""
        if not self.path.exists():
            return 0
        with open(self.path, "rb+") as fh:
            size = fh.seek(0, os.SEEK_END)
            pos, tail = size, b""
            # Read backwards until the window holds the last newline and the whole line before it.
            while pos > 0 and tail.count(b"\n") < 2:
                step = min(_TAIL_BLOCK, pos)
                pos -= step
                fh.seek(pos)
                tail = fh.read(step) + tail
            cut = tail.rfind(b"\n")
            keep = pos + cut + 1  # up to and including the last newline; 0 if there is none
            if keep < size:
                fh.truncate(keep)
                fh.flush()
                os.fsync(fh.fileno())
        lines = tail[: cut + 1].split(b"\n")
        if pos > 0:
            lines = lines[1:]  # the window may start mid-line
        # Walk complete lines from the end; a line without a valid seq is skipped, not fatal.
        for line in reversed(lines):
            if not line.strip():
                continue
            try:
                seq = json.loads(line)["seq"]
            except (ValueError, KeyError, TypeError):
                continue
            if isinstance(seq, int) and not isinstance(seq, bool):
                return seq
        # Rare: nothing parseable near the end of a long file; scan it all.
        return self._scan_full() if pos > 0 else 0

    def _scan_full(self) -> int:
        last = 0
        with open(self.path, "rb") as fh:
            for line in fh:
                try:
                    seq = json.loads(line)["seq"]
                except (ValueError, KeyError, TypeError):
                    continue
                if isinstance(seq, int) and not isinstance(seq, bool):
                    last = seq
        return last

    @property
    def next_seq(self) -> int:
        return self._next_seq

    def emit(self, type: str, **fields: Any) -> dict[str, Any]:
        """Append one event; returns it (with ``seq``/``time``, values as written)."""
        clash = _RESERVED_FIELDS.intersection(fields)
        if clash:
            raise ValueError(f"event fields {sorted(clash)} are reserved by EventLog")
        with self._lock:
            if self._fd is None:
                raise ValueError(f"EventLog {self.path} is closed")
            event: dict[str, Any] = _jsonable(
                {"seq": self._next_seq, "time": time.time(), "type": type, **fields}
            )
            data = (
                json.dumps(event, allow_nan=False, ensure_ascii=False, separators=(",", ":")) + "\n"
            ).encode("utf-8")
            view = memoryview(data)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            self._next_seq += 1
        return event

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
