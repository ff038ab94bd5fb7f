"""The trainer's process group is signalled only while its id is still the trainer's.

A reaped leader frees its pid; with pid_max at 32768 and every thread using a pid, the id comes
round again, and a new session leader (any program started with setsid) can get it. The agent
used to SIGKILL the old group id after reaping the trainer: once, in CI, it killed another test's
freshly started process that had been handed that pid.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import psutil
import pytest

from visionyard.agent.process import TrainerProcess


def _start(tmp_path: Path, code: str) -> TrainerProcess:
    return TrainerProcess(
        [sys.executable, "-c", code], env=dict(os.environ), cwd=tmp_path, on_lines=lambda _: None
    )


def _poll_until_exited(proc: TrainerProcess) -> int:
    deadline = time.monotonic() + 30
    while (code := proc.poll()) is None:
        assert time.monotonic() < deadline, "the trainer did not exit"
        time.sleep(0.02)
    return code


def test_poll_sees_the_exit_but_keeps_the_leaders_pid_until_reap(tmp_path: Path) -> None:
    proc = _start(tmp_path, "raise SystemExit(3)")
    assert _poll_until_exited(proc) == 3
    # Still a zombie: its pid, and so its group id, cannot belong to anyone else yet.
    assert psutil.Process(proc.pid).status() == psutil.STATUS_ZOMBIE
    assert proc.poll() == 3
    assert proc.reap() == 3
    assert not psutil.pid_exists(proc.pid) or psutil.Process(proc.pid).ppid() != os.getpid()


def test_a_signal_death_reads_as_a_negative_code(tmp_path: Path) -> None:
    proc = _start(tmp_path, "import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    assert _poll_until_exited(proc) == -signal.SIGKILL
    assert proc.reap() == -signal.SIGKILL


def test_reap_kills_a_straggler_of_the_group(tmp_path: Path) -> None:
    # The leader starts a worker in its own group, says its pid, and exits without it.
    pid_file = tmp_path / "worker.pid"
    code = (
        "import subprocess, sys, pathlib; "
        "w = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); "
        f"pathlib.Path({str(pid_file)!r}).write_text(str(w.pid))"
    )
    proc = _start(tmp_path, code)
    assert _poll_until_exited(proc) == 0
    worker = psutil.Process(int(pid_file.read_text()))
    assert worker.is_running() and worker.status() != psutil.STATUS_ZOMBIE
    proc.reap()
    worker.wait(10)  # killed with its group
    assert not worker.is_running()


def test_after_reap_the_old_group_id_is_never_signalled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proc = _start(tmp_path, "pass")
    _poll_until_exited(proc)
    proc.reap()
    signalled: list[tuple[str, int]] = []

    # Recorded, never sent: the pid may already be someone else's, so no signal may go out,
    # neither to the group (kill) nor to the leader (request_stop).
    monkeypatch.setattr(os, "killpg", lambda pgid, _sig: signalled.append(("killpg", pgid)))
    monkeypatch.setattr(os, "kill", lambda pid, _sig: signalled.append(("kill", pid)))
    proc.kill()
    proc.request_stop()
    proc.reap()
    assert signalled == []


def test_output_arrives_as_the_lines_written_however_the_reads_cut_them(tmp_path: Path) -> None:
    # The reader takes what the pipe holds (up to 64 KiB a read) and splits it into lines: a
    # line cut across writes (mid multi-byte character too), CRLF and bare-CR progress lines,
    # empty lines, a line longer than one read, and a last line without a newline all come
    # out as written, in order.
    long_line = "z" * 150_000
    code = (
        "import os, sys, time\n"
        "out = sys.stdout.buffer\n"
        "def put(b):\n"
        "    out.write(b); out.flush(); time.sleep(0.02)\n"
        "put('first\\nsec'.encode())\n"
        "put('ond ✓'.encode()[:-2])\n"
        "put('ond ✓'.encode()[-2:] + b'\\r\\n\\n')\n"
        "put(b'10%\\r20%\\r30%\\n')\n"
        "put(b'z' * 150_000 + b'\\n')\n"
        "put(b'\\xff bad byte\\n')\n"
        "put(b'no newline at the end')\n"
    )
    batches: list[list[str]] = []
    proc = TrainerProcess(
        [sys.executable, "-c", code], env=dict(os.environ), cwd=tmp_path, on_lines=batches.append
    )
    _poll_until_exited(proc)
    proc.reap()
    lines = [line for batch in batches for line in batch]
    assert lines == [
        "first",
        "second ✓",
        "",
        "10%\r20%\r30%",
        long_line,
        "\ufffd bad byte",
        "no newline at the end",
    ]
    assert all(batches)  # no empty deliveries
