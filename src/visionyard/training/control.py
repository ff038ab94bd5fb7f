"""Stop requests: the cancel/drain path. The loop polls a flag once per optimizer step."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterable
from types import FrameType


class StopSignal:
    """A thread-safe flag. `install()` makes SIGTERM/SIGINT set it; a second signal of the same
    kind restores the default handler and re-raises, so an impatient user (or an agent's
    escalation) still ends the process at once."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason: str | None = None

    def set(self, reason: str = "stop requested") -> None:
        if not self._event.is_set():
            self.reason = reason
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def install(self, signals: Iterable[int] = (signal.SIGTERM, signal.SIGINT)) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers can only be installed from the main thread

        def handler(signum: int, _frame: FrameType | None) -> None:
            if self.is_set():
                signal.signal(signum, signal.SIG_DFL)
                signal.raise_signal(signum)
                return
            self.set(f"received {signal.Signals(signum).name}")

        for sig in signals:
            signal.signal(sig, handler)
