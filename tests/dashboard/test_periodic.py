"""`PeriodicTask`: passes on a timer, a failing pass logged (the loop goes on), a clean stop."""

from __future__ import annotations

import asyncio
import logging

import pytest

from visionyard.dashboard.periodic import PeriodicTask


def test_a_failing_pass_is_logged_and_the_next_ones_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    passes: list[int] = []

    async def work() -> None:
        passes.append(len(passes))
        if len(passes) == 1:
            raise RuntimeError("the first pass fails")

    async def scenario() -> None:
        task = PeriodicTask("test-sweeper", work, interval=0.01, log=logging.getLogger("t"))
        task.start()
        while len(passes) < 3:
            await asyncio.sleep(0.01)
        await task.stop()
        stopped_at = len(passes)
        await asyncio.sleep(0.05)
        assert len(passes) == stopped_at  # no pass after stop
        await task.stop()  # a second stop is harmless

    with caplog.at_level(logging.ERROR):
        asyncio.run(scenario())
    failures = [r for r in caplog.records if "a pass failed" in r.getMessage()]
    assert len(failures) == 1 and "test-sweeper" in failures[0].getMessage()
    assert failures[0].exc_info is not None
