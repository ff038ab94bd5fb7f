"""Supervisor liveness: a trainer started by an agent never outlives (or outruns) that agent.

The agent sets VISIONYARD_SUPERVISOR_FILE to a file it touches every few seconds and
VISIONYARD_SUPERVISOR_TIMEOUT to how many seconds without a touch mean it is gone. A daemon thread
in the trainer exits the process hard when its parent changes (the agent, or torchrun for DDP
workers, died) or the file goes stale (the agent is frozen, stopped or dead).

Why a hard exit and no last checkpoint: once the agent's lease lapses another agent may already be
resuming this run in the same folder, and a checkpoint written now could race its writes.

The file should live on a local disk: its mtime is compared with this host's clock.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import NoReturn

from visionyard.errors import VisionyardError
from visionyard.exitcodes import EXIT_SUPERVISOR_LOST

SUPERVISOR_FILE_ENV = "VISIONYARD_SUPERVISOR_FILE"
SUPERVISOR_TIMEOUT_ENV = "VISIONYARD_SUPERVISOR_TIMEOUT"
DEFAULT_TIMEOUT_S = 30.0
POLL_INTERVAL_S = 0.5

# If this thread itself went this long between polls, the whole machine or process was
# suspended (laptop sleep, SIGSTOP of the process group); the agent wakes with us and gets one
# timeout to touch its file again before we judge it.
_SELF_FROZEN_S = 5.0


def _timeout_from(environ: Mapping[str, str]) -> float:
    raw = environ.get(SUPERVISOR_TIMEOUT_ENV)
    if raw is None or raw.strip() == "":
        return DEFAULT_TIMEOUT_S
    try:
        timeout = float(raw)
    except ValueError:
        timeout = float("nan")
    if not timeout > 0 or timeout == float("inf"):
        raise VisionyardError(
            f"{SUPERVISOR_TIMEOUT_ENV}={raw!r} is not a positive number of seconds; "
            f"set it to e.g. 30, or unset {SUPERVISOR_FILE_ENV} to run without a supervisor"
        )
    return timeout


def _write_stderr(line: str) -> None:
    # os.write on fd 2, not sys.stderr: another thread may hold sys.stderr's lock, and a dead
    # agent's pipe raises EPIPE, which must not stop the exit.
    with suppress(OSError):
        os.write(2, line.encode())


def _exit_supervisor_lost(reason: str) -> NoReturn:
    line = (
        f"visionyard: supervisor lost ({reason}); exiting so that no orphan trainer keeps running\n"
    )
    # A frozen agent leaves its stderr pipe full and a write would block: give it a second.
    writer = threading.Thread(target=_write_stderr, args=(line,), daemon=True)
    writer.start()
    writer.join(timeout=1.0)
    os._exit(EXIT_SUPERVISOR_LOST)


def _file_age_s(path: Path) -> float | None:
    """Seconds since the file was last touched; None if it cannot be read (missing, or e.g. a
    stale NFS handle: either way no sign of life)."""
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return None


def _watch(path: Path, timeout: float, parent_pid: int) -> None:
    last_poll = time.monotonic()
    last_poll_wall = time.time()  # the monotonic clock stands still while the machine sleeps
    last_seen = last_poll  # when the file was last seen fresh (start counts): for a missing file
    judge_from = last_poll  # no verdict on an existing file's age before this moment
    while True:
        time.sleep(POLL_INTERVAL_S)
        now, now_wall = time.monotonic(), time.time()
        if max(now - last_poll, now_wall - last_poll_wall) > _SELF_FROZEN_S:
            last_seen = now
            judge_from = now + timeout
        last_poll, last_poll_wall = now, now_wall

        if os.getppid() != parent_pid:
            _exit_supervisor_lost(f"parent process {parent_pid} exited")
        age = _file_age_s(path)
        if age is None:
            if now - last_seen > timeout:
                _exit_supervisor_lost(f"{path} missing for over {timeout:g} s")
        elif age <= timeout:
            last_seen = now
        elif now >= judge_from:
            _exit_supervisor_lost(f"{path} not touched for {age:.1f} s, timeout {timeout:g} s")


def start_supervisor_watchdog(
    environ: Mapping[str, str] = os.environ,
) -> threading.Thread | None:
    """Start the watchdog thread if an agent supervises this process; None when none does.

    Exits the process with EXIT_SUPERVISOR_LOST when the parent process changes or the
    supervisor file is older than the timeout (a missing file: the timeout counts from start).
    """
    raw_path = environ.get(SUPERVISOR_FILE_ENV)
    if not raw_path:
        return None
    timeout = _timeout_from(environ)
    thread = threading.Thread(
        target=_watch,
        args=(Path(raw_path), timeout, os.getppid()),
        name="visionyard-supervisor-watchdog",
        daemon=True,
    )
    thread.start()
    return thread
