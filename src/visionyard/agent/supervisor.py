"""Supervising one attempt of one run: start the trainer, keep the lease, relay, stop, report.

Exit codes of `python -m visionyard.training` decide the outcome (with what the agent asked for):

====================  =====================================================================
0                     succeeded
2                     failed at once: bad config or data (the trainer's own message)
3 / killed            after a cancel: canceled; after a drain: re-queued without charging a
                      restart; with no request from us (someone else's SIGTERM): crashed
75                    the trainer lost its supervisor (watchdog): crashed
anything else         crashed: re-queued as the next attempt while restarts remain
====================  =====================================================================

A user's cancel reaches the supervisor within a second (`CancelWatch`: LISTEN/NOTIFY on
PostgreSQL, a 0.5 s poll of the run's flag on SQLite; the lease renewal, every third of a lease,
is the fallback), and the trainer gets SIGTERM at once: it stops after its current optimizer
step and saves `last`, so the run can be resumed later.

A lost lease (StaleAttempt on any write) kills the trainer at once and reports nothing: another
agent may already own the run. The trainer cannot outlive a lease the agent no longer believes
in: its liveness file is touched only while the lease is locally valid (see `LeaseClock`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from sqlalchemy.exc import OperationalError

from visionyard import runqueue
from visionyard.agent.dbhealth import DatabaseHealth
from visionyard.agent.launch import Launch
from visionyard.agent.process import TrainerProcess
from visionyard.agent.relay import (
    EventTail,
    OutputLog,
    Relay,
    complete_lines_end,
    earlier_output_bytes,
)
from visionyard.exitcodes import EXIT_BAD_INPUT, EXIT_OK, EXIT_STOPPED, EXIT_SUPERVISOR_LOST
from visionyard.runqueue._db import DB
from visionyard.runqueue.control import DEFAULT_POLL_INTERVAL, CancelWatch
from visionyard.runqueue.errors import StaleAttempt

log = logging.getLogger(__name__)

#: share of the lease during which the agent keeps its trainer's liveness file fresh
TRUSTED_SHARE = 0.6
_MAX_ERROR_CHARS = 4000


@dataclass
class Control:
    """Requests to the supervisor, set from signal handlers and the agent's heartbeat."""

    drain: bool = False  # hand the run back (checkpoint, re-queue without charging a restart)
    kill_now: bool = False  # second SIGTERM: kill the trainer group, no grace


@dataclass
class SupervisionOptions:
    lease_seconds: float
    stop_grace_seconds: float = 30.0
    max_log_bytes: int = 8 * 1024 * 1024
    sample_interval: float = 5.0
    tick: float = 0.25
    #: SQLite: how often the run's cancel flag is read (PostgreSQL is told by NOTIFY)
    cancel_poll_interval: float = DEFAULT_POLL_INTERVAL


class Sampler(Protocol):
    def sample(self, root_pid: int | None) -> dict[str, float]: ...


class LeaseClock:
    """The lease as this agent knows it: renewed at `renewed_at` (monotonic, taken after the
    renewal committed, so later than the database's own start of the lease) for `seconds`.
    Trusted for 60% of its length; the trainer's watchdog fires a quarter later, so the trainer
    is gone before the lease can expire in the database and the run be handed to another agent.
    Renewals come every third of the lease: one may be late by almost a third before the
    trainer is stopped."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.renewed_at = time.monotonic()
        self.lost = False

    def renewed(self) -> None:
        self.renewed_at = time.monotonic()

    def trusted(self) -> bool:
        return not self.lost and time.monotonic() - self.renewed_at < self.seconds * TRUSTED_SHARE


def supervisor_timeout(lease_seconds: float) -> float:
    """How long the trainer waits for a liveness touch before exiting on its own."""
    return max(1.0, lease_seconds / 4)


# How a trainer's exit is reported: one of the queue's outcomes, or a requeue for a drain.
Ending = runqueue.Outcome | Literal["drained"]


@dataclass
class Outcome:
    """How the attempt ended, as reported to the queue (or not, when the lease was lost)."""

    kind: str  # succeeded | failed | crashed | canceled | drained | lost
    exit_code: int | None
    message: str | None = None
    new_state: str | None = None


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def classify(code: int, stop_reason: str | None, output: OutputLog) -> tuple[Ending, str | None]:
    """(outcome kind, message) from the trainer's exit code and what we asked of it."""
    if code == EXIT_OK:
        return "succeeded", None
    if stop_reason == "cancel":
        return "canceled", "canceled on request"
    if stop_reason == "drain":
        return "drained", None
    if code == EXIT_BAD_INPUT:
        message = output.error_message() or "the trainer rejected its config or data (exit 2)"
        return "failed", message
    if code == EXIT_STOPPED:
        return "crashed", "the trainer was stopped by a signal the agent did not send"
    if code == EXIT_SUPERVISOR_LOST:
        return "crashed", "the trainer lost contact with its agent and stopped itself"
    tail = "\n".join(output.last_lines()[-15:])
    if code < 0:
        why = f"the trainer was killed by {_signal_name(code)}"
        if code == -signal.SIGKILL:
            why += " (out of memory, or killed by hand)"
    else:
        why = f"the trainer exited with code {code}"
    message = f"{why}; last output:\n{tail}" if tail else why
    return "crashed", message[-_MAX_ERROR_CHARS:]


class Supervision:
    """One attempt. `run()` blocks until the trainer has exited and the outcome is reported."""

    def __init__(
        self,
        db: DB,
        *,
        agent_id: int,
        launch: Launch,
        options: SupervisionOptions,
        control: Control,
        sampler: Sampler | None = None,
        on_started: Callable[[TrainerProcess], None] | None = None,
        housekeeping: Callable[[], None] | None = None,
        db_health: DatabaseHealth | None = None,
    ) -> None:
        self.db = db
        self.db_health = db_health or DatabaseHealth()
        self.agent_id = agent_id
        self.launch = launch
        self.options = options
        self.control = control
        self.sampler = sampler
        self.on_started = on_started
        self.housekeeping = housekeeping
        self.lease = LeaseClock(options.lease_seconds)
        self.process: TrainerProcess | None = None
        self._toucher_stop = threading.Event()

    # ---- liveness file --------------------------------------------------------------------------

    def _touch_while_trusted(self) -> None:
        path = self.launch.supervisor_file
        while not self._toucher_stop.wait(0.5):
            if self.lease.trusted():
                # A vanished run folder is not ours to report: the trainer notices too.
                with contextlib.suppress(OSError):
                    os.utime(path)

    # ---- main loop ------------------------------------------------------------------------------

    def run(self) -> Outcome:
        launch, opts = self.launch, self.options
        output = OutputLog(
            launch.output_path,
            max_bytes=opts.max_log_bytes,
            already_stored=earlier_output_bytes(launch.output_path.parent, launch.attempt),
            secrets=launch.secrets,
        )
        events_path = launch.run_dir / "events.jsonl"
        relay = Relay(
            self.db,
            run_id=launch.run_id,
            attempt=launch.attempt,
            agent_id=self.agent_id,
            events=EventTail(events_path, complete_lines_end(events_path)),
            output=output,
            db_health=self.db_health,
        )
        toucher = threading.Thread(target=self._touch_while_trusted, daemon=True)
        toucher.start()
        cancel_watch = CancelWatch(
            self.db,
            run_id=launch.run_id,
            attempt=launch.attempt,
            agent_id=self.agent_id,
            poll_interval=self.options.cancel_poll_interval,
            on_error=self.db_health.failed,
        )
        try:
            self.process = TrainerProcess(
                launch.argv, env=launch.env, cwd=launch.run_dir, on_lines=output.add_lines
            )
            if self.on_started is not None:
                self.on_started(self.process)
            log.info(
                "run %s attempt %s: trainer pid %s started (%s)",
                launch.run_id,
                launch.attempt,
                self.process.pid,
                " ".join(launch.argv[1:4]),
            )
            return self._supervise(self.process, relay, output, cancel_watch)
        finally:
            cancel_watch.close()
            self._toucher_stop.set()
            with contextlib.suppress(OSError):
                launch.supervisor_file.unlink()
            if self.process is not None:
                self.process.kill()  # never leave a trainer behind, whatever happened
            output.close()

    def _supervise(
        self, proc: TrainerProcess, relay: Relay, output: OutputLog, cancel_watch: CancelWatch
    ) -> Outcome:
        launch, opts = self.launch, self.options
        renew_every = max(0.2, opts.lease_seconds / 3)
        next_renew = time.monotonic() + renew_every
        next_sample = time.monotonic()
        stop_reason: str | None = None
        kill_at: float | None = None
        try:
            while True:
                code = proc.poll()
                now = time.monotonic()
                if now >= next_renew:
                    next_renew = now + renew_every
                    try:
                        cancel = runqueue.renew_lease(
                            self.db,
                            launch.run_id,
                            launch.attempt,
                            self.agent_id,
                            opts.lease_seconds,
                        )
                        self.lease.renewed()
                        self.db_health.ok()
                    except OperationalError as exc:
                        self.db_health.failed(f"renewing the lease of run {launch.run_id}", exc)
                        cancel = False
                    if cancel and stop_reason is None:
                        stop_reason = "cancel"
                if self.control.drain and stop_reason is None:
                    stop_reason = "drain"
                if stop_reason is not None and kill_at is None:
                    log.info("run %s: stopping the trainer (%s)", launch.run_id, stop_reason)
                    proc.request_stop()
                    # torchrun waits the same grace for its workers (see launch): allow for it.
                    slack = 10.0 if launch.nproc > 1 else 0.0
                    kill_at = now + opts.stop_grace_seconds + slack
                if self.control.kill_now or (kill_at is not None and now >= kill_at):
                    proc.kill()
                if self.sampler is not None and now >= next_sample:
                    next_sample = now + opts.sample_interval
                    relay.add_system_sample(self.sampler.sample(proc.pid))
                relay.pump()
                if self.housekeeping is not None:
                    self.housekeeping()
                if code is not None:
                    break
                if stop_reason is None:
                    # The pause between ticks, cut short by a cancel request.
                    if cancel_watch.wait(opts.tick):
                        stop_reason = "cancel"
                else:
                    time.sleep(opts.tick)
            code = proc.reap()
            output.close()
            self._final_pump(relay)
        except StaleAttempt as exc:
            self.lease.lost = True
            proc.kill()
            code = proc.reap()
            log.warning(
                "run %s attempt %s: %s; killed the trainer (another agent owns the run now)",
                launch.run_id,
                launch.attempt,
                exc,
            )
            return Outcome("lost", code, str(exc))
        kind, message = classify(code, stop_reason, output)
        return self._report(kind, code, message)

    def _final_pump(self, relay: Relay) -> None:
        for _ in range(20):
            relay.pump()
            if relay.idle:
                return
            if self.housekeeping is not None:
                self.housekeeping()  # up to 10 s here: the agent must not look dead meanwhile
            time.sleep(0.5)
        log.error(
            "run %s: could not relay the last events; they stay in events.jsonl",
            self.launch.run_id,
        )

    def _report(self, kind: Ending, code: int, message: str | None) -> Outcome:
        launch = self.launch
        for delay in (0.5, 1, 2, 4, 8):
            try:
                if kind == "drained":
                    state = runqueue.requeue_for_drain(
                        self.db, launch.run_id, launch.attempt, self.agent_id
                    )
                else:
                    state = runqueue.finish_run(
                        self.db, launch.run_id, launch.attempt, self.agent_id, kind, message
                    )
                log.info(
                    "run %s attempt %s: %s (exit %s) -> %s",
                    launch.run_id,
                    launch.attempt,
                    kind,
                    code,
                    state.value,
                )
                return Outcome(kind, code, message, state.value)
            except StaleAttempt as exc:
                return Outcome("lost", code, str(exc))
            except OperationalError as exc:
                self.db_health.failed(f"reporting how run {launch.run_id} ended", exc)
                time.sleep(delay)
        # The lease runs out and the reaper re-queues the run: nothing is lost but a restart.
        return Outcome(kind, code, message, None)
