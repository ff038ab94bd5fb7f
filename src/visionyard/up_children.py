"""The processes `visionyard up` runs and watches: its dashboard and its local agents.

Each child runs in its own session (a Ctrl-C in the terminal reaches `up` only, which then stops
every child exactly once: a second SIGTERM would tell an agent to kill its trainer at once) and
is tied to `up`'s life by PDEATHSIG. The kernel sends that signal when the *thread* that started
the child ends, so only `up`'s main thread starts children, and it is also the one that watches
them (`watch`, a few times a second):

- An agent that dies (a crash, `kill -9`, the OOM killer) is logged with its name, pid and exit
  code or signal, and started again after a back-off (`Backoff`: 1 s, doubling up to 30 s, back
  to 1 s once the agent has stayed up for 60 s), so a crash loop costs one start every 30 s, not
  a busy loop. The new agent reports the run its earlier life held as crashed, which re-queues it
  at once, and claims it again: the run resumes from its newest checkpoint without waiting for
  its lease to expire (what `visionyard.agent.service.Agent.start` does for any restarted agent).
- The dashboard is not restarted: `up` treats its death as the platform's (see `run_platform`).

`up` used to start its agents and never look at them again: a killed agent stayed dead, with no
log line, until the whole platform was restarted.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence

from visionyard.agent.gpus import discover_gpus
from visionyard.agent.process import _die_with_parent

log = logging.getLogger("visionyard.up")

AGENT_DRAIN_SECONDS = 60.0
DASHBOARD_STOP_SECONDS = 15.0


def describe_exit(code: int) -> str:
    """`exited with code 1`, `killed by SIGKILL`: how a child ended, for a person to read."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


@dataclasses.dataclass
class Backoff:
    """Delay before starting a dead agent again: `initial`, doubling after each death that came
    within `stable_after` seconds of its start, at most `cap`; an agent that stayed up at least
    `stable_after` seconds before dying starts again after `initial`."""

    initial: float = 1.0
    cap: float = 30.0
    stable_after: float = 60.0
    current: float = 0.0  # the last delay given; 0 before the first death

    def after_death(self, uptime: float) -> float:
        if self.current == 0.0 or uptime >= self.stable_after:
            self.current = self.initial
        else:
            self.current = min(self.cap, self.current * 2)
        return self.current


class Child:
    """One child process of `up`: its own session, SIGKILLed by the kernel if `up` dies."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str]) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def start(self) -> int:
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self.started_at = time.monotonic()
        return self.proc.pid

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def exit_code(self) -> int | None:
        """None while it runs (or before it started); its exit status once it ended (reaped)."""
        return None if self.proc is None else self.proc.poll()

    def uptime(self) -> float:
        return time.monotonic() - self.started_at

    def signal(self, sig: signal.Signals) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait_or_kill(self, timeout: float) -> None:
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pid = self.proc.pid
            log.warning(
                "%s (pid %s) did not stop within %.0f s: killing it", self.name, pid, timeout
            )
            self.proc.kill()
            self.proc.wait()


def child_env(overrides: Mapping[str, str], drop: Sequence[str] = ()) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(overrides)
    return env


def agent_commands(cpu_only: bool) -> list[tuple[str, list[str]]]:
    """(agent name, argv): one agent per visible GPU, or one CPU agent."""
    base = [sys.executable, "-m", "visionyard.cli", "agent"]
    host = "".join(c if c.isalnum() or c in "._-" else "-" for c in socket.gethostname())[:96]
    gpus = [] if cpu_only else discover_gpus()
    if not gpus:
        return [(f"{host}-cpu", [*base, "--device", "cpu", "--name", f"{host}-cpu"])]
    return [
        (
            f"{host}-gpu{g.index}",
            [*base, "--gpu-index", str(g.index), "--name", f"{host}-gpu{g.index}"],
        )
        for g in gpus
    ]


@dataclasses.dataclass
class _Agent:
    child: Child
    backoff: Backoff
    restart_at: float | None = None  # monotonic time of the next start, while it is dead


class LocalAgents:
    """The agent processes of this machine, kept running: see the module docstring."""

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        cpu_only: bool = False,
        backoff: Backoff | None = None,
        commands: Sequence[tuple[str, list[str]]] | None = None,
    ) -> None:
        self.env = dict(env)
        self.cpu_only = cpu_only
        self._backoff = backoff or Backoff()
        #: (name, argv) of each agent; None: `agent_commands` decides when they start
        self._commands = commands
        self.agents: list[_Agent] = []

    def start(self) -> list[str]:
        commands = self._commands or agent_commands(self.cpu_only)
        for name, argv in commands:
            child = Child(f"agent {name}", argv, self.env)
            child.start()
            self.agents.append(_Agent(child, dataclasses.replace(self._backoff)))
        return [a.child.name.removeprefix("agent ") for a in self.agents]

    def watch(self) -> None:
        """Log agents that died since the last call and start those whose back-off is over."""
        now = time.monotonic()
        for agent in self.agents:
            child = agent.child
            if agent.restart_at is None:
                code = child.exit_code()
                if code is None:
                    continue
                delay = agent.backoff.after_death(child.uptime())
                agent.restart_at = now + delay
                log.error(
                    "%s (pid %s) died: %s; starting it again in %g s",
                    child.name,
                    child.pid,
                    describe_exit(code),
                    delay,
                )
            elif now >= agent.restart_at:
                agent.restart_at = None
                pid = child.start()
                log.warning("%s started again (pid %s)", child.name, pid)

    def pids(self) -> list[int]:
        return [a.child.pid for a in self.agents if a.child.pid is not None]

    def hurry(self) -> None:
        """A second SIGTERM: each agent kills its trainer at once instead of waiting for a
        checkpoint (the first one was sent by `stop`)."""
        for agent in self.agents:
            agent.child.signal(signal.SIGTERM)

    def stop(self, timeout: float = AGENT_DRAIN_SECONDS) -> None:
        """One SIGTERM each: running trainers checkpoint and their runs go back to the queue."""
        for agent in self.agents:
            agent.restart_at = None
            agent.child.signal(signal.SIGTERM)
        for agent in self.agents:
            agent.child.wait_or_kill(timeout)
