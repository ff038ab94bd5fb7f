"""Runs: queue a config version, list/inspect, cancel, re-queue, delete, tags; and what a run
produced: metric series (downsampled), logs, checkpoints, results.json and its files.

Semantics and decisions: `visionyard.dashboard.services.runs`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, status
from fastapi.responses import FileResponse
from pydantic import AfterValidator, BaseModel, Field
from sqlalchemy.orm import Session

from visionyard.dashboard.deps import CurrentUser, SessionDep, StateDep
from visionyard.dashboard.routers.projects import NameFilter, UtcDateTime
from visionyard.dashboard.schemas import (
    MAX_ID,
    ApiModel,
    IdPath,
    Name,
    Page,
    Pagination,
    SafeStr,
    pagination,
)
from visionyard.dashboard.services import runs as service
from visionyard.dashboard.services.waiting import AgentPool
from visionyard.db.models import RunState
from visionyard.settings import Settings
from visionyard.text import check_text, printable

router = APIRouter(tags=["runs"])

MAX_EVENT_ID = 2**63 - 1  # run_events.id is a BIGINT


def _plain_tag(value: str) -> str:
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("tags are single-line text (no control characters)")
    check_text(value)
    if value != value.strip():
        raise ValueError("tags have no leading or trailing spaces")
    return value


Tag = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_plain_tag)]
Tags = Annotated[list[Tag], Field(max_length=32)]
SortRuns = Literal["created_at", "priority", "name"]


class RunCreate(BaseModel):
    version: int | None = Field(None, ge=1, le=MAX_ID, description="Default: the latest.")
    name: Name | None = Field(None, description="Default: '<config name>-v<version>'.")
    priority: int = Field(0, ge=-1_000_000, le=1_000_000, description="Higher runs first.")
    target_agent: Name | None = Field(None, description="Only this agent (by name) may run it.")
    gpu_count: int = Field(1, ge=0, le=64, description="GPUs the run needs; 0 for a CPU run.")
    max_restarts: int = Field(3, ge=0, le=100, description="Retries after crashes/lost agents.")
    group_id: int | None = Field(None, ge=1, le=MAX_ID)
    tags: Tags = Field(default_factory=list)


class RunRequeue(BaseModel):
    name: Name | None = Field(None, description="Default: the original run's name.")
    priority: int | None = Field(None, ge=-1_000_000, le=1_000_000)


class TagsIn(BaseModel):
    tags: Tags


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
    progress: dict[str, Any]
    error: str | None
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


class MetricNames(BaseModel):
    names: list[str]


class SeriesOut(BaseModel):
    name: str
    steps: list[int]
    values: list[float | None] = Field(description="null marks a gap (a non-finite value).")
    total: int = Field(description="Current points before downsampling.")
    downsampled: bool


class MetricSeries(BaseModel):
    run_id: int
    max_points: int
    series: list[SeriesOut]


class LogLine(BaseModel):
    id: int
    attempt: int
    time: float
    level: str
    message: str


class LogPage(BaseModel):
    items: list[LogLine]
    last_id: int | None = Field(description="Pass as after_id to get the lines that follow.")


class CheckpointOut(ApiModel):
    id: int
    attempt: int
    name: str
    path: str
    epoch: int | None
    step: int
    metric: float | None
    created_at: UtcDateTime


class FileEntryOut(BaseModel):
    name: str
    path: str
    is_dir: bool
    size: int | None
    modified: float


class FileListing(BaseModel):
    path: str
    entries: list[FileEntryOut]
    truncated: bool


def _summary(view: service.RunView, pool: AgentPool) -> dict[str, Any]:
    run = view.run
    return {
        **{name: getattr(run, name) for name in RunOut.model_fields if hasattr(run, name)},
        "config_id": view.config_id,
        "config_version": view.config_version,
        "agent_name": view.agent_name,
        "tags": sorted(t.tag for t in run.tags),
        "requeued_from": view.requeued_from,
        "waiting_for": pool.waiting_for(run),
        "progress": dict(run.progress or {}),
    }


def _detail(view: service.RunView, session: Session, settings: Settings) -> RunDetail:
    pool = AgentPool.load(session, settings)
    return RunDetail(**_summary(view, pool), config_snapshot=view.run.config_snapshot)


def _page(
    views: list[service.RunView], total: int, page: Pagination, session: Session, settings: Settings
) -> Page[RunOut]:
    pool = AgentPool.load(session, settings)
    return Page(
        items=[RunOut(**_summary(v, pool)) for v in views],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


# ---- queue and lifecycle ------------------------------------------------------------------------


@router.post(
    "/configs/{config_id}/runs",
    operation_id="createRun",
    response_model=RunDetail,
    status_code=status.HTTP_201_CREATED,
)
def create_run(
    config_id: IdPath, body: RunCreate, user: CurrentUser, session: SessionDep, state: StateDep
) -> RunDetail:
    """Queue a run of a config version; the run keeps a snapshot of that version forever."""
    view = service.queue_run(
        session,
        state.settings,
        config_id=config_id,
        version=body.version,
        name=body.name,
        priority=body.priority,
        target_agent=body.target_agent,
        gpu_count=body.gpu_count,
        max_restarts=body.max_restarts,
        group_id=body.group_id,
        tags=body.tags,
        user_id=user.user_id,
    )
    return _detail(view, session, state.settings)


@router.get("/runs", operation_id="listRuns", response_model=Page[RunOut])
def list_runs(
    _user: CurrentUser,
    session: SessionDep,
    app_state: StateDep,
    page: Annotated[Pagination, Depends(pagination)],
    project_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    state: RunState | None = None,
    group_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    tag: Annotated[SafeStr | None, Query(max_length=64)] = None,
    q: NameFilter = None,
    sort: SortRuns = "created_at",
) -> Page[RunOut]:
    views, total = service.list_runs(
        session,
        project_id=project_id,
        state=state,
        group_id=group_id,
        tag=tag,
        q=q,
        sort=sort,
        descending=page.order == "desc",
        limit=page.limit,
        offset=page.offset,
    )
    return _page(views, total, page, session, app_state.settings)


@router.get(
    "/projects/{project_id}/runs", operation_id="listProjectRuns", response_model=Page[RunOut]
)
def list_project_runs(
    project_id: IdPath,
    _user: CurrentUser,
    session: SessionDep,
    app_state: StateDep,
    page: Annotated[Pagination, Depends(pagination)],
    state: RunState | None = None,
    group_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    tag: Annotated[SafeStr | None, Query(max_length=64)] = None,
    q: NameFilter = None,
    sort: SortRuns = "created_at",
) -> Page[RunOut]:
    views, total = service.list_runs(
        session,
        project_id=project_id,
        state=state,
        group_id=group_id,
        tag=tag,
        q=q,
        sort=sort,
        descending=page.order == "desc",
        limit=page.limit,
        offset=page.offset,
        require_project=True,
    )
    return _page(views, total, page, session, app_state.settings)


@router.get("/runs/{run_id}", operation_id="getRun", response_model=RunDetail)
def get_run(run_id: IdPath, _user: CurrentUser, session: SessionDep, state: StateDep) -> RunDetail:
    return _detail(service.get_run(session, run_id), session, state.settings)


@router.post("/runs/{run_id}/cancel", operation_id="cancelRun", response_model=RunCanceled)
def cancel_run(
    run_id: IdPath, _user: CurrentUser, session: SessionDep, state: StateDep
) -> RunCanceled:
    """Queued: canceled at once. Running: cancel requested; its agent stops it within
    seconds. Finished: 409."""
    view, message = service.cancel_run(session, run_id)
    return RunCanceled(message=message, run=_detail(view, session, state.settings))


@router.post(
    "/runs/{run_id}/requeue",
    operation_id="requeueRun",
    response_model=RunDetail,
    status_code=status.HTTP_201_CREATED,
)
def requeue_run(
    run_id: IdPath,
    user: CurrentUser,
    session: SessionDep,
    state: StateDep,
    body: RunRequeue | None = None,
) -> RunDetail:
    """Reproduce a finished run: a NEW queued run with the same config snapshot and hash,
    tagged `requeue-of:<id>`."""
    body = body or RunRequeue()
    view = service.requeue_run(
        session,
        state.settings,
        run_id,
        name=body.name,
        priority=body.priority,
        user_id=user.user_id,
    )
    return _detail(view, session, state.settings)


@router.delete("/runs/{run_id}", operation_id="deleteRun", status_code=status.HTTP_204_NO_CONTENT)
def delete_run(run_id: IdPath, _user: CurrentUser, session: SessionDep, state: StateDep) -> None:
    """Delete a finished run and its folder under the runs root (409 while queued/running)."""
    service.delete_run(session, state.settings, run_id)


@router.put("/runs/{run_id}/tags", operation_id="setRunTags", response_model=RunDetail)
def set_run_tags(
    run_id: IdPath, body: TagsIn, _user: CurrentUser, session: SessionDep, state: StateDep
) -> RunDetail:
    """Replace the run's tags."""
    return _detail(service.set_tags(session, run_id, body.tags), session, state.settings)


# ---- what the run produced ----------------------------------------------------------------------


@router.get("/runs/{run_id}/metrics", operation_id="listRunMetrics", response_model=MetricNames)
def list_run_metrics(run_id: IdPath, _user: CurrentUser, session: SessionDep) -> MetricNames:
    return MetricNames(names=service.metric_names(session, run_id))


@router.get(
    "/runs/{run_id}/metrics/series", operation_id="getRunMetricSeries", response_model=MetricSeries
)
def get_run_metric_series(
    run_id: IdPath,
    _user: CurrentUser,
    session: SessionDep,
    names: Annotated[
        list[Annotated[SafeStr, Field(max_length=128)]], Query(min_length=1, max_length=20)
    ],
    max_points: Annotated[int, Query(ge=10, le=10_000)] = 1000,
) -> MetricSeries:
    """Each metric's current points (the latest attempt wins per step), ordered by step and
    downsampled to at most `max_points` (min/max per bucket, so spikes survive)."""
    series = service.metric_series(session, run_id, names, max_points)
    return MetricSeries(
        run_id=run_id,
        max_points=max_points,
        series=[SeriesOut(**s.__dict__) for s in series],
    )


@router.get("/runs/{run_id}/logs", operation_id="getRunLogs", response_model=LogPage)
def get_run_logs(
    run_id: IdPath,
    _user: CurrentUser,
    session: SessionDep,
    tail: Annotated[int, Query(ge=1, le=5000, description="Last N lines")] = 200,
    after_id: Annotated[
        int | None, Query(ge=0, le=MAX_EVENT_ID, description="Lines after this id")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size with after_id")] = 200,
) -> LogPage:
    rows = service.logs(session, run_id, tail=tail, after_id=after_id, limit=limit)
    items = [
        LogLine(
            id=row.id,
            attempt=row.attempt,
            time=row.created_at,
            level=str(row.payload.get("level") or row.name or "info"),
            message=str(row.payload.get("message", "")),
        )
        for row in rows
    ]
    last_id = items[-1].id if items else after_id
    return LogPage(items=items, last_id=last_id)


@router.get(
    "/runs/{run_id}/checkpoints",
    operation_id="listRunCheckpoints",
    response_model=list[CheckpointOut],
)
def list_run_checkpoints(
    run_id: IdPath, _user: CurrentUser, session: SessionDep
) -> list[CheckpointOut]:
    return [CheckpointOut.model_validate(c) for c in service.checkpoints(session, run_id)]


@router.get("/runs/{run_id}/results", operation_id="getRunResults", response_model=dict[str, Any])
def get_run_results(
    run_id: IdPath, _user: CurrentUser, session: SessionDep, state: StateDep
) -> dict[str, Any]:
    """The run's results.json (final metrics, per-class table, confusion matrix)."""
    return service.results(session, state.settings, run_id)


@router.get(
    "/runs/{run_id}/files",
    operation_id="getRunFiles",
    response_model=FileListing,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def get_run_files(
    run_id: IdPath,
    _user: CurrentUser,
    session: SessionDep,
    state: StateDep,
    path: Annotated[str, Query(max_length=1024, description="Relative to the run folder")] = "",
) -> Any:
    """A folder inside the run's own folder (JSON listing) or a file in it (download)."""
    found = service.browse(session, state.settings, run_id, path)
    if isinstance(found, service.Listing):
        return FileListing(
            path=found.path,
            entries=[FileEntryOut(**e.__dict__) for e in found.entries],
            truncated=found.truncated,
        )
    # Always a download, never rendered: an HTML file written by a run must not execute in the
    # dashboard's origin. Always application/octet-stream, as documented: a guessed type would
    # make a downloaded results.json look like this route's JSON listing.
    return FileResponse(
        found,
        media_type="application/octet-stream",
        filename=printable(found.name),
        content_disposition_type="attachment",
        headers={"X-Content-Type-Options": "nosniff"},
    )
