"""What a run produced: its metric series (downsampled), log lines, checkpoints, results.json
and the files of its run folder.

Semantics and decisions: `visionyard.dashboard.services.run_metrics` and `run_outputs`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from pydantic import Field

from visionyard.dashboard.access import RunViewer
from visionyard.dashboard.deps import SessionDep, StateDep
from visionyard.dashboard.schemas.common import IdPath, PageParams, RelPath, SafeStr
from visionyard.dashboard.schemas.run_outputs import (
    MAX_EVENT_ID,
    CheckpointOut,
    CheckpointPage,
    FileEntryOut,
    FileListing,
    LogLine,
    LogPage,
    MetricNames,
    MetricSeries,
    SeriesOut,
)
from visionyard.dashboard.services import run_metrics as metrics
from visionyard.dashboard.services import run_outputs as outputs
from visionyard.text import printable

router = APIRouter(tags=["runs"])


@router.get("/runs/{run_id}/metrics", operation_id="listRunMetrics", response_model=MetricNames)
def list_run_metrics(run_id: IdPath, _access: RunViewer, session: SessionDep) -> MetricNames:
    return MetricNames(names=metrics.metric_names(session, run_id))


@router.get(
    "/runs/{run_id}/metrics/series", operation_id="getRunMetricSeries", response_model=MetricSeries
)
def get_run_metric_series(
    run_id: IdPath,
    _access: RunViewer,
    session: SessionDep,
    names: Annotated[
        list[Annotated[SafeStr, Field(max_length=128)]], Query(min_length=1, max_length=20)
    ],
    max_points: Annotated[int, Query(ge=10, le=10_000)] = 1000,
    step_min: Annotated[
        int | None, Query(ge=0, le=MAX_EVENT_ID, description="Only steps >= this (inclusive)")
    ] = None,
    step_max: Annotated[
        int | None, Query(ge=0, le=MAX_EVENT_ID, description="Only steps <= this (inclusive)")
    ] = None,
) -> MetricSeries:
    """Each metric's current points (the latest attempt wins per step), ordered by step and
    downsampled to at most `max_points` (min/max per bucket, so spikes survive, and the last
    point, so the series ends on its last value).

    A name the run has not logged answers an empty series if the platform reports it for every
    run (`train/step_loss`, `train/lr`, `train|val|test/<registered metric>`, `system/*`), and
    404 naming the run's metrics otherwise; `listRunMetrics` lists what the run has.

    `step_min`/`step_max` keep only that step window (a zoomed chart asks for it at full
    resolution); 422 when step_min > step_max."""
    series = metrics.metric_series(
        session, run_id, names, max_points, step_min=step_min, step_max=step_max
    )
    return MetricSeries(
        run_id=run_id,
        max_points=max_points,
        step_min=step_min,
        step_max=step_max,
        series=[SeriesOut(**s.__dict__) for s in series],
    )


@router.get("/runs/{run_id}/logs", operation_id="getRunLogs", response_model=LogPage)
def get_run_logs(
    run_id: IdPath,
    _access: RunViewer,
    session: SessionDep,
    tail: Annotated[int, Query(ge=1, le=5000, description="Last N lines")] = 200,
    after_id: Annotated[
        int | None, Query(ge=0, le=MAX_EVENT_ID, description="Lines after this id")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size with after_id")] = 200,
    before_id: Annotated[
        int | None,
        Query(ge=1, le=MAX_EVENT_ID, description="The last `tail` lines before this id"),
    ] = None,
) -> LogPage:
    """The last `tail` lines; with `before_id` the `tail` lines before it (scrolling up a long
    log); with `after_id` up to `limit` lines after it (following a live one); with both, up to
    `limit` lines between them."""
    page = outputs.logs(
        session, run_id, tail=tail, after_id=after_id, limit=limit, before_id=before_id
    )
    rows = page.lines
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
    return LogPage(items=items, last_id=last_id, has_earlier=page.has_earlier)


@router.get(
    "/runs/{run_id}/checkpoints", operation_id="listRunCheckpoints", response_model=CheckpointPage
)
def list_run_checkpoints(
    run_id: IdPath, _access: RunViewer, session: SessionDep, page: PageParams
) -> CheckpointPage:
    """The run's checkpoint records by step (`order=asc`: in training order)."""
    items, total = outputs.checkpoints(
        session, run_id, descending=page.descending, limit=page.limit, offset=page.offset
    )
    return CheckpointPage.of([CheckpointOut.model_validate(c) for c in items], total, page)


@router.get("/runs/{run_id}/results", operation_id="getRunResults", response_model=dict[str, Any])
def get_run_results(
    run_id: IdPath, _access: RunViewer, session: SessionDep, state: StateDep
) -> dict[str, Any]:
    """The run's results.json (final metrics, per-class table, confusion matrix)."""
    return outputs.results(session, state.settings, run_id)


@router.get(
    "/runs/{run_id}/files",
    operation_id="getRunFiles",
    response_model=FileListing,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def get_run_files(
    run_id: IdPath,
    _access: RunViewer,
    session: SessionDep,
    state: StateDep,
    path: Annotated[RelPath, Query(description="Relative to the run folder")] = "",
) -> Any:
    """A folder inside the run's own folder (JSON listing) or a file in it (download)."""
    found = outputs.browse(session, state.settings, run_id, path)
    if isinstance(found, outputs.Listing):
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
