"""Putting runs into an experiment group of their project, or taking them out.

Decisions (documented for the API's users):

- A run can be in one group at most, of its own project; any run can move, whatever its state.
- Runs and group are checked together before anything changes: one unknown run or a group of
  another project and no run moves (404 naming them).
- Each run that moved gets a "runs" feed event ({run_id, state, attempt, agent, group_id}), so
  open run tables follow without reloading.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence

from sqlalchemy.orm import Session

from visionyard.dashboard.repositories import runs as repo
from visionyard.dashboard.services.projects import project_not_found
from visionyard.db.models import Run
from visionyard.errors import NotFoundError
from visionyard.runqueue.feed import RUNS_TOPIC, emit, run_change

#: how many unknown run ids an error names before "and N more"
_NAMED = 10


def _check_group(session: Session, project_id: int, group_id: int | None) -> None:
    if group_id is not None and repo.group_project(session, group_id) != project_id:
        raise NotFoundError(
            f"group {group_id} does not exist in project {project_id}; create it in the "
            "project first (POST /projects/{project_id}/groups) or pass null for no group"
        )


def _unknown(missing: Sequence[int], project_id: int) -> NotFoundError:
    named = ", ".join(map(str, missing[:_NAMED]))
    more = f" and {len(missing) - _NAMED} more" if len(missing) > _NAMED else ""
    return NotFoundError(
        f"runs {named}{more} are not runs of project {project_id}; list the project's runs to "
        "find their ids"
    )


def assign_group(
    session: Session, project_id: int, run_ids: Collection[int], group_id: int | None
) -> list[Run]:
    """Put these runs of the project into `group_id` (None: no group); the runs, by id."""
    if not repo.project_exists(session, project_id):
        raise project_not_found(project_id)
    _check_group(session, project_id, group_id)
    wanted = sorted(set(run_ids))
    runs = list(repo.runs_in_project(session, project_id, wanted))
    if len(runs) != len(wanted):
        found = {r.id for r in runs}
        raise _unknown([i for i in wanted if i not in found], project_id)
    moved = [r for r in runs if r.group_id != group_id]
    if moved:
        repo.set_group(session, [r.id for r in moved], group_id)
        agents = repo.agent_names(session, {r.agent_id for r in moved if r.agent_id is not None})
        changes = [
            run_change(r.id, r.state, r.attempt, agents.get(r.agent_id or 0), group_id=group_id)
            for r in moved
        ]
        emit(session, RUNS_TOPIC, changes, time.time())
    return runs


def set_run_group(session: Session, run: Run, group_id: int | None) -> None:
    """One run's group (`PATCH /runs/{id}`)."""
    assign_group(session, run.project_id, [run.id], group_id)
