"""Login throttling: failed logins block a username and a client address for a while.

Every attempt is counted as a failure *before* its password is checked, under a row lock, and
forgiven when it succeeds: a burst of parallel attempts cannot slip past the count while the
(slow, on purpose) password hash runs. Two keys are counted, `user:<username>` (lowercased) and
`ip:<client address>`. Each may fail `login_free_failures` times; each further failure blocks the
key for 1, 2, 4... seconds, up to `login_block_max_seconds`. An attempt on a blocked key is
refused (429, Retry-After) without checking the password and without being counted, so hammering
a blocked key does not make its block longer. A key's failures are forgotten after
`login_failure_memory_minutes` without one, and a successful login forgets both of its keys.

An address counts against a username only while the address itself is within its free failures.
One attacker's address therefore blocks itself, not the account: the real user can still log in
from another address. A username is blocked only by failures from several addresses (password
guessing spread across machines), and such a block ends at most `login_block_max_seconds`
after the last counted failure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy.orm import Session

from visionyard.dashboard.repositories import login_throttle as repo
from visionyard.db.models import LoginThrottle
from visionyard.errors import RateLimitedError
from visionyard.settings import Settings

#: a key's column is 200 characters; an address or username is far shorter, but never trust it
MAX_KEY_CHARS = 200


@dataclass(frozen=True)
class ThrottlePolicy:
    free_failures: int
    max_block_seconds: float
    memory_seconds: float

    @classmethod
    def of(cls, settings: Settings) -> ThrottlePolicy:
        return cls(
            free_failures=settings.login_free_failures,
            max_block_seconds=settings.login_block_max_seconds,
            memory_seconds=settings.login_failure_memory_minutes * 60,
        )

    def block_seconds(self, failures: int) -> float:
        """How long a key with `failures` failures is blocked: nothing within the free ones,
        then 1, 2, 4... seconds, capped."""
        beyond = failures - self.free_failures
        if beyond <= 0:
            return 0.0
        return min(self.max_block_seconds, 2.0 ** min(beyond - 1, 32))


@dataclass(frozen=True)
class ThrottleKeys:
    user: str
    address: str

    @classmethod
    def of(cls, username: str, address: str) -> ThrottleKeys:
        return cls(
            user=f"user:{username.lower()}"[:MAX_KEY_CHARS],
            address=f"ip:{address}"[:MAX_KEY_CHARS],
        )

    @property
    def both(self) -> tuple[str, str]:
        return self.user, self.address


def _count_failure(row: LoginThrottle, policy: ThrottlePolicy, now: float) -> None:
    if now - row.last_failure_at > policy.memory_seconds:
        row.failures = 0  # quiet long enough: a fresh start
    row.failures += 1
    row.last_failure_at = now
    block = policy.block_seconds(row.failures)
    if block:
        row.blocked_until = now + block


def admit_attempt(session: Session, keys: ThrottleKeys, policy: ThrottlePolicy, now: float) -> None:
    """Refuse an attempt on a blocked key (RateLimitedError with the seconds to wait); else
    count it as a failure, to be forgiven by `forgive` if the password turns out right."""
    rows = repo.lock(session, keys.both)
    blocked_until = max(row.blocked_until for row in rows.values())
    if blocked_until > now:
        wait = math.ceil(blocked_until - now)
        raise RateLimitedError(
            f"too many failed logins for this username or from this address; try again in {wait} s",
            retry_after=wait,
        )
    address = rows[keys.address]
    _count_failure(address, policy, now)
    if address.failures <= policy.free_failures:
        _count_failure(rows[keys.user], policy, now)


def forgive(session: Session, keys: ThrottleKeys) -> None:
    """A successful login: forget the failures of its username and its address."""
    repo.forget(session, keys.both)
