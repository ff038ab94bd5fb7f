"""Run control beyond queueing: resuming a run in place from its checkpoint.

Two ways to run a finished run again (decisions documented for the API's users):

- **resume** (`resume_run`): the SAME run (same id, same folder) goes back to the queue as its
  next attempt and continues from its newest valid checkpoint. For runs that ended without
  success (failed, canceled) and saved a checkpoint; the state, attempt and restart-budget rules
  are those of `visionyard.runqueue.resume`.
- **re-queue** (`visionyard.dashboard.services.runs.requeue_run`): a NEW run with the same
  config snapshot, trained from scratch in a folder of its own.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from visionyard import runqueue
from visionyard.dashboard.services.files import run_dir_target
from visionyard.dashboard.services.runs import (
    RunView,
    check_quota,
    get_run,
    in_request,
    recheck_run_model,
    run_or_404,
)
from visionyard.db.models import Run
from visionyard.errors import ConflictError, RunStateError
from visionyard.paths import resolved_inside
from visionyard.settings import Settings
from visionyard.training.checkpoint_files import find_resumable

#: where the trainer keeps a run's checkpoints (the agent never sets `ckpt_dir`, see launch)
CHECKPOINTS_FOLDER = "checkpoints"


def _fresh_run_hint(run_id: int) -> str:
    return f"Re-queue it (POST /runs/{run_id}/requeue) to train it again from scratch as a new run"


def _no_checkpoint(run: Run, why: str) -> RunStateError:
    return RunStateError(
        f"run {run.id} cannot be resumed: {why}. {_fresh_run_hint(run.id)}, with the same config"
    )


def resumable_checkpoint(settings: Settings, run: Run) -> Path:
    """The checkpoint the run's next attempt will resume from: the newest valid one in its
    folder, by the trainer's own rule (complete manifest, sizes and hashes that match).
    RunStateError (409) saying why when there is none."""
    try:
        folder = run_dir_target(settings, run)
    except ConflictError:
        raise _no_checkpoint(
            run, f"its recorded folder is not inside the runs root {settings.runs_root}"
        ) from None
    if folder is None or not folder.is_dir():
        raise _no_checkpoint(run, "it has no run folder (it never started training)")
    if not (folder / "config.json").is_file():
        # The trainer resumes only a folder holding the run's resolved config; without it, it
        # would train from scratch.
        raise _no_checkpoint(run, "its run folder holds no config.json (it never started)")
    checkpoints = resolved_inside(folder / CHECKPOINTS_FOLDER, folder)
    if checkpoints is None:
        raise _no_checkpoint(run, "its checkpoints folder leads outside the run folder")
    found, skipped = find_resumable(checkpoints)
    if found is not None:
        return found
    if skipped:
        path, reason = skipped[0]
        raise _no_checkpoint(run, f"none of its checkpoints is valid ({path.name}: {reason})")
    raise _no_checkpoint(run, "it saved no checkpoint (it stopped before its first one)")


def resume_run(session: Session, settings: Settings, run_id: int, *, user_id: int) -> RunView:
    """Resume a failed or canceled run in place: the same run goes back to the queue as its
    next attempt and continues from its newest valid checkpoint.

    409 when the run is queued or running, when it succeeded, and when it has no valid
    checkpoint (re-queue it instead, for a fresh run); 422 naming ``model_flavour`` when its
    model folder is gone (the next attempt builds the model from it before loading the
    checkpoint); 429 when the user already has as many queued runs as allowed.

    The restart budget starts over: a person's resume is not an automatic restart, so a run
    that failed with its budget used up can be resumed, and gets the whole budget again. The
    previous end (state and error) is cleared from the run and kept in the "runs" feed event
    of the resume.
    """
    run = run_or_404(session, run_id)
    reason = runqueue.not_resumable_reason(run_id, run.state)
    if reason is not None:
        raise RunStateError(reason)
    resumable_checkpoint(settings, run)
    recheck_run_model(session, settings, run)
    check_quota(session, settings, user_id)
    # The queue re-checks the state under the row lock: a concurrent resume answers 409.
    runqueue.resume_run(in_request(session), run_id)
    return get_run(session, run_id)
