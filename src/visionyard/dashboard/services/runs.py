"""Runs: listing and reading them, queueing a snapshot of a config version, cancel, re-queue,
delete, tags. What a run produced is read by `run_metrics` (series) and `run_outputs` (logs,
checkpoints, results, files).

Decisions (documented for the API's users):

- A run's ``config_snapshot``/``config_hash`` are copied from the config version at queue time
  and never change; deleting or editing the config leaves them as they were.
- Each run gets its own folder ``<runs root>/<run id>-<slug of its name>`` (``Run.run_dir``,
  relative to the runs root); the agent passes it to the trainer as output_dir/run_name.
- Re-queue ("reproduce") creates a NEW run with the same snapshot and hash, tagged
  ``requeue-of:<original id>`` (shown as ``requeued_from``), trained from scratch in a folder
  of its own; only finished runs qualify. To continue a failed or canceled run from its
  checkpoint instead, resume it (`visionyard.dashboard.services.run_control`).
- Queueing and re-queueing check the snapshot's model again (its folder may have been removed
  since the version was saved): a 422 naming ``model_flavour`` instead of a run that an agent
  could only fail.
"""

from __future__ import annotations

import re
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from visionyard import runqueue
from visionyard.dashboard.repositories import configs as configs_repo
from visionyard.dashboard.repositories import run_keys as run_keys_sql
from visionyard.dashboard.repositories import runs as repo
from visionyard.dashboard.services import run_summary
from visionyard.dashboard.services.configs import check_version_model
from visionyard.dashboard.services.files import delete_run_files, run_dir_target
from visionyard.dashboard.services.models import recheck_saved_model, registered_hub_ids
from visionyard.dashboard.services.projects import project_not_found
from visionyard.dashboard.services.run_gpus import default_gpu_count
from visionyard.dashboard.services.run_keys import RunFilter, RunKey
from visionyard.dashboard.services.run_summary import RunSummary
from visionyard.db.models import TERMINAL_STATES, Run, RunState
from visionyard.db.timestamps import as_utc
from visionyard.errors import NotFoundError, RateLimitedError, RunStateError
from visionyard.settings import Settings

REQUEUE_TAG = "requeue-of:"
_SLUG = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class RunView:
    """A run with the names the API shows next to its ids."""

    run: Run
    agent_name: str | None
    config_id: int | None
    config_version: int | None
    summary: RunSummary
    #: the values of the run keys a list asked for (`list_runs(columns=...)`)
    values: Mapping[str, Any] = field(default_factory=dict)

    @property
    def requeued_from(self) -> int | None:
        for tag in self.run.tags:
            number = tag.tag.removeprefix(REQUEUE_TAG)
            if tag.tag.startswith(REQUEUE_TAG) and number.isdigit():
                return int(number)
        return None


def in_request(session: Session) -> sessionmaker[Session]:
    """A run-queue `db` that works inside the request's own transaction.

    The queue's functions open a transaction from the `db` they are given. Handing them the
    request's connection (each call becomes a SAVEPOINT) keeps one transaction per request: the
    run, its feed event and the NOTIFY commit together with the rest of the request or not at
    all. (On SQLite a second connection would also wait on the write lock this request holds.)
    """
    return sessionmaker(
        bind=session.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
    )


# ---- reading runs -------------------------------------------------------------------------------


def _views(session: Session, runs: Sequence[Run]) -> list[RunView]:
    agents = repo.agent_names(session, {r.agent_id for r in runs if r.agent_id is not None})
    versions = repo.config_versions(
        session, {r.config_version_id for r in runs if r.config_version_id is not None}
    )
    summaries = run_summary.summaries(session, runs)
    views = []
    for run in runs:
        config_id, number = versions.get(run.config_version_id or 0, (None, None))
        views.append(
            RunView(run, agents.get(run.agent_id or 0), config_id, number, summaries[run.id])
        )
    return views


def run_or_404(session: Session, run_id: int) -> Run:
    run = repo.get(session, run_id)
    if run is None:
        raise NotFoundError(f"run {run_id} does not exist; list runs to find its id")
    return run


def get_run(session: Session, run_id: int) -> RunView:
    return _views(session, [run_or_404(session, run_id)])[0]


def list_runs(
    session: Session,
    *,
    project_id: int | None,
    state: RunState | None,
    group_id: int | None,
    tag: str | None,
    q: str | None,
    sort: RunKey,
    config_id: int | None = None,
    where: Sequence[RunFilter] = (),
    columns: Mapping[str, RunKey] | None = None,
    descending: bool,
    limit: int,
    offset: int,
    require_project: bool = False,
    visible_projects: Collection[int] | None = None,
) -> tuple[list[RunView], int]:
    """A page of runs, sorted and filtered by run keys (`run_keys`) in the database, each with
    its values of the `columns` keys (computed by the same SQL that sorts by them). With
    `visible_projects`, runs of other projects are left out (counts included)."""
    if require_project and project_id is not None and not repo.project_exists(session, project_id):
        raise project_not_found(project_id)
    now = time.time()
    visible = [] if visible_projects is None else [Run.project_id.in_(sorted(visible_projects))]
    runs, total = repo.list_page(
        session,
        project_id=project_id,
        state=state,
        group_id=group_id,
        config_id=config_id,
        tag=tag,
        q=q,
        order_by=run_keys_sql.expression(session, sort, now),
        conditions=[
            *(run_keys_sql.condition(session, f, now) for f in where),
            *visible,
        ],
        descending=descending,
        limit=limit,
        offset=offset,
    )
    views = _views(session, runs)
    if not columns:
        return views, total
    values = repo.key_values(
        session,
        [r.id for r in runs],
        {text: run_keys_sql.expression(session, key, now) for text, key in columns.items()},
    )
    return [
        replace(
            view,
            values={
                text: _shown(key, values.get(view.run.id, {}).get(text))
                for text, key in columns.items()
            },
        )
        for view in views
    ], total


def _shown(key: RunKey, value: Any) -> float | bool | str | None:
    """A key's value as the API shows it: JSON numbers, switches, text; times as ISO 8601."""
    if value is None:
        return None
    if key.value_type == "bool":
        return bool(value)  # SQLite's JSON reads a switch back as 0/1
    if key.value_type == "number":
        return float(value)
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    return str(value)


def count_by_state(
    session: Session,
    *,
    project_id: int,
    group_id: int | None,
    tag: str | None,
    q: str | None,
    where: Sequence[RunFilter] = (),
) -> dict[RunState, int]:
    """How many of the project's runs meeting the filters are in each state (all states)."""
    if not repo.project_exists(session, project_id):
        raise project_not_found(project_id)
    now = time.time()
    counts = repo.state_counts(
        session,
        project_id=project_id,
        group_id=group_id,
        tag=tag,
        q=q,
        conditions=[run_keys_sql.condition(session, f, now) for f in where],
    )
    return {state: counts.get(state, 0) for state in RunState}


# ---- queueing and the run lifecycle --------------------------------------------------------------


def check_quota(session: Session, settings: Settings, user_id: int) -> None:
    # S15: one user cannot flood the queue (VISIONYARD_MAX_QUEUED_RUNS_PER_USER).
    limit = settings.max_queued_runs_per_user
    queued = repo.count_queued_by(session, user_id)
    if queued >= limit:
        raise RateLimitedError(
            f"you already have {queued} queued runs (the limit is {limit}); wait for some to "
            "start, or cancel some, before queueing more"
        )


def recheck_run_model(session: Session, settings: Settings, run: Run) -> None:
    """A run's saved model must still exist before it is queued again (re-queue, resume): its
    folder may have been removed since the config was saved."""
    recheck_saved_model(
        run.config_snapshot,
        settings.models_root,
        registered=registered_hub_ids(session, run.project_id),
        saved_as=f"run {run.id}'s config",
    )


def run_folder_name(run_id: int, name: str) -> str:
    slug = _SLUG.sub("-", name).strip("-.")[:80] or "run"
    return f"{run_id}-{slug}"


def _enqueue(session: Session, *, name: str, tags: Iterable[str], **fields: Any) -> RunView:
    run_id = runqueue.enqueue(in_request(session), name=name, tags=tags, **fields)
    repo.set_run_dir(session, run_id, run_folder_name(run_id, name))
    return get_run(session, run_id)


def queue_run(
    session: Session,
    settings: Settings,
    *,
    config_id: int,
    version: int | None,
    name: str | None,
    priority: int,
    target_agent: str | None,
    gpu_count: int | None,
    max_restarts: int,
    group_id: int | None,
    tags: Sequence[str],
    user_id: int,
) -> RunView:
    """Queue a run of `version` (default: the latest) of a config, with a snapshot of it.
    Without a `gpu_count`, the run asks for what the platform can serve (`run_gpus`)."""
    config = configs_repo.get(session, config_id)
    if config is None:
        raise NotFoundError(f"config {config_id} does not exist; list a project's configs")
    number = version or config.latest_version
    picked = configs_repo.get_version(session, config_id, number)
    if picked is None:
        raise NotFoundError(
            f"config {config_id} ({config.name!r}) has no version {number}; it has versions "
            f"1..{config.latest_version}"
        )
    if group_id is not None and repo.group_project(session, group_id) != config.project_id:
        raise NotFoundError(
            f"group {group_id} does not exist in project {config.project_id}; create the group "
            "in the config's project or leave group_id out"
        )
    check_version_model(session, config, picked, settings.models_root)
    check_quota(session, settings, user_id)
    return _enqueue(
        session,
        project_id=config.project_id,
        name=name or f"{config.name}-v{number}"[:128],
        config_snapshot=dict(picked.data),
        config_hash=picked.config_hash,
        priority=priority,
        target_agent=target_agent,
        gpu_count=default_gpu_count(session, picked.data) if gpu_count is None else gpu_count,
        max_restarts=max_restarts,
        group_id=group_id,
        config_version_id=picked.id,
        created_by=user_id,
        tags=tags,
    )


def cancel_run(session: Session, run_id: int) -> tuple[RunView, str]:
    """Queued: canceled at once. Running: cancel requested (its agent stops it within
    seconds). Finished: RunStateError (409)."""
    run_or_404(session, run_id)
    result = runqueue.request_cancel(in_request(session), run_id)
    if not result.changed and result.state in TERMINAL_STATES:
        raise RunStateError(f"{result.message}; re-queue it to run it again")
    return get_run(session, run_id), result.message


def requeue_run(
    session: Session,
    settings: Settings,
    run_id: int,
    *,
    name: str | None,
    priority: int | None,
    user_id: int,
) -> RunView:
    """Reproduce a finished run: a new queued run with the same snapshot and hash, trained
    from scratch (step 0, a new folder). `run_control.resume_run` continues the same run from
    its checkpoint instead."""
    original = run_or_404(session, run_id)
    if original.state not in TERMINAL_STATES:
        raise RunStateError(
            f"run {run_id} is {original.state.value}; only finished runs (succeeded, failed, "
            "canceled) can be re-queued. Cancel it first, or wait for it to finish."
        )
    recheck_run_model(session, settings, original)
    check_quota(session, settings, user_id)
    tags = {t.tag for t in original.tags if not t.tag.startswith(REQUEUE_TAG)}
    return _enqueue(
        session,
        project_id=original.project_id,
        name=name or original.name,
        config_snapshot=dict(original.config_snapshot),
        config_hash=original.config_hash,
        priority=original.priority if priority is None else priority,
        target_agent=original.target_agent,
        gpu_count=original.gpu_count,
        max_restarts=original.max_restarts,
        group_id=original.group_id,
        config_version_id=original.config_version_id,
        created_by=user_id,
        tags=tags | {f"{REQUEUE_TAG}{run_id}"},
    )


def delete_run(session: Session, settings: Settings, run_id: int) -> None:
    """Delete a finished run's row (events, tags, checkpoint records cascade) and its folder.

    The folder goes after the row but before the commit: if it cannot be removed the request
    fails and the run stays, so the delete can be retried (removal is idempotent).
    """
    run = run_or_404(session, run_id)
    if run.state not in TERMINAL_STATES:
        raise RunStateError(
            f"run {run_id} is {run.state.value}; cancel it and wait until it has stopped "
            "before deleting it"
        )
    run_dir_target(settings, run)  # refuse a folder outside the runs root before deleting
    repo.remove(session, run_id)
    delete_run_files(settings, run)


def set_tags(session: Session, run_id: int, tags: Sequence[str]) -> RunView:
    run_or_404(session, run_id)
    repo.replace_tags(session, run_id, tags)
    return get_run(session, run_id)
