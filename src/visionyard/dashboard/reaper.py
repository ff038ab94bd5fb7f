"""Background lease reaper: re-queues (or fails) runs whose agent stopped renewing its lease.

Runs in every dashboard process; `reap_expired` is safe to run concurrently (SKIP LOCKED), so
several dashboards on one PostgreSQL split the work instead of fighting over it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.orm import Session, sessionmaker

from visionyard.dashboard.periodic import PeriodicTask
from visionyard.runqueue import reap_expired

log = logging.getLogger("visionyard.dashboard.reaper")


class LeaseReaper:
    def __init__(self, sessions: sessionmaker[Session], *, interval: float) -> None:
        self._sessions = sessions
        self._periodic = PeriodicTask(
            "visionyard-lease-reaper", self._pass, interval=interval, log=log
        )
        self.passes = 0

    async def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

    async def _pass(self) -> None:
        # Shielded: a stop during a pass waits for its worker thread, which holds a pooled
        # connection; abandoning it would leave the connection out of the engine's disposal.
        work = asyncio.ensure_future(asyncio.to_thread(reap_expired, self._sessions))
        try:
            result = await asyncio.shield(work)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await work
            raise
        self.passes += 1
        if result.total:
            log.warning(
                "lease reaper: requeued %s, failed %s, canceled %s",
                result.requeued,
                result.failed,
                result.canceled,
            )
