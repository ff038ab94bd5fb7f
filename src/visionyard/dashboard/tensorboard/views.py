"""Which runs a TensorBoard view shows, and the log folders it may read.

A view's key is its run ids joined by "+", ascending and distinct ("12", "3+12+40"; at most
`MAX_RUNS`). Each run's TensorBoard logs are read from `tb/` inside its own folder, and only
when that folder lies inside the runs root (`run_dir_target`): a run that recorded another
folder (or a config's `tb_root` elsewhere) is not served, so an instance never reads outside what
the dashboard owns.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy.orm import Session

from visionyard.dashboard.repositories import runs as repo
from visionyard.dashboard.services.files import run_dir_target
from visionyard.dashboard.state import AppState
from visionyard.errors import NotFoundError
from visionyard.settings import Settings

MAX_RUNS = 20  # as many as the compare page takes
KEY = re.compile(rf"^[1-9][0-9]{{0,11}}(?:\+[1-9][0-9]{{0,11}}){{0,{MAX_RUNS - 1}}}$")
TB_FOLDER = "tb"


def key_of(run_ids: list[int]) -> str:
    return "+".join(str(i) for i in sorted(set(run_ids)))


def parse_key(key: str) -> list[int]:
    """The run ids of `key`; NotFoundError naming the expected form for anything else."""
    ids = [int(part) for part in key.split("+")] if KEY.match(key) else []
    if not ids or key_of(ids) != key:
        raise NotFoundError(
            f"no TensorBoard view {key[:80]!r}: a view is /tb/<run id>/ or, for several runs, "
            f"their ids ascending and joined by '+' (at most {MAX_RUNS}), e.g. /tb/3+12/"
        )
    return ids


def logdirs(session: Session, settings: Settings, key: str) -> list[tuple[str, Path]]:
    """(name, TensorBoard log folder) of each run of view `key`: "run-<id>" names."""
    ids = parse_key(key)
    runs = {run.id: run for run in repo.get_many(session, ids)}
    missing = [i for i in ids if i not in runs]
    if missing:
        raise NotFoundError(f"run {', '.join(map(str, missing))} does not exist")
    found = []
    for run_id in ids:
        run = runs[run_id]
        folder = run_dir_target(settings, run)
        tb = folder / TB_FOLDER if folder is not None else None
        if tb is None or not tb.is_dir() or tb.is_symlink():
            raise NotFoundError(
                f"run {run_id} ({run.name!r}) has no TensorBoard logs in its folder yet "
                f"({TB_FOLDER}/ appears when its trainer logs the first step)"
            )
        found.append((f"run-{run_id}", tb))
    return found


def logdirs_for(state: AppState, key: str) -> list[tuple[str, Path]]:
    """`logdirs` in a read-only session of its own (for a worker thread)."""
    with state.read_sessions() as session:
        return logdirs(session, state.settings, key)
