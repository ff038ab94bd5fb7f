"""The trainer subprocess: its own process group, tied to the agent's life, stopped politely
first and killed as a group when politeness runs out.

- `start_new_session`: the trainer, its DataLoader workers and (for DDP) torchrun's workers form
  one process group the agent can kill at once, and a Ctrl-C in the agent's terminal is not
  delivered to them behind the agent's back.
- PR_SET_PDEATHSIG (Linux): the kernel SIGKILLs the trainer the moment the agent dies, even by
  `kill -9`. Its own watchdog (visionyard.training.watchdog) covers torchrun's workers and other
  platforms, and a frozen agent.
- A stop request (cancel, drain) is SIGTERM to the group leader only: the trainer checkpoints and
  exits (torchrun forwards it to its workers). Signalling the whole group would also kill the
  DataLoader workers under the trainer's feet and turn a clean stop into a crash.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
# Loaded once here: between fork and exec the child may only make async-signal-safe calls, and
# find_library() would spawn a process.
_LIBC = (
    ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if sys.platform.startswith("linux")
    else None
)


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


# Up to this much of the trainer's output is read at once: a quiet trainer's line arrives as
# soon as it is written, a flooding one's lines in batches (one call, one lock, one file flush
# per batch in the relay instead of per line: bench/output_relay_bench.py).
_READ_BYTES = 64 * 1024


class TrainerProcess:
    """One running trainer; `on_lines` receives the complete lines of its merged stdout/stderr
    (from a reader thread) as text without the newlines, in order, as many as one read brought
    (a last line without a newline comes at end of file)."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        on_lines: Callable[[list[str]], None],
    ) -> None:
        # Must be called from a thread that outlives the child: PDEATHSIG fires when the
        # creating *thread* exits. The agent starts trainers from its main thread.
        self._proc = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self.pid = self._proc.pid
        self.pgid = self._proc.pid  # a new session makes the child its group's leader
        self._reader = threading.Thread(
            target=self._read, args=(on_lines,), name=f"trainer-{self.pid}-output", daemon=True
        )
        self._reader.start()

    def _read(self, on_lines: Callable[[list[str]], None]) -> None:
        assert self._proc.stdout is not None
        # The start of a line whose newline has not come yet. Grown in place: a progress bar
        # redrawn with carriage returns only is one line arriving in many small reads, and
        # re-joining it on every read would cost time quadratic in its length.
        partial = bytearray()
        with self._proc.stdout as stdout:
            # os.read returns what the pipe holds (up to the limit) without waiting for more.
            while chunk := os.read(stdout.fileno(), _READ_BYTES):
                end = chunk.rfind(b"\n")
                if end < 0:
                    partial += chunk
                    continue
                complete = bytes(partial + chunk[:end]) if partial else chunk[:end]
                partial = bytearray(chunk[end + 1 :])
                # Decoding the complete lines at once equals decoding each: no UTF-8 sequence
                # contains a newline byte.
                text = complete.decode("utf-8", errors="replace")
                self._deliver(on_lines, [line.rstrip("\r") for line in text.split("\n")])
            if partial:
                self._deliver(on_lines, [partial.decode("utf-8", errors="replace").rstrip("\r")])

    @staticmethod
    def _deliver(on_lines: Callable[[list[str]], None], lines: list[str]) -> None:
        try:
            on_lines(lines)
        except Exception:  # a relay bug must not stop the draining of the pipe
            log.exception("dropping %d lines of trainer output", len(lines))

    def poll(self) -> int | None:
        """The leader's exit code once it has exited, else None, WITHOUT reaping it.

        While the exited leader stays an unreaped zombie the kernel keeps its pid, so the group
        id cannot be handed to another process and `kill`/`reap` may still signal the group.
        Once reaped, the pid is free (pid_max is often only 32768, and threads use pids too):
        signalling the old group id could SIGKILL an unrelated process that got it.
        """
        if self._proc.returncode is not None:
            return self._proc.returncode
        try:
            info = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:  # already reaped elsewhere
            return self._proc.poll()
        if info is None:
            return None
        return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status

    def request_stop(self) -> None:
        """SIGTERM to the trainer itself: checkpoint and exit (exit code 3)."""
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL the whole process group (trainer, its workers, torchrun's workers), as long as
        the leader is not reaped (see `poll`): after that the group id may name someone else."""
        if self._proc.returncode is None:
            kill_group(self.pgid)

    def finish_output(self, timeout: float = 5.0) -> None:
        """Wait for the reader to see end of file (the last lines are relayed too)."""
        self._reader.join(timeout)

    def reap(self) -> int:
        """After the leader exited: kill stragglers in its group (a worker that outlived it),
        then reap the leader and return its exit code. In this order, because the unreaped
        leader is what keeps the group id from being reused (see `poll`)."""
        self.kill()
        code = self._proc.wait()
        self.finish_output()
        return code
