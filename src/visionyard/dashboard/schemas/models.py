"""Model registry bodies. `access_token` is write-only: requests may set it, responses only
say `has_token`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from visionyard.dashboard.schemas.common import (
    ApiModel,
    Name,
    Page,
    RequestBody,
    SafeStr,
    UtcDateTime,
)

Source = Annotated[
    SafeStr,
    Field(
        min_length=1,
        max_length=1024,
        description="A Hugging Face model id ('org/name') or a save_pretrained folder under "
        "VISIONYARD_MODELS_DIR: its path relative to that folder, or its absolute path",
    ),
]
# Printable ASCII without spaces: every Hugging Face token is; anything else is a paste error.
AccessToken = Annotated[
    str,
    Field(
        min_length=1,
        max_length=4096,
        pattern=r"^[!-~]+$",
        description="Write-only: stored encrypted, never returned",
    ),
]


Kind = Annotated[
    Literal["hub", "local"] | None,
    Field(
        description="What the source is meant to be. Omitted: inferred from its spelling (a "
        "folder under VISIONYARD_MODELS_DIR when one of that name exists, otherwise a Hub id). "
        "'local': it must be a save_pretrained folder there (a missing one is refused, naming "
        "the closest folders); 'hub': it must be spelled as a Hub id and not also be a folder "
        "there."
    ),
]


class ModelCreate(RequestBody):
    name: Name
    source: Source
    kind: Kind = None
    access_token: AccessToken | None = None


class ModelUpdate(RequestBody):
    """Omitted fields keep their value; `access_token: null` clears the stored token. `kind`
    applies to a new `source` only."""

    name: Name | None = None
    source: Source | None = None
    kind: Kind = None
    access_token: AccessToken | None = None


class ModelOut(ApiModel):
    id: int
    project_id: int
    name: str
    source: str
    kind: Literal["hub", "local"]
    has_token: bool
    created_at: UtcDateTime


class ModelPage(Page[ModelOut]):
    """A page of registered models."""
