"""`visionyard runs list|show|logs|cancel|resume|import`."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from visionyard.client.commands.common import JsonOption, client_errors, connect

if TYPE_CHECKING:
    from visionyard.client.api import Api

app = typer.Typer(
    help="Runs on the dashboard: list, inspect, follow, cancel, resume, import.",
    no_args_is_help=True,
)

RunId = Annotated[int, typer.Argument(help="The run's id (see `visionyard runs list`).", min=1)]
ProjectOption = Annotated[str, typer.Option("--project", "-p", help="Project id or name.")]

LIST_COLUMNS = [
    ("id", "id"),
    ("name", "name"),
    ("state", "state"),
    ("project_id", "project"),
    ("attempt", "attempt"),
    ("agent_name", "agent"),
    ("progress_text", "progress"),
    ("created_at", "created"),
]
SHOW_FIELDS = [
    "id",
    "name",
    "state",
    "project_id",
    "config_id",
    "config_version",
    "attempt",
    "restarts",
    "max_restarts",
    "gpu_count",
    "priority",
    "agent_name",
    "progress_text",
    "waiting_for",
    "error",
    "tags",
    "run_dir",
    "config_hash",
    "created_at",
    "claimed_at",
    "finished_at",
]


def _with_progress(run: dict[str, Any]) -> dict[str, Any]:
    from visionyard.client.output import progress_text

    return {**run, "progress_text": progress_text(run.get("progress") or {})}


@app.command("list")
def list_runs(
    project: Annotated[
        str | None, typer.Option("--project", "-p", help="Project id or name.")
    ] = None,
    state: Annotated[
        str | None, typer.Option(help="queued, running, succeeded, failed or canceled.")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many runs, newest first.", min=1)] = 20,
    as_json: JsonOption = False,
) -> None:
    """List runs, newest first."""
    from visionyard.client.output import print_json, table
    from visionyard.client.projects import project_id

    with client_errors(), connect() as api:
        pid = project_id(api, project) if project else None
        runs = list(api.pages("/runs", limit=limit, project_id=pid, state=state))
        if as_json:
            print_json(runs)
            return
        table([_with_progress(r) for r in runs], LIST_COLUMNS)


@app.command("show")
def show(run_id: RunId, as_json: JsonOption = False) -> None:
    """Show one run: state, progress, attempts, error, folder."""
    from visionyard.client.output import fields, print_json

    with client_errors(), connect() as api:
        run = api.get(f"/runs/{run_id}")
        if as_json:
            print_json(run)
            return
        fields(_with_progress(run), SHOW_FIELDS)


def _print_lines(lines: list[dict[str, Any]], as_json: bool) -> None:
    for line in lines:
        if as_json:
            sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
        else:
            sys.stdout.write(f"{line.get('message', '')}\n")
    sys.stdout.flush()


def _drain(api: Api, run_id: int, after: int, as_json: bool) -> int:
    """Print every line after `after`; returns the last id printed."""
    while True:
        page = api.get(f"/runs/{run_id}/logs", after_id=after, limit=1000)
        items = page.get("items", [])
        _print_lines(items, as_json)
        if items:
            after = int(items[-1]["id"])
        if len(items) < 1000:
            return after


def follow(api: Api, run_id: int, after: int, as_json: bool, interval: float) -> str:
    """Print new lines until the run has finished; returns its final state.

    The state is read before each drain: a run seen finished has stored all its lines (the
    agent relays them before reporting the outcome), so the drain after it prints the last."""
    from visionyard.client.output import TERMINAL_STATES

    while True:
        state = str(api.get(f"/runs/{run_id}")["state"])
        after = _drain(api, run_id, after, as_json)
        if state in TERMINAL_STATES:
            return state
        time.sleep(interval)


@app.command("logs")
def logs(
    run_id: RunId,
    follow_: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines until the run ends.")
    ] = False,
    tail: Annotated[int, typer.Option(help="Start with the last N lines.", min=1, max=5000)] = 200,
    interval: Annotated[
        float, typer.Option(help="Seconds between checks with --follow.", min=0.05, hidden=True)
    ] = 1.0,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="One JSON object per line (id, attempt, time, level, message)."
        ),
    ] = False,
) -> None:
    """Print a run's log lines; with -f, follow them until the run has finished."""
    with client_errors(), connect() as api:
        page = api.get(f"/runs/{run_id}/logs", tail=tail)
        _print_lines(page.get("items", []), as_json)
        if follow_:
            after = int(page.get("last_id") or 0)
            state = follow(api, run_id, after, as_json, interval)
            typer.echo(f"run {run_id} {state}", err=True)


@app.command("cancel")
def cancel(run_id: RunId, as_json: JsonOption = False) -> None:
    """Cancel a run: a queued run at once, a running one within about a second."""
    from visionyard.client.output import message, print_json

    with client_errors(), connect() as api:
        answer = api.post(f"/runs/{run_id}/cancel")
        if as_json:
            print_json(answer)
            return
        # The dashboard's message names the run already.
        message(f"{answer['message']} (state: {answer['run']['state']})")


@app.command("resume")
def resume(run_id: RunId, as_json: JsonOption = False) -> None:
    """Resume a stopped or failed run from its newest checkpoint (the same run, queued again)."""
    from visionyard.client.output import message, print_json

    with client_errors(), connect() as api:
        run = api.post(f"/runs/{run_id}/resume")
        if as_json:
            print_json(run)
            return
        message(f"run {run_id} ({run['name']}) is {run['state']} again, attempt {run['attempt']}")


@app.command("import")
def import_run(
    run_dir: Annotated[Path, typer.Argument(help="A run folder written by `visionyard train`.")],
    project: ProjectOption,
    name: Annotated[
        str | None, typer.Option(help="Run name (default: the run_name in its config.json).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Upload a locally trained run so that it appears in the dashboard beside queued runs:
    config, metrics, logs, checkpoints, results and files."""
    from visionyard.client.output import message, print_json
    from visionyard.client.projects import project_id
    from visionyard.client.runfolder import prepare

    with client_errors():
        upload = prepare(run_dir)
        with connect() as api:
            pid = project_id(api, project)
            answer = api.upload(
                f"/projects/{pid}/runs/import", upload.chunks(), upload.size, {"name": name}
            )
        if as_json:
            print_json(answer)
            return
        run = answer["run"]
        message(f"{answer['message']}: run {run['id']} ({run['name']}) in project {pid}")
