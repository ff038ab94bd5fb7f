"""One line when the database becomes unreachable and one when it is back.

During an outage every loop of the agent (relay, lease renewal, heartbeat, claim) fails several
times a second, each with the driver's multi-line message. The operator needs to know that the
database went away, why (the first line of the first error) and when it came back.
"""

from __future__ import annotations

import logging
import threading
import time

from visionyard.db.engine import driver_message

log = logging.getLogger("visionyard.agent")


class DatabaseHealth:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._down_since: float | None = None

    def failed(self, doing: str, exc: BaseException) -> None:
        with self._lock:
            first = self._down_since is None
            if first:
                self._down_since = time.monotonic()
        if first:
            log.warning(
                "database unreachable while %s (%s); retrying. A running trainer stops itself if "
                "this lasts past its lease, and its run resumes from its checkpoint afterwards",
                doing,
                driver_message(exc),
            )
        else:
            log.debug("database still unreachable while %s (%s)", doing, driver_message(exc))

    def ok(self) -> None:
        with self._lock:
            since, self._down_since = self._down_since, None
        if since is not None:
            log.warning("database reachable again after %.0f s", time.monotonic() - since)
