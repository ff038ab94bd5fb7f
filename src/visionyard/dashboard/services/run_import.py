"""Importing a run trained outside the queue (`visionyard train`, `python main.py`) so that it
appears beside queued runs: its config, metrics, logs, checkpoints, results and files.

Decisions (documented for the API's users):

- The upload is the run folder as a tar stream (`visionyard runs import` sends one); it is
  unpacked by `run_archive` (plain files only, no links, no path leading out) into a staging
  folder under the runs root, read and checked there (`visionyard.training.runreader`: a folder
  that is not a run is a 422 naming what is missing), and only then registered.
- The run gets a terminal state from what the folder says (succeeded when results.json says
  so), the config snapshot and hash of its config.json, the tag ``imported``, and one attempt per
  trainer start. Its events are stored by `visionyard.runqueue.imports`, through the agent's own
  mapping, so its metric series read back exactly the values of its events.jsonl.
- Its files move to ``<runs root>/<run id>-<slug of its name>`` like a queued run's folder, in
  the same transaction as the row: a failed registration leaves neither a row nor a folder.
- The project is checked before the upload is unpacked, and the database is only written once
  the files are in place, so a large upload never holds the database's write lock.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from visionyard.dashboard.repositories import runs as runs_repo
from visionyard.dashboard.services.projects import project_not_found
from visionyard.dashboard.services.run_archive import unpack
from visionyard.dashboard.services.runs import in_request, run_folder_name
from visionyard.dashboard.state import AppState
from visionyard.db.models import RunState
from visionyard.errors import ConflictError, RunFolderError
from visionyard.runqueue.imports import record_imported_run
from visionyard.training.confighash import config_hash
from visionyard.training.runreader import missing_files, read_run

#: where uploads are received and unpacked, inside the runs root (so the final move is a rename
#: on one file system); hidden, and never a run's own folder
STAGING_DIR = ".import-staging"


@dataclass(frozen=True)
class Imported:
    run_id: int
    files: int


def staging_root(state: AppState) -> Path:
    root = state.settings.runs_root / STAGING_DIR
    root.mkdir(parents=True, exist_ok=True)
    return root


def check_project(state: AppState, project_id: int) -> None:
    with state.read_sessions() as session:
        if not runs_repo.project_exists(session, project_id):
            raise project_not_found(project_id)


def import_run(
    state: AppState, *, project_id: int, archive: Path, name: str | None, user_id: int
) -> Imported:
    """Unpack, check and register the run folder in `archive` (a tar file)."""
    check_project(state, project_id)
    staging = staging_root(state) / uuid.uuid4().hex
    try:
        files = unpack(archive, staging)
        missing = missing_files(staging)
        if missing:
            raise RunFolderError(
                f"the upload is not a run folder: it has no {' and no '.join(missing)} at its "
                "top level; upload the folder that holds them (<output_dir>/<run_name>/)"
            )
        record = read_run(staging)
        run_name = (name or record.name)[:128]
        final: Path | None = None
        try:
            with state.sessions() as session, session.begin():
                run_id = record_imported_run(
                    in_request(session),
                    project_id=project_id,
                    name=run_name,
                    config_snapshot=record.config,
                    config_hash=config_hash(record.config),
                    state=RunState(record.outcome.state),
                    error=record.outcome.error,
                    attempts=record.attempts(),
                    created_by=user_id,
                )
                folder = run_folder_name(run_id, run_name)
                runs_repo.set_run_dir(session, run_id, folder)
                final = state.settings.runs_root / folder
                if final.exists():
                    raise ConflictError(
                        f"the runs root already holds a folder {folder} that no run records; "
                        "move it away and import again"
                    )
                staging.rename(final)  # last before the commit
        except BaseException:
            if final is not None and final.is_dir() and not staging.exists():
                final.rename(staging)  # the row is gone: so are the files (removed below)
            raise
        return Imported(run_id=run_id, files=files)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
