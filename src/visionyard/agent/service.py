"""The agent's life: authenticate, register, clean up after an earlier crash, then claim and
supervise runs one at a time until told to stop.

Signals: the first SIGTERM/SIGINT drains (the running trainer checkpoints, the run is re-queued
without charging a restart, the agent exits); a second one kills the trainer group at once and
exits. An operator's "drain" flag (dashboard) hands the current run back the same way but keeps
the agent alive and idle until it is un-drained.

Housekeeping runs in every loop, idle or supervising: the agent heartbeat (which also reads the
drain flag) and the lease reaper, so a platform of agents without a dashboard still re-queues the
runs of dead agents.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from sqlalchemy.exc import OperationalError

from visionyard import __version__, runqueue
from visionyard.agent.dbhealth import DatabaseHealth
from visionyard.agent.launch import AgentDevices, LaunchRefused, prepare_launch
from visionyard.agent.process import TrainerProcess
from visionyard.agent.statefile import AgentState, StateFile
from visionyard.agent.supervisor import (
    Control,
    Outcome,
    Supervision,
    SupervisionOptions,
    supervisor_timeout,
)
from visionyard.agent.tokens import ModelTokens
from visionyard.errors import AuthenticationError, ConflictError, PermissionDeniedError
from visionyard.runqueue import ClaimedRun
from visionyard.runqueue._db import DB
from visionyard.runqueue.errors import StaleAttempt

log = logging.getLogger("visionyard.agent")


@dataclass(frozen=True)
class AgentSetup:
    """Everything an agent needs, resolved from settings and the command line."""

    name: str
    devices: AgentDevices
    gpus: list[dict[str, Any]]
    runs_root: Path
    datasets_root: Path
    models_root: Path
    data_dir: Path
    secret_key: str | None
    lease_seconds: float
    reaper_interval: float
    idle_wait: float
    supervision: SupervisionOptions
    #: seconds between heartbeats (None: a third of the lease); the dashboard shows the agent
    #: offline once its last heartbeat is two intervals old
    heartbeat_interval: float | None = None

    @property
    def heartbeat_seconds(self) -> float:
        return self.heartbeat_interval or self.lease_seconds / 3


class Agent:
    def __init__(
        self,
        db: DB,
        setup: AgentSetup,
        *,
        sampler: Any | None = None,
        busy_gpus: Callable[[], str | None] | None = None,
        check_credential: Callable[[], object] | None = None,
    ) -> None:
        self.db = db
        self.setup = setup
        self.control = Control()
        self.exiting = False
        self.drained = False
        self.agent_id: int | None = None
        self.state_file = StateFile(setup.data_dir, setup.name)
        # Trainer liveness files: local, private to this agent process (mkdtemp: mode 0700, a
        # fresh name), never on the shared storage (see launch).
        self.liveness_dir = Path(tempfile.mkdtemp(prefix=f"visionyard-agent-{setup.name}-"))
        self.tokens = ModelTokens(db, data_dir=setup.data_dir, secret_key=setup.secret_key)
        self.sampler = sampler
        self._busy_gpus = busy_gpus
        # Re-checks the agent's API token (raises AuthenticationError / PermissionDeniedError):
        # revoking it must stop the agent, not only its next start.
        self._check_credential = check_credential
        self._next_credential_check = 0.0
        self.exit_code = 0
        self.db_health = DatabaseHealth()
        self._trainer: TrainerProcess | None = None
        self._next_heartbeat = 0.0
        self._next_reap = 0.0
        self._busy_reported: str | None = None
        self.outcomes: list[Outcome] = []

    # ---- signals --------------------------------------------------------------------------------

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.exiting:
            log.warning("%s again: killing the trainer and exiting now", name)
            self.control.kill_now = True
            if self._trainer is not None:
                self._trainer.kill()
            return
        log.info("%s: draining (the running trainer checkpoints and its run is re-queued)", name)
        self.exiting = True
        self.control.drain = True

    def install_signals(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)

    # ---- start ----------------------------------------------------------------------------------

    def start(self) -> int:
        other = self.state_file.other_live_agent()
        if other is not None:
            raise ConflictError(
                f"another agent named {self.setup.name!r} is running (pid {other}); give this one "
                "another --name, or stop that one first"
            )
        killed = self.state_file.kill_leftover_trainer()
        if killed is not None:
            log.warning("killed trainer process group %s left behind by an earlier crash", killed)
        self.state_file.write(AgentState(agent_pid=os.getpid()))
        self.agent_id = runqueue.register_agent(
            self.db,
            name=self.setup.name,
            hostname=socket.gethostname(),
            device=self.setup.devices.describe(),
            gpus=self.setup.gpus,
            version=__version__,
        )
        for run_id, attempt in runqueue.runs_held_by(self.db, self.agent_id):
            try:
                state = runqueue.finish_run(
                    self.db,
                    run_id,
                    attempt,
                    self.agent_id,
                    "crashed",
                    "the agent restarted while running this attempt",
                )
                log.warning(
                    "run %s attempt %s was left running by an earlier life: %s",
                    run_id,
                    attempt,
                    state.value,
                )
            except StaleAttempt:
                pass
        log.info(
            "agent %r (id %s) serving %s; runs under %s",
            self.setup.name,
            self.agent_id,
            self.setup.devices.describe(),
            self.setup.runs_root,
        )
        return self.agent_id

    # ---- housekeeping ---------------------------------------------------------------------------

    def housekeeping(self) -> None:
        assert self.agent_id is not None
        now = time.monotonic()
        try:
            if now >= self._next_heartbeat:
                self._next_heartbeat = now + self.setup.heartbeat_seconds
                drained = runqueue.agent_heartbeat(self.db, self.agent_id)
                self.db_health.ok()
                if drained != self.drained:
                    log.info("agent %s by an operator", "drained" if drained else "un-drained")
                self.drained = drained
                self.control.drain = self.exiting or drained
            if self._check_credential is not None and now >= self._next_credential_check:
                self._next_credential_check = now + self.setup.lease_seconds
                self._credential_still_valid()
            if now >= self._next_reap:
                self._next_reap = now + self.setup.reaper_interval
                result = runqueue.reap_expired(self.db)
                if result.requeued or result.failed:
                    log.info("reaper: re-queued %s, failed %s", result.requeued, result.failed)
        except OperationalError as exc:
            self.db_health.failed("heartbeating", exc)

    def _credential_still_valid(self) -> None:
        assert self._check_credential is not None
        try:
            self._check_credential()
        except (AuthenticationError, PermissionDeniedError) as exc:
            if not self.exiting:
                log.error("%s: handing back the current run and stopping", exc)
            # As a drain: the trainer checkpoints and its run is re-queued without a restart.
            self.exiting = True
            self.control.drain = True
            self.exit_code = exc.exit_code

    def _pause(self, wanted: float) -> float:
        """How long an idle wait may last: never past the next heartbeat, which the dashboard's
        liveness allows to be late by one interval at most."""
        until_heartbeat = self._next_heartbeat - time.monotonic()
        return max(0.05, min(wanted, self.setup.lease_seconds / 3, until_heartbeat))

    def _gpu_busy(self) -> str | None:
        if self._busy_gpus is None or self.setup.devices.is_cpu:
            return None
        return self._busy_gpus()

    # ---- main loop ------------------------------------------------------------------------------

    def run(self) -> int:
        """Serve until drained by a signal; returns the process exit code."""
        if self.agent_id is None:
            self.start()
        waiter = runqueue.WorkWaiter(self.db)
        try:
            while not self.exiting:
                self.housekeeping()
                if self.drained:
                    time.sleep(self._pause(min(1.0, self.setup.idle_wait)))
                    continue
                busy = self._gpu_busy()
                if busy != self._busy_reported:
                    if busy:
                        log.warning("not claiming: %s", busy)
                    self._busy_reported = busy
                if busy:
                    time.sleep(self._pause(min(5.0, self.setup.idle_wait)))
                    continue
                try:
                    claimed = runqueue.claim_next(
                        self.db,
                        # start() registered the agent (an int) before the loop runs.
                        agent_id=self.agent_id,  # type: ignore[arg-type]
                        capacity=self.setup.devices.capacity,
                        lease_seconds=self.setup.lease_seconds,
                    )
                except OperationalError as exc:
                    self.db_health.failed("claiming a run", exc)
                    time.sleep(1.0)
                    continue
                if claimed is None:
                    waiter.wait_for_work(self._pause(self.setup.idle_wait))
                    continue
                self.outcomes.append(self.serve(claimed))
        finally:
            waiter.close()
            if self.sampler is not None:
                self.sampler.close()
            shutil.rmtree(self.liveness_dir, ignore_errors=True)
            self.state_file.write(AgentState(agent_pid=os.getpid()))
        log.info("agent %r stopped", self.setup.name)
        return self.exit_code

    # ---- one run --------------------------------------------------------------------------------

    def serve(self, claimed: ClaimedRun) -> Outcome:
        assert self.agent_id is not None
        setup = self.setup
        log.info("claimed run %s %r (attempt %s)", claimed.id, claimed.name, claimed.attempt)
        try:
            source = str(claimed.config_snapshot.get("model_flavour", ""))
            launch = prepare_launch(
                run_id=claimed.id,
                attempt=claimed.attempt,
                run_dir=claimed.run_dir,
                gpu_count=claimed.gpu_count,
                snapshot=claimed.config_snapshot,
                runs_root=setup.runs_root,
                datasets_root=setup.datasets_root,
                models_root=setup.models_root,
                devices=setup.devices,
                agent_env=os.environ,
                supervisor_timeout=supervisor_timeout(setup.lease_seconds),
                liveness_dir=self.liveness_dir,
                stop_grace_seconds=setup.supervision.stop_grace_seconds,
                hf_token=self.tokens.for_model(claimed.project_id, source),
            )
        except LaunchRefused as exc:
            log.error("run %s refused before start: %s", claimed.id, exc)
            return self._give_up(claimed, "failed", str(exc))
        except OSError as exc:  # this machine's storage, not the run: another agent may manage
            log.error("run %s: cannot prepare its folder: %s", claimed.id, exc)
            return self._give_up(claimed, "crashed", f"the agent could not prepare the run: {exc}")

        def started(process: TrainerProcess) -> None:
            self._trainer = process
            self.state_file.write(
                AgentState(os.getpid(), process.pgid, claimed.id, claimed.attempt)
            )

        self.control.kill_now = False
        self.control.drain = self.exiting or self.drained
        supervision = Supervision(
            self.db,
            agent_id=self.agent_id,
            launch=launch,
            options=setup.supervision,
            control=self.control,
            sampler=self.sampler,
            on_started=started,
            housekeeping=self.housekeeping,
            db_health=self.db_health,
        )
        try:
            return supervision.run()
        except OSError as exc:  # the trainer could not be started at all
            log.error("run %s: cannot start the trainer: %s", claimed.id, exc)
            return self._give_up(claimed, "crashed", f"the trainer could not be started: {exc}")
        finally:
            self._trainer = None
            self.state_file.write(AgentState(agent_pid=os.getpid()))

    def _give_up(self, claimed: ClaimedRun, outcome: runqueue.Outcome, message: str) -> Outcome:
        """Report an attempt that never ran a trainer."""
        assert self.agent_id is not None
        state = None
        with contextlib.suppress(StaleAttempt):
            state = runqueue.finish_run(
                self.db,
                claimed.id,
                claimed.attempt,
                self.agent_id,
                outcome,
                message,
            ).value
        return Outcome(outcome, None, message, state)
