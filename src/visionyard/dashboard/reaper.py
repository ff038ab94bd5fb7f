"""Background lease reaper: re-queues (or fails) runs whose agent stopped renewing its lease.

Runs in every dashboard process; `reap_expired` is safe to run concurrently (SKIP LOCKED), so
several dashboards on one PostgreSQL split the work instead of fighting over it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.orm import Session, sessionmaker

from visionyard.runqueue import reap_expired

log = logging.getLogger("visionyard.dashboard.reaper")


class LeaseReaper:
    def __init__(self, sessions: sessionmaker[Session], *, interval: float) -> None:
        self._sessions = sessions
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self.passes = 0

    async def start(self) -> None:
        self._stop = asyncio.Event()  # bound to this loop (a restarted app may run in another)
        self._task = asyncio.create_task(self._loop(), name="visionyard-lease-reaper")

    async def stop(self) -> None:
        """Let a pass in progress finish, then end. Cancelling would abandon its worker thread
        with a database connection checked out, which the engine's disposal then misses."""
        if self._task is not None:
            self._stop.set()
            await self._task
            self._task = None

    async def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                result = await asyncio.to_thread(reap_expired, self._sessions)
                self.passes += 1
                if result.total:
                    log.warning(
                        "lease reaper: requeued %s, failed %s, canceled %s",
                        result.requeued,
                        result.failed,
                        result.canceled,
                    )
            except Exception:  # noqa: BLE001 - a DB hiccup must not kill the loop
                log.exception("lease reaper pass failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._interval)
