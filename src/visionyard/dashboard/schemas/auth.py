"""Login, users and API tokens."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

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


class TokenCreate(RequestBody):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "ci", "kind": "user", "expires_in_days": 30}]}
    )

    name: Name
    kind: str = Field("user", pattern="^(user|agent)$")
    expires_in_days: int | None = Field(None, ge=1, le=3650)


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


class TokenCreated(TokenOut):
    token: str = Field(description="The secret; shown only in this response.")


class Me(BaseModel):
    id: int
    username: str
    is_admin: bool
    via: str


class UserPage(Page[UserOut]):
    """A page of users."""


class TokenPage(Page[TokenOut]):
    """A page of the caller's API tokens."""
