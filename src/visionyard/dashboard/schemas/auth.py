"""Login, users and API tokens."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from visionyard.dashboard.schemas.common import (
    ApiModel,
    Name,
    Page,
    RequestBody,
    SafeStr,
    UtcDateTime,
)

Username = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")


# SafeStr: a NUL or a lone surrogate in a username reaches the database (and in a password the
# hasher's UTF-8 encoding); both would be 500s instead of a 422.
class LoginRequest(RequestBody):
    username: SafeStr = Field(min_length=1, max_length=64)
    password: SafeStr = Field(min_length=1, max_length=1024)


class UserOut(ApiModel):
    id: int
    username: str
    is_admin: bool
    disabled: bool
    created_at: UtcDateTime


class UserCreate(RequestBody):
    username: str = Username
    password: SafeStr = Field(min_length=8, max_length=1024)
    is_admin: bool = False


class UserUpdate(RequestBody):
    password: SafeStr | None = Field(None, min_length=8, max_length=1024)
    disabled: bool | None = None
    is_admin: bool | None = None


#: most projects one token may be limited to
MAX_TOKEN_PROJECTS = 1000


class TokenCreate(RequestBody):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "ci", "kind": "user", "expires_in_days": 30},
                {"name": "report-reader", "scope": "read", "project_ids": [1]},
            ]
        }
    )

    name: Name
    kind: str = Field("user", pattern="^(user|agent)$")
    expires_in_days: int | None = Field(None, ge=1, le=3650)
    scope: str = Field(
        "write",
        pattern="^(read|write)$",
        description="'read': the token can never change anything; 'write': it acts with its "
        "user's roles. Agent tokens are always 'write'.",
    )
    project_ids: list[Annotated[int, Field(ge=1)]] | None = Field(
        None,
        min_length=1,  # an empty list would reach nothing: leave it out for every project
        max_length=MAX_TOKEN_PROJECTS,
        description="Limit the token to these projects (each must exist, and you must be a "
        "member unless you are an admin); absent or null: every project its user may see. "
        "Agent tokens reach every project.",
    )

    # Agents claim runs of every project and write their results: a read-only or
    # project-limited agent token would fail at its first claim, so it is refused up front.
    @field_validator("scope")
    @classmethod
    def _agents_write(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("kind") == "agent" and value != "write":
            raise ValueError(
                "an agent token always has scope 'write' (agents write run results); leave "
                "scope out, or create a user token"
            )
        return value

    @field_validator("project_ids")
    @classmethod
    def _agents_everywhere(cls, value: list[int] | None, info: ValidationInfo) -> list[int] | None:
        if info.data.get("kind") == "agent" and value is not None:
            raise ValueError(
                "an agent token reaches every project (agents run the queue of all of them); "
                "leave project_ids out, or create a user token"
            )
        return value


class TokenOut(ApiModel):
    id: int
    name: str
    kind: str
    prefix: str
    # UtcDateTime: SQLite hands back naive timestamps, which are not RFC 3339 date-times.
    created_at: UtcDateTime
    expires_at: UtcDateTime | None
    revoked_at: UtcDateTime | None
    last_used_at: UtcDateTime | None
    scope: str = Field(description="'read' (never changes anything) or 'write'")
    project_ids: list[int] | None = Field(
        description="The only projects the token reaches; null: every project its user may see"
    )


class TokenCreated(TokenOut):
    token: str = Field(description="The secret; shown only in this response.")


class Me(BaseModel):
    id: int
    username: str
    is_admin: bool
    via: str


class SessionOut(ApiModel):
    """One of the caller's login sessions (never its secrets)."""

    id: int
    created_at: UtcDateTime
    last_seen_at: UtcDateTime | None = Field(description="When it was last used, to about a minute")
    expires_at: UtcDateTime = Field(
        description="Its absolute end; it ends earlier when unused for the idle timeout"
    )
    ip: str = Field(description="The client address it logged in from")
    user_agent: str = Field(description="The browser or program it logged in with")
    current: bool = Field(description="Whether this request came with this session's cookie")


class SessionPage(Page[SessionOut]):
    """A page of the caller's login sessions."""


class UserPage(Page[UserOut]):
    """A page of users."""


class TokenPage(Page[TokenOut]):
    """A page of the caller's API tokens."""
