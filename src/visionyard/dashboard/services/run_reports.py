"""A run's evaluation reports: listed, read, computed on demand, and the images they point at.

Computing one loads the checkpoint on the dashboard's CPU (never a GPU the agents train on),
one report at a time: a second request meanwhile is a 429. Everything a request can get wrong
is checked first, without torch, so bad input is answered at once.

A report names images by their path relative to the dataset root; the image endpoint serves
them by their position in the report, never by a path a client sends, and only from the run's
dataset folder inside the datasets root.
"""

from __future__ import annotations

import json
import shutil
import threading
import uuid
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from visionyard.analysis.checkpoints import canonical_name, checkpoints_root, list_checkpoints
from visionyard.analysis.labelled_upload import UPLOAD_SPLIT, UploadLimits, extract_labelled_zip
from visionyard.analysis.report_store import list_reports, load_report, save_report, uploaded_root
from visionyard.dashboard.schemas.run_reports import ReportOut, ReportSummary
from visionyard.dashboard.services.run_outputs import run_folder
from visionyard.dashboard.state import AppState
from visionyard.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PathOutsideRootError,
    RateLimitedError,
    VisionyardError,
)
from visionyard.paths import resolve_inside, resolve_under, resolved_inside
from visionyard.settings import Settings

#: what the image endpoint serves, by file suffix (the dataset scan's image suffixes)
IMAGE_MEDIA_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
}
_COMPUTING = threading.Lock()


def _validated(run_id: int, data: dict[str, Any]) -> ReportOut:
    try:
        return ReportOut.model_validate(data)
    except ValidationError:
        raise ConflictError(
            f"run {run_id}'s report for {data.get('checkpoint')!r} is not in the expected form; "
            "compute it again (POST the same path)"
        ) from None


def summaries(session: Session, settings: Settings, run_id: int) -> list[ReportSummary]:
    """One line per readable report of the run; unreadable files are left out (reading one
    directly says what is wrong with it)."""
    folder = run_folder(session, settings, run_id)
    found = []
    for checkpoint, split in list_reports(folder):
        try:
            report = _validated(run_id, load_report(folder, checkpoint, split))
        except VisionyardError:
            continue
        found.append(
            ReportSummary(
                checkpoint=report.checkpoint.name,
                split=report.split,
                created_at=report.created_at,
                epoch=report.checkpoint.epoch,
                step=report.checkpoint.step,
                num_samples=report.num_samples,
                accuracy=report.accuracy,
                macro_f1=report.macro_f1,
                ece=report.calibration.ece,
                label_issues=report.label_issues.count,
                file_list_sha256=report.file_list_sha256,
            )
        )
    return found


def report(
    session: Session, settings: Settings, run_id: int, checkpoint: str, split: str
) -> ReportOut:
    folder = run_folder(session, settings, run_id)
    return _validated(run_id, load_report(folder, checkpoint, split))


def _dataset_root(settings: Settings, folder: Path, run_id: int) -> Path:
    """The run's dataset folder (config.json's root), which must lie in the datasets root."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        root = config["root"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
        raise ConflictError(
            f"run {run_id}'s config.json is missing or names no dataset root; the run folder is "
            "not one the trainer wrote"
        ) from None
    if not isinstance(root, str):
        raise ConflictError(f"run {run_id}'s config.json names no dataset root")
    try:
        path = resolve_under(
            root, settings.datasets_root, what="dataset root", env_name="DATASETS_DIR"
        )
    except VisionyardError as exc:
        raise ConflictError(f"run {run_id}'s dataset cannot be used here: {exc}") from None
    if not path.is_dir():
        raise NotFoundError(
            f"run {run_id}'s dataset folder is gone from the datasets root; restore it first"
        )
    return path


def _loadable_checkpoint(state: AppState, run_id: int, checkpoint: str) -> tuple[Path, str]:
    """(run folder, checkpoint name) when the dashboard may load that checkpoint."""
    settings = state.settings
    with state.read_sessions() as session:
        folder = run_folder(session, settings, run_id)
    name = canonical_name(checkpoint)
    if resolved_inside(checkpoints_root(folder), settings.runs_root) is None:
        raise ConflictError(
            f"run {run_id} keeps its checkpoints outside the runs root; the dashboard does not "
            "load them (compute the report with `visionyard report` where the run trained)"
        )
    available = [info.name for info in list_checkpoints(folder)]
    if name not in available:
        raise NotFoundError(
            f"run {run_id} has no checkpoint {name!r} (available: {', '.join(available) or 'none'})"
        )
    return folder, name


def check_computable(state: AppState, run_id: int, checkpoint: str) -> tuple[Path, Path, str]:
    """(run folder, dataset root, checkpoint name) when a report can be computed; answers bad
    requests before anything heavy is loaded."""
    folder, name = _loadable_checkpoint(state, run_id, checkpoint)
    return folder, _dataset_root(state.settings, folder, run_id), name


def compute(state: AppState, run_id: int, checkpoint: str, split: str) -> ReportOut:
    """Evaluate the checkpoint on the CPU, store the report in the run folder and return it.
    Slow (seconds to minutes): call it off the event loop."""
    if split == UPLOAD_SPLIT:
        raise InvalidRequestError(
            "an upload report is computed from a labelled zip: POST it to "
            f"/runs/{run_id}/reports/{canonical_name(checkpoint)}/upload",
            [{"field": "split", "message": "use val or test"}],
        )
    folder, dataset_root, name = check_computable(state, run_id, checkpoint)
    if not _COMPUTING.acquire(blocking=False):
        raise RateLimitedError(
            "another evaluation report is being computed; try again when it has finished"
        )
    try:
        from visionyard.analysis.report import evaluate_checkpoint  # loads torch: only now

        computed = evaluate_checkpoint(folder, name, split, device="cpu", dataset_root=dataset_root)
    finally:
        _COMPUTING.release()
    return _validated(run_id, computed)


def compute_upload(state: AppState, run_id: int, checkpoint: str, archive: Path) -> ReportOut:
    """Evaluate the checkpoint on a labelled zip (ImageFolder layout); its images are kept with
    the run (replacing those uploaded before for this checkpoint), so that the report's
    gallery can show them. Slow: call it off the event loop."""
    folder, name = _loadable_checkpoint(state, run_id, checkpoint)
    settings = state.settings
    limits = UploadLimits(
        max_files=settings.evaluate_max_files,
        max_bytes=settings.evaluate_max_bytes,
        max_pixels=settings.predict_max_pixels,
    )
    if not _COMPUTING.acquire(blocking=False):
        raise RateLimitedError(
            "another evaluation report is being computed; try again when it has finished"
        )
    final = uploaded_root(folder, name)
    staging = final.with_name(f".tmp-{name}-{uuid.uuid4().hex}")
    try:
        from visionyard.analysis.classifier import load_classifier  # loads torch: only now
        from visionyard.analysis.report import report_for_classifier

        classifier = load_classifier(folder, name, device="cpu")
        staging.mkdir(parents=True)
        samples = extract_labelled_zip(archive, staging, classifier.class_names, limits)
        computed = report_for_classifier(classifier, staging, samples, UPLOAD_SPLIT)
        shutil.rmtree(final, ignore_errors=True)
        staging.rename(final)
        save_report(folder, computed)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        _COMPUTING.release()
    return _validated(run_id, computed)


def image_file(
    session: Session, settings: Settings, run_id: int, checkpoint: str, split: str, index: int
) -> tuple[Path, str]:
    """(file, media type) of the report's image `index`, from the run's dataset folder."""
    folder = run_folder(session, settings, run_id)
    stored = _validated(run_id, load_report(folder, checkpoint, split))
    if index >= len(stored.images):
        raise NotFoundError(
            f"the report lists {len(stored.images)} images (0 to {len(stored.images) - 1}); "
            f"there is no image {index}"
        )
    rel = stored.images[index].path
    if split == UPLOAD_SPLIT:
        root = uploaded_root(folder, checkpoint)
    else:
        root = _dataset_root(settings, folder, run_id)
    try:
        path = resolve_inside(root, rel, what="report image")
    except PathOutsideRootError:
        path = None
    media_type = IMAGE_MEDIA_TYPES.get(Path(rel).suffix.lower())
    # The report is a file in the run folder (an imported run's could say anything): only an
    # image of the report's split, inside the dataset folder, is served.
    if path is None or media_type is None or not rel.startswith(f"{split}/"):
        raise ConflictError(
            f"image {index} of run {run_id}'s report does not name an image of the {split} "
            "split inside the run's dataset; compute the report again"
        )
    if not path.is_file():
        raise NotFoundError(f"image {index} of the report is no longer in the dataset ({rel})")
    return path, media_type
