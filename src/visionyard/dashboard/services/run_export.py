"""Export bundles of a run's checkpoints, built on the dashboard host into
``<run>/exports/<checkpoint>[-onnx].tar.gz`` (`visionyard.analysis.bundle`).

Decisions:

- Everything that can be refused cheaply is refused before torch is imported: the run, its
  folder, the checkpoint (hashes checked) and the model's architecture. So a wrong request is
  answered in milliseconds and the dashboard imports torch only the first time a bundle is
  really built.
- One bundle is built at a time per dashboard process; a second request meanwhile is a 429.
  Building runs a model on the CPU for seconds to minutes, and a pile of them would starve
  every other request.
- Only the archive is kept (no unpacked copy): the run folder would hold the weights twice.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from visionyard.analysis.checkpoints import architecture_dir, resolve_checkpoint
from visionyard.dashboard.schemas.run_export import BUNDLE_FILE_PATTERN
from visionyard.dashboard.services.files import run_dir_target
from visionyard.dashboard.services.runs import run_or_404
from visionyard.dashboard.state import AppState
from visionyard.errors import NotFoundError, RateLimitedError
from visionyard.paths import resolve_inside
from visionyard.text import printable

if TYPE_CHECKING:
    from visionyard.analysis.bundle import Bundle

EXPORTS_DIR = "exports"  # visionyard.analysis.bundle.EXPORTS_DIR, without importing torch
_building = threading.Lock()


def run_folder(state: AppState, run_id: int) -> Path:
    with state.read_sessions() as session:
        run = run_or_404(session, run_id)
        folder = run_dir_target(state.settings, run)
    if folder is None or not folder.is_dir():
        raise NotFoundError(
            f"run {run_id} has no files yet (its folder is created when an agent starts it)"
        )
    return folder


def build(state: AppState, run_id: int, checkpoint: str, onnx: bool) -> Bundle:
    folder = run_folder(state, run_id)
    resolve_checkpoint(folder, checkpoint)
    architecture_dir(folder)
    if not _building.acquire(blocking=False):
        raise RateLimitedError(
            "another export is being built on this dashboard; try again when it has finished"
        )
    try:
        from visionyard.analysis.bundle import build_bundle

        return build_bundle(
            folder, checkpoint, onnx=onnx, out_dir=folder / EXPORTS_DIR, keep_folder=False
        )
    finally:
        _building.release()


def archive(state: AppState, run_id: int, name: str) -> Path:
    """The bundle archive `name` of the run, to download. Only bundle archives are served: any
    other name is a 404, like a bundle not built yet (the run folder has its own route)."""
    folder = run_folder(state, run_id)
    # The name is checked before it becomes a path; resolve_inside then refuses (400) a link
    # in the run folder that leads out of it.
    named = re.fullmatch(BUNDLE_FILE_PATTERN, name) is not None
    path = resolve_inside(folder, f"{EXPORTS_DIR}/{name}", what="export") if named else None
    if path is None or not path.is_file():
        raise NotFoundError(
            f"run {run_id} has no export {printable(name)!r} (names look like best.tar.gz or "
            f"epoch_003-onnx.tar.gz); build it first with POST /api/v1/runs/{run_id}/export"
        )
    return path
