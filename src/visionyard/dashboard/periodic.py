"""A background pass on the dashboard's event loop, every so many seconds, until stopped.

The services that sweep something on a timer (the lease reaper, the TensorBoard reaper) share
this loop: a pass that raises is logged and the next one runs on time, so one bad pass (a
database blip, a process that would not stop) never ends the sweeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable


class PeriodicTask:
    def __init__(
        self,
        name: str,
        work: Callable[[], Awaitable[object]],
        *,
        interval: float,
        log: logging.Logger,
    ) -> None:
        self.name = name
        self._work = work
        self._interval = interval
        self._log = log
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Run the first pass now, then one every `interval` seconds."""
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self._work()
            except Exception:  # noqa: BLE001 - the next pass must still run
                self._log.exception("%s: a pass failed; retrying", self.name)
            await asyncio.sleep(self._interval)
