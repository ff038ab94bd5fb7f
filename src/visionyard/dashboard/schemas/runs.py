"""Run bodies: queueing, re-queueing, tags, and the run as the API shows it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from visionyard.dashboard import patterns
from visionyard.dashboard.schemas.common import (
    MAX_ID,
    IdQuery,
    Name,
    NameFilter,
    Page,
    RequestBody,
    SafeStr,
    UtcDateTime,
)
from visionyard.dashboard.schemas.run_summary import AttemptError, RunSummaryOut
from visionyard.dashboard.services import run_keys
from visionyard.db.models import RunState
from visionyard.text import check_text


def _plain_tag(value: str) -> str:
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("tags are single-line text (no control characters)")
    check_text(value)
    if value != value.strip():
        raise ValueError("tags have no leading or trailing spaces")
    return value


Tag = Annotated[
    str,
    Field(min_length=1, max_length=64, json_schema_extra={"pattern": patterns.TAG}),
    AfterValidator(_plain_tag),
]
Tags = Annotated[list[Tag], Field(max_length=32)]

#: a sort key (grammar: `visionyard.dashboard.services.run_keys`)
SortKey = Annotated[
    str,
    Field(max_length=160, json_schema_extra={"pattern": run_keys.KEY_PATTERN}),
    AfterValidator(run_keys.checked_key),
]
#: a filter expression `<key><op><value>`
FilterExpr = Annotated[
    str,
    Field(max_length=400, json_schema_extra={"pattern": run_keys.FILTER_PATTERN}),
    AfterValidator(run_keys.checked_filter),
]
MAX_FILTERS = 10
MAX_COLUMNS = 40
SORT_DESCRIPTION = (
    "What to order by (the direction is `order`; runs without the value come last either "
    "way): `created_at`, `priority`, `name`; the summary's `duration` (seconds), "
    "`epochs_done`, `best` and `last` (each run's own monitored metric); any metric as "
    "`best:<metric>` (by its direction: lower loss, higher accuracy), `last:<metric>` (value "
    "at its last step), `min:<metric>`, `max:<metric>`, e.g. `best:val/acc@1`; any scalar "
    "config field as `param:<field>`, e.g. `param:lr`. An unknown key is a 422 listing the "
    "accepted ones."
)
FILTER_DESCRIPTION = (
    f"Repeatable (at most {MAX_FILTERS}, all must hold): `<key><op><value>` with a sort key "
    "(but not created_at) and op one of `>=` `<=` `>` `<` `=` `!=`; numbers for numeric keys, "
    "`true`/`false` for switches, text for `name` and text config fields (`=`/`!=` only). "
    "E.g. `best:val/acc@1>=0.9`, `param:optimizer=sgd`, `duration<600`. A run without the "
    "value (a metric it never logged) does not match. A bad expression is a 422 naming it."
)


class RunCreate(RequestBody):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"gpu_count": 1, "priority": 10, "tags": ["baseline"]}]}
    )

    version: int | None = Field(None, ge=1, le=MAX_ID, description="Default: the latest.")
    name: Name | None = Field(None, description="Default: '<config name>-v<version>'.")
    priority: int = Field(0, ge=-1_000_000, le=1_000_000, description="Higher runs first.")
    target_agent: Name | None = Field(None, description="Only this agent (by name) may run it.")
    gpu_count: int | None = Field(
        None,
        ge=0,
        le=64,
        description="GPUs the run needs; 0 for a CPU run. Default: what the platform can serve: "
        "0 when the config's device is cpu, 1 when it is cuda or cuda:N, and for device auto 1 "
        "if any registered agent serves a GPU, otherwise 0. A count no online agent can serve "
        "is kept, and the run's waiting_for says why it does not start.",
    )
    max_restarts: int = Field(3, ge=0, le=100, description="Retries after crashes/lost agents.")
    group_id: int | None = Field(None, ge=1, le=MAX_ID)
    tags: Tags = Field(default_factory=list)


class RunRequeue(RequestBody):
    name: Name | None = Field(None, description="Default: the original run's name.")
    priority: int | None = Field(None, ge=-1_000_000, le=1_000_000)


class TagsIn(RequestBody):
    model_config = ConfigDict(json_schema_extra={"examples": [{"tags": ["baseline", "resnet"]}]})

    tags: Tags


class RunUpdate(RequestBody):
    """What can change on a run after it is queued: its experiment group."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"group_id": 3}, {"group_id": None}]})

    group_id: int | None = Field(
        None,
        ge=1,
        le=MAX_ID,
        description="A group of the run's project, or null to take it out of its group. Left "
        "out: unchanged.",
    )


MAX_ASSIGNED = 5_000


class RunsGroupAssign(RequestBody):
    model_config = ConfigDict(json_schema_extra={"examples": [{"run_ids": [1, 2], "group_id": 3}]})

    run_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(
        min_length=1,
        max_length=MAX_ASSIGNED,
        description=f"Runs of the project, 1 to {MAX_ASSIGNED} (repeats count once).",
    )
    group_id: int | None = Field(
        ge=1, le=MAX_ID, description="A group of the project, or null: no group."
    )

    @field_validator("run_ids", mode="before")
    @classmethod
    def _integral_ids_are_integers(cls, value: Any) -> Any:
        # The base class reads 3.0 as 3 for a field's own value; ids inside the list too.
        if isinstance(value, list):
            return [int(v) if isinstance(v, float) and v.is_integer() else v for v in value]
        return value


class RunsGroupAssigned(BaseModel):
    group_id: int | None
    run_ids: list[int] = Field(description="The runs now in the group, ascending.")


#: a value of a run key in `RunOut.values` (created_at as ISO 8601 text)
KeyValue = float | bool | str | None


class RunOut(BaseModel):
    id: int
    project_id: int
    group_id: int | None
    config_id: int | None = Field(description="Null once the config is deleted.")
    config_version: int | None
    config_version_id: int | None
    config_hash: str
    name: str
    state: RunState
    priority: int
    target_agent: str | None
    gpu_count: int
    attempt: int
    restarts: int
    max_restarts: int
    agent_id: int | None
    agent_name: str | None
    cancel_requested: bool
    waiting_for: str | None = Field(
        description="Why a queued run has not started (no agent online, none with enough GPUs, "
        "its target agent offline or drained) and what to do; null when an agent can claim it."
    )
    progress: dict[str, Any] = Field(
        description="The trainer's newest progress report (epoch, epochs, step, total_steps, "
        "eta_s). Succeeded: complete (step == total_steps, complete: true, no eta_s); any "
        "other state but running: where it stopped, without eta_s."
    )
    error: str | None = Field(
        description="What went wrong in the current attempt (null while it runs without "
        "trouble); errors of earlier, retried attempts are in earlier_errors."
    )
    earlier_errors: list[AttemptError] = Field(
        description="What ended each earlier attempt that was retried, oldest first."
    )
    summary: RunSummaryOut
    values: dict[str, KeyValue] = Field(
        default_factory=dict,
        description="The run's value of each key asked for with `column=` (run lists only), "
        'e.g. {"best:val/loss": 0.41, "param:lr": 0.001}; null when the run has none.',
    )
    tags: list[str]
    requeued_from: int | None = Field(description="The run this one re-queues, if any.")
    run_dir: str | None
    created_by: int | None
    created_at: UtcDateTime
    claimed_at: UtcDateTime | None
    finished_at: UtcDateTime | None


class RunDetail(RunOut):
    config_snapshot: dict[str, Any]


class RunCanceled(BaseModel):
    message: str
    run: RunDetail


@dataclass(frozen=True)
class RunFilters:
    """The filters both run lists take (`/runs` and `/projects/{id}/runs`)."""

    state: RunState | None
    group_id: int | None
    tag: str | None
    q: str | None
    sort: run_keys.RunKey
    where: list[run_keys.RunFilter]
    #: the keys whose values each listed run carries (`RunOut.values`), by their text
    columns: dict[str, run_keys.RunKey]
    config_id: int | None = None


TagFilter = Annotated[SafeStr | None, Query(max_length=64)]
FilterExprs = Annotated[
    list[FilterExpr] | None,
    Query(
        alias="filter",
        max_length=MAX_FILTERS,
        description=FILTER_DESCRIPTION,
        examples=[["best:val/acc@1>=0.9"]],
    ),
]


def run_filters(
    state: RunState | None = None,
    group_id: IdQuery = None,
    tag: TagFilter = None,
    q: NameFilter = None,
    sort: Annotated[
        SortKey,
        Query(description=SORT_DESCRIPTION, examples=["created_at", "best:val/acc@1"]),
    ] = "created_at",
    filter_: FilterExprs = None,
    column: Annotated[
        list[SortKey] | None,
        Query(
            max_length=MAX_COLUMNS,
            description=f"Repeatable (at most {MAX_COLUMNS}): keys (the sort keys) whose values "
            "each run carries in `values`, for table columns: e.g. `best:val/loss`, `param:lr`.",
            examples=[["best:val/loss", "param:lr"]],
        ),
    ] = None,
    config_id: Annotated[
        int | None,
        Query(ge=1, le=MAX_ID, description="Runs of this config (any of its versions)."),
    ] = None,
) -> RunFilters:
    return RunFilters(
        state=state,
        group_id=group_id,
        config_id=config_id,
        tag=tag,
        q=q,
        sort=run_keys.parse_key(sort),
        where=[run_keys.parse_filter(f) for f in filter_ or []],
        columns={c: run_keys.parse_key(c) for c in column or []},
    )


RunFilterParams = Annotated[RunFilters, Depends(run_filters)]


def count_filters(
    group_id: IdQuery = None,
    tag: TagFilter = None,
    q: NameFilter = None,
    filter_: FilterExprs = None,
) -> RunFilters:
    """The run list's filters but the state (the counts are per state) and the ordering."""
    return run_filters(group_id=group_id, tag=tag, q=q, filter_=filter_)


CountFilterParams = Annotated[RunFilters, Depends(count_filters)]


class RunStateCounts(BaseModel):
    total: int = Field(description="Runs meeting the filters, in any state.")
    states: dict[RunState, int] = Field(
        description="Of those, how many are in each state (every state, zeros included)."
    )


class RunPage(Page[RunOut]):
    """A page of runs."""
