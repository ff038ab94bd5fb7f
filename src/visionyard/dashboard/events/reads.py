"""Blocking database reads for the event bus, run in a small dedicated thread pool.

Why not `asyncio.to_thread`: a read outlives the task that awaited it when that task is
cancelled (a socket closing, a client re-subscribing over and over), so it must be counted until
its thread actually finishes. That count bounds the database work one client can queue (a
per-connection limiter released by the thread, not by the cancelled task) and lets `stop()` wait
for every read to hand its connection back before the app disposes of the engine.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: threads for all event reads of one app: polls, initial cursors, backfill pages
READ_THREADS = 8


class ReadPool:
    def __init__(self, *, threads: int = READ_THREADS) -> None:
        self._threads = threads
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._in_flight = 0
        self._lock = threading.Lock()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def _pool(self) -> concurrent.futures.ThreadPoolExecutor:
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                self._threads, thread_name_prefix="visionyard-events"
            )
        return self._executor

    async def run(
        self, func: Callable[..., T], *args: object, limiter: asyncio.Semaphore | None = None
    ) -> T:
        """`func(*args)` in a worker thread. With `limiter`, a slot is taken first and given
        back when the thread finishes (even if this task was cancelled meanwhile)."""
        loop = asyncio.get_running_loop()
        if limiter is not None:
            await limiter.acquire()
        with self._lock:
            self._in_flight += 1
        try:
            future = self._pool().submit(func, *args)
        except BaseException:
            self._finished(loop, limiter)
            raise
        future.add_done_callback(lambda _f: self._finished(loop, limiter))
        return await asyncio.wrap_future(future)

    def _finished(self, loop: asyncio.AbstractEventLoop, limiter: asyncio.Semaphore | None) -> None:
        with self._lock:
            self._in_flight -= 1
        if limiter is not None:
            # The loop is gone if the app stopped meanwhile; then nobody waits for the slot.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(limiter.release)

    async def drain(self, timeout: float) -> None:
        """Wait (up to `timeout` seconds) until no read is in flight."""
        deadline = time.monotonic() + timeout
        while self._in_flight and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None
