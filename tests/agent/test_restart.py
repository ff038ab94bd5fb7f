"""An agent restarted after a crash cleans up what its earlier life left: the run still marked
running on it is failed over (and resumed), a leftover trainer group is killed, and a second live
agent of the same name is refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.agent.platform import Platform
from tests.agent.test_reliability import SHORT_REST
from visionyard.agent.statefile import AgentState, StateFile
from visionyard.db.models import RunState


@pytest.mark.slow
def test_a_restarted_agent_fails_over_the_run_it_was_running(platform: Platform) -> None:
    p = platform
    run_id = p.enqueue(p.config(**SHORT_REST))
    agent = p.start_agent("phoenix")
    p.wait_for("a checkpoint", lambda: any(c.step >= 20 for c in p.checkpoints(run_id)))
    os.killpg(agent.pid, signal.SIGKILL)
    agent.wait(10)
    p.start_agent("phoenix")  # at once: the lease has not expired yet
    p.wait_for(
        "the restarted agent to hand the run back",
        lambda: "left running by an earlier life" in p.agent_log("phoenix"),
        timeout=60,
    )
    run = p.wait_state(run_id, "succeeded", "failed")
    assert run.state == RunState.succeeded, run.error
    assert run.attempt == 2 and run.restarts == 1


def _sleeper(tmp_path: Path, *marker: str) -> subprocess.Popen:
    # argv carries the marker, as a real trainer's or agent's command line would
    return subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", *marker],
        start_new_session=True,
        cwd=tmp_path,
    )


def test_a_leftover_trainer_group_is_killed_and_a_live_namesake_refused(tmp_path: Path) -> None:
    state = StateFile(tmp_path, "box-cpu")
    trainer = _sleeper(tmp_path, "-m", "visionyard.training")
    namesake = _sleeper(tmp_path, "visionyard", "agent")
    try:
        state.write(AgentState(agent_pid=namesake.pid, trainer_pgid=trainer.pid, run_id=1))
        assert state.other_live_agent() == namesake.pid
        assert state.kill_leftover_trainer() == trainer.pid
        assert trainer.wait(10) == -signal.SIGKILL
        namesake.kill()
        namesake.wait(10)
        assert state.other_live_agent() is None  # dead: its name is free again
    finally:
        for proc in (trainer, namesake):
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_an_unrelated_process_reusing_the_pid_is_left_alone(tmp_path: Path) -> None:
    state = StateFile(tmp_path, "box-cpu")
    bystander = _sleeper(tmp_path, "not-a-trainer")
    try:
        state.write(AgentState(agent_pid=bystander.pid, trainer_pgid=bystander.pid))
        assert state.kill_leftover_trainer() is None
        assert state.other_live_agent() is None
        time.sleep(0.2)
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()
