"""What a run left behind: its log lines, checkpoint records, results.json and the files of its
run folder (listed, or served for download; never outside that folder)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from visionyard.dashboard.repositories import runs as repo
from visionyard.dashboard.services.files import run_dir_target
from visionyard.dashboard.services.runs import run_or_404
from visionyard.db.models import CheckpointRecord, RunEvent
from visionyard.errors import ConflictError, NotFoundError
from visionyard.paths import relative_posix, resolve_inside, resolved_inside
from visionyard.settings import Settings
from visionyard.text import printable

MAX_LISTED_FILES = 2000


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


# ---- logs and checkpoints ----------------------------------------------------------------------


@dataclass(frozen=True)
class LogLines:
    lines: list[RunEvent]
    #: whether older lines exist (tail and before_id pages; None for after_id pages)
    has_earlier: bool | None


def logs(
    session: Session,
    run_id: int,
    *,
    tail: int,
    after_id: int | None,
    limit: int,
    before_id: int | None = None,
) -> LogLines:
    """The last `tail` log lines (older than `before_id` when given: the page above the ones a
    viewer has, so a long log opens at its end and loads upwards), or (with `after_id`) up to
    `limit` lines after that id; with both, up to `limit` lines between the two (a gap a viewer
    fills in; empty when before_id is not after after_id)."""
    run_or_404(session, run_id)
    if after_id is not None:
        return LogLines(list(repo.logs_after(session, run_id, after_id, limit, before_id)), None)
    # One line more than asked tells whether older lines remain.
    lines = repo.logs_tail(session, run_id, tail + 1, before_id)
    return LogLines(lines[-tail:], len(lines) > tail)


def checkpoints(
    session: Session, run_id: int, *, descending: bool, limit: int, offset: int
) -> tuple[Sequence[CheckpointRecord], int]:
    """A page of the run's checkpoint records, by step (then by when they were recorded)."""
    run_or_404(session, run_id)
    return repo.checkpoints_page(session, run_id, descending=descending, limit=limit, offset=offset)


def run_folder(session: Session, settings: Settings, run_id: int) -> Path:
    run = run_or_404(session, run_id)
    folder = run_dir_target(settings, run)
    if folder is None or not folder.is_dir():
        raise NotFoundError(
            f"run {run_id} has no files yet (its folder is created when an agent starts it)"
        )
    return folder


def results(session: Session, settings: Settings, run_id: int) -> dict[str, Any]:
    folder = run_folder(session, settings, run_id)
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
    folder = run_folder(session, settings, run_id)
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
