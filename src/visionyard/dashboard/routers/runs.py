"""Runs: queue a config version, list/inspect, cancel, re-queue, delete, tags. What a run
produced (metric series, logs, checkpoints, results, files): `run_outputs`.

Semantics and decisions: `visionyard.dashboard.services.runs`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from sqlalchemy.orm import Session

from visionyard.dashboard.access import (
    ConfigEditor,
    CurrentUser,
    ProjectEditor,
    ProjectViewer,
    RunEditor,
    RunViewer,
    visible_project_ids,
)
from visionyard.dashboard.deps import SessionDep, StateDep
from visionyard.dashboard.schemas.common import IdPath, IdQuery, PageParams, Pagination
from visionyard.dashboard.schemas.run_summary import RunSummaryOut
from visionyard.dashboard.schemas.runs import (
    CountFilterParams,
    RunCanceled,
    RunCreate,
    RunDetail,
    RunFilterParams,
    RunFilters,
    RunOut,
    RunPage,
    RunRequeue,
    RunsGroupAssign,
    RunsGroupAssigned,
    RunStateCounts,
    RunUpdate,
    TagsIn,
)
from visionyard.dashboard.services import run_groups
from visionyard.dashboard.services import runs as service
from visionyard.dashboard.services.run_progress import shown_progress
from visionyard.dashboard.services.waiting import AgentPool
from visionyard.settings import Settings

router = APIRouter(tags=["runs"])


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
        "progress": shown_progress(run.state, run.progress),
        "earlier_errors": list(run.earlier_errors or []),
        "summary": RunSummaryOut.model_validate(view.summary),
        "values": dict(view.values),
    }


def run_detail(view: service.RunView, session: Session, settings: Settings) -> RunDetail:
    pool = AgentPool.load(session, settings)
    return RunDetail(**_summary(view, pool), config_snapshot=view.run.config_snapshot)


def _list(
    session: Session,
    settings: Settings,
    *,
    project_id: int | None,
    filters: RunFilters,
    page: Pagination,
    require_project: bool,
    visible_projects: frozenset[int] | None = None,
) -> RunPage:
    """The one implementation behind both run lists."""
    views, total = service.list_runs(
        session,
        project_id=project_id,
        state=filters.state,
        group_id=filters.group_id,
        config_id=filters.config_id,
        tag=filters.tag,
        q=filters.q,
        sort=filters.sort,
        where=filters.where,
        columns=filters.columns,
        descending=page.descending,
        limit=page.limit,
        offset=page.offset,
        require_project=require_project,
        visible_projects=visible_projects,
    )
    pool = AgentPool.load(session, settings)
    return RunPage.of([RunOut(**_summary(v, pool)) for v in views], total, page)


@router.post(
    "/configs/{config_id}/runs",
    operation_id="createRun",
    response_model=RunDetail,
    status_code=status.HTTP_201_CREATED,
)
def create_run(
    config_id: IdPath, body: RunCreate, access: ConfigEditor, session: SessionDep, state: StateDep
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
        user_id=access.user_id,
    )
    return run_detail(view, session, state.settings)


@router.get("/runs", operation_id="listRuns", response_model=RunPage)
def list_runs(
    user: CurrentUser,
    session: SessionDep,
    state: StateDep,
    page: PageParams,
    filters: RunFilterParams,
    project_id: IdQuery = None,
) -> RunPage:
    return _list(
        session,
        state.settings,
        project_id=project_id,
        filters=filters,
        page=page,
        require_project=False,
        visible_projects=visible_project_ids(session, user),
    )


@router.get("/projects/{project_id}/runs", operation_id="listProjectRuns", response_model=RunPage)
def list_project_runs(
    project_id: IdPath,
    _access: ProjectViewer,
    session: SessionDep,
    state: StateDep,
    page: PageParams,
    filters: RunFilterParams,
) -> RunPage:
    """Like `GET /runs?project_id=`, but 404 when the project does not exist."""
    return _list(
        session,
        state.settings,
        project_id=project_id,
        filters=filters,
        page=page,
        require_project=True,
    )


@router.get(
    "/projects/{project_id}/runs/counts",
    operation_id="countProjectRuns",
    response_model=RunStateCounts,
)
def count_project_runs(
    project_id: IdPath,
    _access: ProjectViewer,
    session: SessionDep,
    filters: CountFilterParams,
) -> RunStateCounts:
    """How many of the project's runs meet the filters (those of the run list but `state`),
    in all and per state: the numbers next to a table's state filters."""
    states = service.count_by_state(
        session,
        project_id=project_id,
        group_id=filters.group_id,
        tag=filters.tag,
        q=filters.q,
        where=filters.where,
    )
    return RunStateCounts(total=sum(states.values()), states=states)


@router.post(
    "/projects/{project_id}/runs/group",
    operation_id="assignRunsToGroup",
    response_model=RunsGroupAssigned,
)
def assign_runs_to_group(
    project_id: IdPath, body: RunsGroupAssign, _access: ProjectEditor, session: SessionDep
) -> RunsGroupAssigned:
    """Put runs of the project into one of its experiment groups (`group_id: null`: into
    none). All or nothing: an id that is not a run of the project, or a group of another
    project, is a 404 and no run moves."""
    runs = run_groups.assign_group(session, project_id, body.run_ids, body.group_id)
    return RunsGroupAssigned(group_id=body.group_id, run_ids=[r.id for r in runs])


@router.get("/runs/{run_id}", operation_id="getRun", response_model=RunDetail)
def get_run(run_id: IdPath, _access: RunViewer, session: SessionDep, state: StateDep) -> RunDetail:
    return run_detail(service.get_run(session, run_id), session, state.settings)


@router.post("/runs/{run_id}/cancel", operation_id="cancelRun", response_model=RunCanceled)
def cancel_run(
    run_id: IdPath, _access: RunEditor, session: SessionDep, state: StateDep
) -> RunCanceled:
    """Queued: canceled at once. Running: cancel requested; its agent stops it within about
    a second. Finished: 409."""
    view, message = service.cancel_run(session, run_id)
    return RunCanceled(message=message, run=run_detail(view, session, state.settings))


@router.post(
    "/runs/{run_id}/requeue",
    operation_id="requeueRun",
    response_model=RunDetail,
    status_code=status.HTTP_201_CREATED,
)
def requeue_run(
    run_id: IdPath,
    access: RunEditor,
    session: SessionDep,
    state: StateDep,
    body: RunRequeue | None = None,
) -> RunDetail:
    """Reproduce a finished run: a NEW queued run with the same config snapshot and hash,
    tagged `requeue-of:<id>`, trained from scratch (step 0, a folder of its own). To continue a
    failed or canceled run from its checkpoint instead, resume it (`POST /runs/{id}/resume`)."""
    body = body or RunRequeue()
    view = service.requeue_run(
        session,
        state.settings,
        run_id,
        name=body.name,
        priority=body.priority,
        user_id=access.user_id,
    )
    return run_detail(view, session, state.settings)


@router.delete("/runs/{run_id}", operation_id="deleteRun", status_code=status.HTTP_204_NO_CONTENT)
def delete_run(run_id: IdPath, _access: RunEditor, session: SessionDep, state: StateDep) -> None:
    """Delete a finished run and its folder under the runs root (409 while queued/running)."""
    service.delete_run(session, state.settings, run_id)


@router.patch("/runs/{run_id}", operation_id="updateRun", response_model=RunDetail)
def update_run(
    run_id: IdPath, body: RunUpdate, _access: RunEditor, session: SessionDep, state: StateDep
) -> RunDetail:
    """Change a run's experiment group (a group of its project; null: none). Fields left out
    stay as they are."""
    run = service.run_or_404(session, run_id)
    if "group_id" in body.model_fields_set:
        run_groups.set_run_group(session, run, body.group_id)
    return run_detail(service.get_run(session, run_id), session, state.settings)


@router.put("/runs/{run_id}/tags", operation_id="setRunTags", response_model=RunDetail)
def set_run_tags(
    run_id: IdPath, body: TagsIn, _access: RunEditor, session: SessionDep, state: StateDep
) -> RunDetail:
    """Replace the run's tags."""
    return run_detail(service.set_tags(session, run_id, body.tags), session, state.settings)
