"""What an agent leaves on local disk so that its next life can clean up after a crash.

`<data_dir>/agents/<name>.json` names the agent's pid and its current trainer's process group.
A restarted agent kills a trainer group its previous life left running (normally PDEATHSIG and
the trainer's watchdog already did) and refuses to start while that earlier agent still lives.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from visionyard.agent.process import group_alive, kill_group
from visionyard.training.fsutil import atomic_write_json


@dataclass
class AgentState:
    agent_pid: int
    trainer_pgid: int | None = None
    run_id: int | None = None
    attempt: int | None = None


def _cmdline(pid: int) -> list[str]:
    try:
        return psutil.Process(pid).cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return []


def _is_agent(pid: int) -> bool:
    """A pid may have been recycled: check it still runs a Visionyard agent."""
    parts = _cmdline(pid)
    return "agent" in parts and any("visionyard" in part for part in parts)


def _is_trainer(pid: int) -> bool:
    return any("visionyard.training" in part for part in _cmdline(pid))


class StateFile:
    def __init__(self, data_dir: Path, agent_name: str) -> None:
        self.path = data_dir / "agents" / f"{agent_name}.json"

    def read(self) -> AgentState | None:
        try:
            return AgentState(**json.loads(self.path.read_text()))
        except (FileNotFoundError, ValueError, TypeError):
            return None

    def write(self, state: AgentState) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.path, asdict(state))

    def other_live_agent(self) -> int | None:
        """The pid of an earlier agent of this name that is still running, if any."""
        previous = self.read()
        if previous is None or previous.agent_pid == os.getpid():
            return None
        if _is_agent(previous.agent_pid):
            return previous.agent_pid
        return None

    def kill_leftover_trainer(self) -> int | None:
        """Kill the trainer group an earlier life left behind; returns its pgid if it did."""
        previous = self.read()
        if previous is None or previous.trainer_pgid is None:
            return None
        pgid = previous.trainer_pgid
        if group_alive(pgid) and _is_trainer(pgid):
            kill_group(pgid)
            return pgid
        return None
