"""Run control beyond queueing: resume a run in place from its checkpoint.

Semantics and decisions: `visionyard.dashboard.services.run_control`.
"""

from __future__ import annotations

from fastapi import APIRouter

from visionyard.dashboard.access import RunEditor
from visionyard.dashboard.deps import SessionDep, StateDep
from visionyard.dashboard.routers.runs import run_detail
from visionyard.dashboard.schemas.common import IdPath
from visionyard.dashboard.schemas.runs import RunDetail
from visionyard.dashboard.services import run_control as service

router = APIRouter(tags=["runs"])


@router.post("/runs/{run_id}/resume", operation_id="resumeRun", response_model=RunDetail)
def resume_run(
    run_id: IdPath, access: RunEditor, session: SessionDep, state: StateDep
) -> RunDetail:
    """Resume a failed or canceled run: the SAME run (same id, same folder) is queued again as
    its next attempt and continues from its newest valid checkpoint. The restart budget starts
    over; the previous end state and error are cleared (the `runs` feed keeps them).

    409 for a queued or running run, a succeeded run, and a run with no valid checkpoint: re-queue
    it (`POST /runs/{id}/requeue`) to train it again from scratch as a new run."""
    view = service.resume_run(session, state.settings, run_id, user_id=access.user_id)
    return run_detail(view, session, state.settings)
