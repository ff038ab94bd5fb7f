"""Run folders on disk: the only place the dashboard deletes folders.

A run's recorded folder is used only when it resolves strictly inside the runs root (the
containment rule of `visionyard.paths`, with the root itself refused: deleting it would delete
every run).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from visionyard.db.models import Run
from visionyard.errors import ConflictError
from visionyard.paths import resolved_inside
from visionyard.settings import Settings
from visionyard.text import printable, text_problem


def run_dir_target(settings: Settings, run: Run) -> Path | None:
    """The resolved folder of `run`, or None when it has none; ConflictError (409) when the
    recorded folder is not strictly inside the runs root (the runs root itself included):
    reading or deleting it would reach outside what the dashboard owns."""
    if not run.run_dir:
        return None
    root = settings.runs_root
    if text_problem(run.run_dir):
        raise ConflictError(
            f"run {run.id} ({run.name!r}) records an invalid folder name; nothing was deleted. "
            "Fix the run's run_dir, or delete the project with keep_files=true."
        )
    path = Path(run.run_dir)
    if not path.is_absolute():
        path = root / path
    resolved = resolved_inside(path, root)
    if resolved is None or resolved == root:
        raise ConflictError(
            f"run {run.id} ({run.name!r}) records its folder as {printable(run.run_dir)}, "
            f"outside the runs root {root}; the dashboard neither reads nor deletes files "
            "outside that root, so nothing was deleted. Move the folder under the runs root and "
            "fix the run's run_dir, or delete the project with keep_files=true to leave every "
            "run folder on disk."
        )
    return resolved


def delete_run_files(settings: Settings, run: Run) -> None:
    """Delete `run`'s folder under the runs root (missing folders are fine: idempotent).

    Raises ConflictError when the folder is outside the runs root or cannot be removed; the
    message says which folder and why, so the operation can be fixed and retried.
    """
    target = run_dir_target(settings, run)
    if target is None:
        return
    recorded = Path(run.run_dir or "")
    if not recorded.is_absolute():
        recorded = settings.runs_root / recorded
    try:
        if recorded.is_symlink():
            # Like `rm -r link`: the link goes, whatever it points at (maybe another run's
            # folder) stays.
            recorded.unlink()
        elif target.is_dir():
            # rmtree never follows symbolic links inside the tree: a link to /etc is unlinked,
            # not descended into.
            shutil.rmtree(target)
        elif target.exists():
            raise ConflictError(
                f"run {run.id}'s folder {target} is a file, not a folder; it was not deleted. "
                "Remove it by hand and retry."
            )
    except OSError as exc:
        raise ConflictError(
            f"could not delete run {run.id}'s folder {target}: {exc.strerror or exc}. Fix the "
            "permissions (the dashboard's user must be able to write there) and retry."
        ) from None
