"""Login throttling (login_throttle table): per username and per client address, blocks that
double up to a cap, 429 with Retry-After, shared by every dashboard process; and failed logins
that take as long for a missing user as for an existing one."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.dashboard.conftest import ADMIN_PASSWORD, AUTH
from visionyard.dashboard import security
from visionyard.dashboard.app import create_app
from visionyard.db.models import LoginThrottle
from visionyard.settings import Settings

API = "/api/v1"
FREE = 3
CAP = 2.0  # seconds: small, so that the tests wait for it
WRONG = {"username": "admin", "password": "not-the-password"}
RIGHT = {"username": "admin", "password": ADMIN_PASSWORD}


@pytest.fixture
def throttled(db_url: str, settings_factory: Callable[..., Settings]) -> Iterator[FastAPI]:
    app = create_app(
        settings_factory(db_url, login_free_failures=FREE, login_block_max_seconds=CAP)
    )
    yield app
    app.state.vy.engine.dispose()


def from_address(app: FastAPI, address: str) -> TestClient:
    return TestClient(app, client=(address, 5000))


def test_hammering_from_one_address_blocks_it_not_the_user(throttled: FastAPI) -> None:
    with from_address(throttled, "10.0.0.66") as attacker:
        answers = [attacker.post(f"{API}/auth/login", json=WRONG) for _ in range(50)]
        statuses = [a.status_code for a in answers]
        assert set(statuses) == {401, 429}
        # The free failures, then one checked failure per block at most: the blocks double
        # (1 s, 2 s = the cap), so a loop of a few seconds gets a handful of checks.
        assert statuses[: FREE + 1] == [401] * (FREE + 1)
        assert statuses.count(401) <= FREE + 4
        for answer in answers:
            if answer.status_code == 429:
                assert 1 <= int(answer.headers["Retry-After"]) <= CAP
                assert answer.json()["error"]["code"] == "rate_limited"
                assert "try again in" in answer.json()["error"]["message"]
        # Blocked: refused without a look at the password, the right one included.
        assert attacker.post(f"{API}/auth/login", json=RIGHT).status_code == 429
    # The real user, from another address, is not kept out at all.
    with from_address(throttled, "10.0.0.9") as user:
        assert user.post(f"{API}/auth/login", json=RIGHT).status_code == 200
    # Once the cap has passed, the attacker's address may try again (and fails again).
    time.sleep(CAP + 0.2)
    with from_address(throttled, "10.0.0.66") as attacker:
        assert attacker.post(f"{API}/auth/login", json=WRONG).status_code == 401


def test_failures_spread_over_addresses_block_the_username_up_to_the_cap(
    throttled: FastAPI,
) -> None:
    with from_address(throttled, "10.0.1.1") as guesser:
        for _ in range(FREE):
            assert guesser.post(f"{API}/auth/login", json=WRONG).status_code == 401
    with from_address(throttled, "10.0.1.2") as guesser:
        # The username's failure FREE + 1: it blocks the username, wherever the next comes from.
        assert guesser.post(f"{API}/auth/login", json=WRONG).status_code == 401
        assert guesser.post(f"{API}/auth/login", json=WRONG).status_code == 429
    # Blocked, whoever asks, right password or not.
    with from_address(throttled, "10.0.0.9") as user:
        blocked = user.post(f"{API}/auth/login", json=RIGHT)
        assert blocked.status_code == 429
        assert 1 <= int(blocked.headers["Retry-After"]) <= CAP
        time.sleep(CAP + 0.2)
        # After the cap, from a fresh address, the real user logs in; that forgets the
        # username's and the address's failures.
        assert user.post(f"{API}/auth/login", json=RIGHT).status_code == 200
    with throttled.state.vy.read_sessions() as session:
        keys = set(session.scalars(select(LoginThrottle.key)))
    assert keys == {"ip:10.0.1.1", "ip:10.0.1.2"}


def test_usernames_are_throttled_whatever_their_case(throttled: FastAPI) -> None:
    for address, name in (("10.0.2.1", "admin"), ("10.0.2.2", "ADMIN")):
        with from_address(throttled, address) as guesser:
            for _ in range(2):  # 4 = FREE + 1 failures in all: the username is blocked
                answer = guesser.post(f"{API}/auth/login", json={**WRONG, "username": name})
                assert answer.status_code == 401
    with from_address(throttled, "10.0.2.3") as guesser:
        answer = guesser.post(f"{API}/auth/login", json={**WRONG, "username": "Admin"})
        assert answer.status_code == 429
    with throttled.state.vy.read_sessions() as session:
        row = session.get(LoginThrottle, "user:admin")
        assert row is not None and row.failures == FREE + 1


def test_the_count_is_shared_by_every_dashboard_process(
    throttled: FastAPI, db_url: str, settings_factory: Callable[..., Settings]
) -> None:
    other = create_app(
        settings_factory(db_url, login_free_failures=FREE, login_block_max_seconds=CAP)
    )
    try:
        with (
            from_address(throttled, "10.0.3.1") as first,
            from_address(other, "10.0.3.1") as second,
        ):
            for _ in range(FREE + 1):
                assert first.post(f"{API}/auth/login", json=WRONG).status_code == 401
            refused = second.post(f"{API}/auth/login", json=RIGHT)
            assert refused.status_code == 429 and "Retry-After" in refused.headers
    finally:
        other.state.vy.engine.dispose()


def test_failures_are_forgotten_after_a_quiet_while(
    db_url: str, settings_factory: Callable[..., Settings]
) -> None:
    app = create_app(
        settings_factory(
            db_url,
            login_free_failures=1,
            login_block_max_seconds=CAP,
            login_failure_memory_minutes=1 / 60,  # 1 s
        )
    )
    try:
        with from_address(app, "10.0.4.1") as c:
            assert c.post(f"{API}/auth/login", json=WRONG).status_code == 401
            time.sleep(1.3)
            # Forgotten: this is a first failure again, not a second one (which would block).
            assert c.post(f"{API}/auth/login", json=WRONG).status_code == 401
            assert c.post(f"{API}/auth/login", json=WRONG).status_code == 401  # the 2nd: blocks
            assert c.post(f"{API}/auth/login", json=RIGHT).status_code == 429
    finally:
        app.state.vy.engine.dispose()


def test_a_success_forgets_the_failures_of_its_username_and_address(throttled: FastAPI) -> None:
    with from_address(throttled, "10.0.5.1") as c:
        for _ in range(FREE):
            assert c.post(f"{API}/auth/login", json=WRONG).status_code == 401
        assert c.post(f"{API}/auth/login", json=RIGHT).status_code == 200
        for _ in range(FREE):  # a fresh allowance
            assert c.post(f"{API}/auth/login", json=WRONG).status_code == 401


#: how much the medians of failed logins for an existing and a missing user may differ, as a
#: share of the existing user's median
TIMING_BOUND = 0.20
SAMPLES = 15


def test_a_failed_login_takes_as_long_for_a_missing_user(
    db_url: str, settings_factory: Callable[..., Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    """With the production password hash (the suite's cheap one would hide a missing check
    behind the database's own time), failed logins for an existing and a missing user,
    interleaved, have medians within TIMING_BOUND of each other."""
    patch = pytest.MonkeyPatch()
    patch.setattr(security, "_hasher", PasswordHasher())
    try:
        app = create_app(settings_factory(db_url, login_free_failures=1000))
        with TestClient(app, headers=AUTH) as admin:
            made = admin.post(f"{API}/users", json={"username": "ana", "password": "long-password"})
            assert made.status_code == 201
        timings: dict[str, list[float]] = {"ana": [], "nobody": []}
        with TestClient(app) as c:
            c.post(f"{API}/auth/login", json={"username": "nobody", "password": "warm-up"})
            for _ in range(SAMPLES):
                for name in timings:
                    start = time.perf_counter()
                    answer = c.post(f"{API}/auth/login", json={"username": name, "password": "x"})
                    timings[name].append(time.perf_counter() - start)
                    assert answer.status_code == 401
        app.state.vy.engine.dispose()
    finally:
        patch.undo()
    existing, missing = (statistics.median(timings[n]) for n in ("ana", "nobody"))
    with capsys.disabled():
        print(
            f"\n[{db_url.split(':')[0]}] failed login median: "
            f"existing user {existing * 1000:.1f} ms, missing user {missing * 1000:.1f} ms, "
            "difference "
            f"{abs(existing - missing) / existing:.1%} (bound {TIMING_BOUND:.0%})"
        )
    assert abs(existing - missing) <= TIMING_BOUND * existing
