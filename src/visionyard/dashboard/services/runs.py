"""Runs: queueing a snapshot of a config version, cancel, re-queue, delete, tags, and reading
what a run produced (metric series, logs, checkpoints, results, files).

Decisions (documented for the API's users):

- A run's ``config_snapshot``/``config_hash`` are copied from the config version at queue time
  and never change; deleting or editing the config leaves them as they were.
- Each run gets its own folder ``<runs root>/<run id>-<slug of its name>`` (``Run.run_dir``,
  relative to the runs root); the agent passes it to the trainer as output_dir/run_name.
- Re-queue ("reproduce") creates a NEW run with the same snapshot and hash, tagged
  ``requeue-of:<original id>`` (shown as ``requeued_from``); only finished runs qualify.
- Metric series keep, per metric, only the points of the attempt that is current for each step:
  a point of attempt A at step S is dropped when a later attempt logged that metric at a step
  <= S (it resumed from an earlier checkpoint, so A's values from there on were redone). For a
  step both attempts logged this is "the latest attempt wins"; it also drops the stale tail
  of the older attempt beyond the step the newer one resumed from.
- Series longer than ``max_points`` are downsampled by min/max buckets: the points are cut into
  max_points // 2 consecutive buckets and each bucket keeps its minimum and its maximum (in step
  order), so spikes survive at any zoom; a bucket of only gaps (null values) keeps one gap.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from visionyard import runqueue
from visionyard.dashboard.repositories import configs as configs_repo
from visionyard.dashboard.repositories import runs as repo
from visionyard.dashboard.services.files import delete_run_files, run_dir_target
from visionyard.db.models import TERMINAL_STATES, CheckpointRecord, Run, RunEvent, RunState
from visionyard.errors import (
    ConflictError,
    NotFoundError,
    RateLimitedError,
    RunStateError,
)
from visionyard.paths import relative_posix, resolve_inside, resolved_inside
from visionyard.settings import Settings
from visionyard.text import printable

#: queued runs one user may have at once (S15); a `max_queued_runs_per_user` setting overrides
MAX_QUEUED_RUNS_PER_USER = 1000
REQUEUE_TAG = "requeue-of:"
MAX_LISTED_FILES = 2000
_SLUG = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class RunView:
    """A run with the names the API shows next to its ids."""

    run: Run
    agent_name: str | None
    config_id: int | None
    config_version: int | None

    @property
    def requeued_from(self) -> int | None:
        for tag in self.run.tags:
            number = tag.tag.removeprefix(REQUEUE_TAG)
            if tag.tag.startswith(REQUEUE_TAG) and number.isdigit():
                return int(number)
        return None


@dataclass(frozen=True)
class Series:
    name: str
    steps: list[int]
    values: list[float | None]
    total: int
    downsampled: bool


@dataclass(frozen=True)
class FileEntry:
    name: str
    path: str
    is_dir: bool
    size: int | None
    modified: float


@dataclass(frozen=True)
class Listing:
    path: str
    entries: list[FileEntry] = field(default_factory=list)
    truncated: bool = False


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
    views = []
    for run in runs:
        config_id, number = versions.get(run.config_version_id or 0, (None, None))
        views.append(RunView(run, agents.get(run.agent_id or 0), config_id, number))
    return views


def _run_or_404(session: Session, run_id: int) -> Run:
    run = repo.get(session, run_id)
    if run is None:
        raise NotFoundError(f"run {run_id} does not exist; list runs to find its id")
    return run


def get_run(session: Session, run_id: int) -> RunView:
    return _views(session, [_run_or_404(session, run_id)])[0]


def list_runs(
    session: Session,
    *,
    project_id: int | None,
    state: RunState | None,
    group_id: int | None,
    tag: str | None,
    q: str | None,
    sort: str,
    descending: bool,
    limit: int,
    offset: int,
    require_project: bool = False,
) -> tuple[list[RunView], int]:
    if require_project and project_id is not None and not repo.project_exists(session, project_id):
        raise NotFoundError(f"project {project_id} does not exist")
    runs, total = repo.list_page(
        session,
        project_id=project_id,
        state=state,
        group_id=group_id,
        tag=tag,
        q=q,
        sort=sort,
        descending=descending,
        limit=limit,
        offset=offset,
    )
    return _views(session, runs), total


# ---- queueing and the run lifecycle --------------------------------------------------------------


def _check_quota(session: Session, settings: Settings, user_id: int) -> None:
    limit = getattr(settings, "max_queued_runs_per_user", MAX_QUEUED_RUNS_PER_USER)
    queued = repo.count_queued_by(session, user_id)
    if queued >= limit:
        raise RateLimitedError(
            f"you already have {queued} queued runs (the limit is {limit}); wait for some to "
            "start, or cancel some, before queueing more"
        )


def _folder_name(run_id: int, name: str) -> str:
    slug = _SLUG.sub("-", name).strip("-.")[:80] or "run"
    return f"{run_id}-{slug}"


def _enqueue(session: Session, *, name: str, tags: Iterable[str], **fields: Any) -> RunView:
    run_id = runqueue.enqueue(in_request(session), name=name, tags=tags, **fields)
    repo.set_run_dir(session, run_id, _folder_name(run_id, name))
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
    gpu_count: int,
    max_restarts: int,
    group_id: int | None,
    tags: Sequence[str],
    user_id: int,
) -> RunView:
    """Queue a run of `version` (default: the latest) of a config, with a snapshot of it."""
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
    _check_quota(session, settings, user_id)
    return _enqueue(
        session,
        project_id=config.project_id,
        name=name or f"{config.name}-v{number}"[:128],
        config_snapshot=dict(picked.data),
        config_hash=picked.config_hash,
        priority=priority,
        target_agent=target_agent,
        gpu_count=gpu_count,
        max_restarts=max_restarts,
        group_id=group_id,
        config_version_id=picked.id,
        created_by=user_id,
        tags=tags,
    )


def cancel_run(session: Session, run_id: int) -> tuple[RunView, str]:
    """Queued: canceled at once. Running: cancel requested (its agent stops it within
    seconds). Finished: RunStateError (409)."""
    _run_or_404(session, run_id)
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
    """Reproduce a finished run: a new queued run with the same snapshot and hash."""
    original = _run_or_404(session, run_id)
    if original.state not in TERMINAL_STATES:
        raise RunStateError(
            f"run {run_id} is {original.state.value}; only finished runs (succeeded, failed, "
            "canceled) can be re-queued. Cancel it first, or wait for it to finish."
        )
    _check_quota(session, settings, user_id)
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
    run = _run_or_404(session, run_id)
    if run.state not in TERMINAL_STATES:
        raise RunStateError(
            f"run {run_id} is {run.state.value}; cancel it and wait until it has stopped "
            "before deleting it"
        )
    run_dir_target(settings, run)  # refuse a folder outside the runs root before deleting
    repo.remove(session, run_id)
    delete_run_files(settings, run)


def set_tags(session: Session, run_id: int, tags: Sequence[str]) -> RunView:
    _run_or_404(session, run_id)
    repo.replace_tags(session, run_id, tags)
    return get_run(session, run_id)


# ---- metrics -----------------------------------------------------------------------------------


def metric_names(session: Session, run_id: int) -> list[str]:
    _run_or_404(session, run_id)
    return repo.metric_names(session, run_id)


def current_points(
    rows: Iterable[tuple[int, int, float | None]],
) -> list[tuple[int, float | None]]:
    """One metric's (step, attempt, value) rows -> its current (step, value) points by step.

    A point of attempt A survives only below the first step of every later attempt (see the
    module docstring); within an attempt, steps are unique (the event dedupe key).
    """
    by_attempt: dict[int, list[tuple[int, float | None]]] = defaultdict(list)
    for step, attempt, value in rows:
        by_attempt[attempt].append((step, value))
    kept: list[tuple[int, float | None]] = []
    cutoff: float = float("inf")
    for attempt in sorted(by_attempt, reverse=True):
        points = by_attempt[attempt]
        kept.extend(p for p in points if p[0] < cutoff)
        cutoff = min(cutoff, min(step for step, _ in points))
    kept.sort(key=lambda p: p[0])
    return kept


def downsample(
    points: Sequence[tuple[int, float | None]], max_points: int
) -> list[tuple[int, float | None]]:
    """At most `max_points` points: min and max of each of max_points // 2 buckets."""
    if len(points) <= max_points:
        return list(points)
    buckets = max(1, max_points // 2)
    n = len(points)
    out: list[tuple[int, float | None]] = []
    for b in range(buckets):
        chunk = range(b * n // buckets, (b + 1) * n // buckets)
        # (value, index) pairs: equal values resolve by position, deterministically.
        finite = [(v, i) for i in chunk if (v := points[i][1]) is not None]
        if not finite:
            out.append(points[chunk.start])  # all gaps: keep one, so the chart shows the gap
            continue
        low, high = min(finite)[1], max(finite)[1]
        out.extend(points[i] for i in sorted({low, high}))
    return out


def metric_series(
    session: Session, run_id: int, names: Sequence[str], max_points: int
) -> list[Series]:
    _run_or_404(session, run_id)
    rows: dict[str, list[tuple[int, int, float | None]]] = defaultdict(list)
    for name, step, attempt, value in repo.metric_points(session, run_id, set(names)):
        rows[name].append((step, attempt, value))
    series = []
    for name in dict.fromkeys(names):  # the caller's order, without duplicates
        points = current_points(rows.get(name, []))
        shown = downsample(points, max_points)
        series.append(
            Series(
                name=name,
                steps=[s for s, _ in shown],
                values=[v for _, v in shown],
                total=len(points),
                downsampled=len(shown) < len(points),
            )
        )
    return series


# ---- logs and checkpoints ----------------------------------------------------------------------


def logs(
    session: Session, run_id: int, *, tail: int, after_id: int | None, limit: int
) -> list[RunEvent]:
    """The last `tail` log lines, or (with `after_id`) up to `limit` lines after that id."""
    _run_or_404(session, run_id)
    if after_id is not None:
        return list(repo.logs_after(session, run_id, after_id, limit))
    return repo.logs_tail(session, run_id, tail)


def checkpoints(session: Session, run_id: int) -> Sequence[CheckpointRecord]:
    _run_or_404(session, run_id)
    return repo.checkpoints(session, run_id)


# ---- files in the run folder -------------------------------------------------------------------


def _run_folder(session: Session, settings: Settings, run_id: int) -> Path:
    run = _run_or_404(session, run_id)
    folder = run_dir_target(settings, run)
    if folder is None or not folder.is_dir():
        raise NotFoundError(
            f"run {run_id} has no files yet (its folder is created when an agent starts it)"
        )
    return folder


def results(session: Session, settings: Settings, run_id: int) -> dict[str, Any]:
    folder = _run_folder(session, settings, run_id)
    path = resolve_inside(folder, "results.json", what="results file")
    if not path.is_file():
        raise NotFoundError(
            f"run {run_id} has no results.json yet: it is written when training finishes "
            "(a run that failed or was canceled before the end has none)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConflictError(
            f"run {run_id}'s results.json cannot be read ({exc}); download it through "
            "/files?path=results.json to inspect it"
        ) from None
    if not isinstance(data, dict):
        raise ConflictError(f"run {run_id}'s results.json does not hold a JSON object")
    return data


def _entry(folder: Path, child: Path) -> FileEntry | None:
    resolved = resolved_inside(child, folder)
    if resolved is None:
        return None  # a link leading out of the run folder (or looping) is not shown, nor served
    try:
        info = resolved.stat()
    except OSError:  # dangling links, races with deletion
        return None
    is_dir = resolved.is_dir()
    return FileEntry(
        name=printable(child.name),
        path=printable(child.relative_to(folder).as_posix()),
        is_dir=is_dir,
        size=None if is_dir else info.st_size,
        modified=info.st_mtime,
    )


def browse(session: Session, settings: Settings, run_id: int, path: str) -> Path | Listing:
    """A file inside the run's own folder (to serve), or a listing of a folder in it.

    `path` is relative to the run folder; traversal, absolute paths, NUL, backslashes and
    links leading out are refused with PathOutsideRootError (400).
    """
    folder = _run_folder(session, settings, run_id)
    target = resolve_inside(folder, path, what="path")
    try:
        if target.is_file():
            return target
        if not target.is_dir():
            raise NotFoundError(f"run {run_id} has no file or folder {printable(path)!r}")
        children = sorted(target.iterdir(), key=lambda p: (not p.is_dir(), p.name))
    except OSError as exc:  # permissions, or the folder vanished meanwhile
        raise ConflictError(
            f"cannot read {printable(path)!r} in run {run_id}'s folder: {exc.strerror or exc}; "
            "check the permissions of the runs root"
        ) from None
    entries = [e for e in (_entry(folder, c) for c in children[:MAX_LISTED_FILES]) if e]
    return Listing(
        path=printable(relative_posix(folder, target)),
        entries=entries,
        truncated=len(children) > MAX_LISTED_FILES,
    )
