"""Logging in with a username and password: throttled, evenly timed, starting a session.

Three short transactions, none open while the password hash runs (a second of CPU, on purpose):
admit the attempt (login_throttle, counting it as a failure up front), look the user up, then,
only when the password is right, forgive the failures and start the session.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from visionyard.dashboard.repositories import auth as users
from visionyard.dashboard.security import verify_password_evenly
from visionyard.dashboard.services import login_sessions, login_throttle
from visionyard.dashboard.services.login_sessions import Lifetimes, NewSession
from visionyard.dashboard.state import AppState
from visionyard.db.models import User
from visionyard.errors import AuthenticationError


@dataclass(frozen=True)
class Client:
    """Where a login comes from, as the session list shows it."""

    address: str
    user_agent: str


def log_in(
    state: AppState, username: str, password: str, client: Client
) -> tuple[User, NewSession]:
    keys = login_throttle.ThrottleKeys.of(username, client.address)
    policy = login_throttle.ThrottlePolicy.of(state.settings)
    with state.sessions() as session, session.begin():
        login_throttle.admit_attempt(session, keys, policy, time.time())
    with state.read_sessions() as session:
        user = users.user_named(session, username)
        password_hash = user.password_hash if user is not None else None
    # Checked even for a missing or disabled user (against a dummy hash when there is none):
    # the time an answer takes must not tell which usernames exist.
    right = verify_password_evenly(password, password_hash)
    if user is None or user.disabled or not right:
        # Same message for unknown user and wrong password: no username probing.
        raise AuthenticationError("wrong username or password")
    with state.sessions() as session, session.begin():
        login_throttle.forgive(session, keys)
        started = login_sessions.start(
            session,
            user,
            Lifetimes.of(state.settings),
            ip=client.address,
            user_agent=client.user_agent,
        )
    return user, started
