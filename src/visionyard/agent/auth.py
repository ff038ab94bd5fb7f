"""Agents authenticate with an API token, like every other client of the platform.

The agent talks to the database directly (it needs row locks and LISTEN/NOTIFY), so the token is
checked against the same `api_tokens` table the dashboard uses: it must exist, be neither revoked
nor expired, and be an agent token or belong to an administrator.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from visionyard.db.models import ApiToken, User
from visionyard.db.timestamps import as_utc
from visionyard.errors import AuthenticationError, PermissionDeniedError
from visionyard.runqueue._db import DB, in_transaction


def verify_agent_token(db: DB, secret: str | None) -> str:
    """Returns the token owner's username; raises with what to do otherwise."""
    if not secret:
        raise AuthenticationError(
            "an agent needs an API token: create one in the dashboard (kind 'agent') and pass it "
            "with --token or VISIONYARD_AGENT_TOKEN"
        )
    digest = hashlib.sha256(secret.encode("utf-8")).hexdigest()
    now = datetime.now(UTC)

    def work(session: Session) -> str:
        row = session.execute(
            select(ApiToken, User)
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_hash == digest)
        ).one_or_none()
        if row is None:
            raise AuthenticationError("the agent's API token is not known to this database")
        token, user = row
        expires = as_utc(token.expires_at)
        if token.revoked_at is not None or (expires is not None and expires <= now):
            raise AuthenticationError(
                f"the agent's API token {token.prefix}… is revoked or expired; create a new one"
            )
        if token.kind != "agent" and not user.is_admin:
            raise PermissionDeniedError(
                f"token {token.prefix}… belongs to {user.username}, who is not an administrator; "
                "use a token of kind 'agent'"
            )
        session.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now))
        return user.username

    return in_transaction(db, work)
