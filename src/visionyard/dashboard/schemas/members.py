"""Project member bodies."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from visionyard.dashboard.schemas.common import ApiModel, RequestBody, UtcDateTime

RoleName = Literal["viewer", "editor", "owner"]


class MemberSet(RequestBody):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"username": "ana", "role": "editor"}]}
    )

    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    role: RoleName = Field(
        description="viewer: reads everything of the project; editor: + configs, runs, tags, "
        "groups, models; owner: + members, rename, delete"
    )


class MemberOut(ApiModel):
    user_id: int
    username: str
    role: RoleName
    created_at: UtcDateTime


class MemberList(ApiModel):
    items: list[MemberOut]
