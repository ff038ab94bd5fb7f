"""`visionyard up` keeps its agents running: each death is logged with its exit code or signal and
followed by a restart after a back-off that doubles up to a cap (a crash loop must not spin) and
starts over once an agent has stayed up a while."""

from __future__ import annotations

import logging
import signal
import sys
import time

import pytest

from visionyard.up_children import Backoff, LocalAgents, describe_exit


def test_the_backoff_doubles_to_its_cap_and_starts_over_after_a_stable_run() -> None:
    backoff = Backoff(initial=1.0, cap=30.0, stable_after=60.0)
    delays = [backoff.after_death(uptime=2.0) for _ in range(7)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert backoff.after_death(uptime=61.0) == 1.0  # it had stayed up: a fresh start
    assert backoff.after_death(uptime=0.5) == 2.0


def test_exits_are_described_by_code_or_signal() -> None:
    assert describe_exit(1) == "exited with code 1"
    assert describe_exit(0) == "exited with code 0"
    assert describe_exit(-signal.SIGKILL) == "killed by SIGKILL"
    assert describe_exit(-signal.SIGSEGV) == "killed by SIGSEGV"


def test_a_crash_loop_is_logged_and_slowed_down_not_spun(caplog: pytest.LogCaptureFixture) -> None:
    """A real process that exits at once, watched as `up` watches its agents for 3 s."""
    crash = [sys.executable, "-c", "import sys; sys.exit(3)"]
    agents = LocalAgents(
        {}, backoff=Backoff(initial=0.2, cap=0.8, stable_after=60.0), commands=[("loop", crash)]
    )
    caplog.set_level(logging.INFO, logger="visionyard.up")
    try:
        assert agents.start() == ["loop"]
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            agents.watch()
            time.sleep(0.02)
    finally:
        agents.stop(timeout=5)
    deaths = [r.getMessage() for r in caplog.records if "died" in r.getMessage()]
    # delays 0.2, 0.4, 0.8, 0.8, ...: at most 6 starts in 3 s (plus each start's own time),
    # where a loop without back-off would start hundreds
    assert 2 <= len(deaths) <= 6, deaths
    assert deaths[0].startswith("agent loop (pid ")
    assert deaths[0].endswith("died: exited with code 3; starting it again in 0.2 s")
    restarts = [r.getMessage() for r in caplog.records if "started again" in r.getMessage()]
    assert len(restarts) in (len(deaths) - 1, len(deaths))
