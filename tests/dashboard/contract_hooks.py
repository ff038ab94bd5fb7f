"""Schemathesis hooks for the live-server contract run (loaded through SCHEMATHESIS_HOOKS).

The run authenticates as the admin with one bearer token. Among the operations it exercises are
`updateUser` (which can disable or demote that admin) and `revokeToken` (which can revoke that
token); after either, the admin account is put back so that the rest of the run still reaches
the routes instead of collecting 401s. The database is named by CONTRACT_DB_URL.
"""

from __future__ import annotations

import os
from functools import cache

import schemathesis
from sqlalchemy import update
from sqlalchemy.engine import Engine

from visionyard.db.engine import make_engine
from visionyard.db.models import ApiToken, User

#: operations that can change the admin's own account
ACCOUNT_OPERATIONS = frozenset({"updateUser", "revokeToken"})


@cache
def _engine() -> Engine:
    return make_engine(os.environ["CONTRACT_DB_URL"])


def keep_admin_usable(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(User).where(User.username == "admin").values(disabled=False, is_admin=True)
        )
        conn.execute(update(ApiToken).values(revoked_at=None, expires_at=None))


@schemathesis.hook
def after_call(
    context: schemathesis.HookContext, case: schemathesis.Case, response: schemathesis.Response
) -> None:
    if case.operation.definition.raw.get("operationId") in ACCOUNT_OPERATIONS:
        keep_admin_usable(_engine())
