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


def _from_a_null(value: object) -> bool:
    return value is None or value == "None"


@schemathesis.hook
def filter_failure(
    context: schemathesis.HookContext,
    failure: object,
    case: schemathesis.Case,
    response: schemathesis.Response,
) -> bool:
    """Keep every failure but one that is schemathesis' own: "schema-valid request rejected"
    (ST202) for a request whose path parameter came from a null in an earlier response. The
    stateful phase fills ids from responses (a run's `config_id` is null once its config is
    deleted) and sends the null as the text "None", which no integer path parameter admits:
    the request was not schema-valid, and the server's 422 is the documented answer."""
    if getattr(failure, "code", None) != "ST202":
        return True
    return not any(_from_a_null(v) for v in (case.path_parameters or {}).values())
