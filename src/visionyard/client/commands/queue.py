"""`visionyard queue`: a config file (plus --set overrides) saved on the dashboard as a config
version, and a run of it queued."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from visionyard.client.commands.common import JsonOption, client_errors, connect

SAVED_MESSAGE = "saved by `visionyard queue`"


def load_overridden(path: Path, overrides: list[str]) -> dict[str, Any]:
    """The file's config with the overrides applied, by the same rules as `visionyard train`
    (`visionyard.training.config`: JSON values, unknown keys refused with a suggestion); the
    dashboard validates the result."""
    from visionyard.training.config import parse_override, read_config_file

    data = read_config_file(path)
    for item in overrides:
        key, value = parse_override(item)
        data[key] = value
    return data


def queue(
    config: Annotated[Path, typer.Option("--config", "-c", help="TrainConfig JSON or YAML file.")],
    project: Annotated[str, typer.Option("--project", "-p", help="Project id or name.")],
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", "-s", help="Override a field: --set lr=3e-4 (repeatable)."),
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Run name (default: <config>-v<version>).")
    ] = None,
    priority: Annotated[int | None, typer.Option(help="Higher runs first (default 0).")] = None,
    gpus: Annotated[
        int | None, typer.Option(help="GPUs the run needs; 0 for a CPU agent (default 1).", min=0)
    ] = None,
    config_name: Annotated[
        str | None,
        typer.Option(
            help="Name of the config on the dashboard (default: the file's name "
            "without its extension). An existing config of that name gets a new version."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Save a config file (with --set overrides) on the dashboard and queue a run of it."""
    from visionyard.client.output import message, print_json
    from visionyard.client.projects import project_id

    with client_errors():
        data = load_overridden(config, set_ or [])
        saved_name = config_name or config.stem
        with connect() as api:
            pid = project_id(api, project)
            existing = [
                c
                for c in api.pages(f"/projects/{pid}/configs", q=saved_name)
                if c.get("name") == saved_name
            ]
            if existing:
                saved = api.put(
                    f"/configs/{existing[0]['id']}", {"data": data, "message": SAVED_MESSAGE}
                )
            else:
                saved = api.post(
                    f"/projects/{pid}/configs",
                    {"name": saved_name, "data": data, "message": SAVED_MESSAGE},
                )
            version = int(saved["latest"]["version"])
            body: dict[str, Any] = {"version": version}
            for key, value in (("name", name), ("priority", priority), ("gpu_count", gpus)):
                if value is not None:
                    body[key] = value
            run = api.post(f"/configs/{saved['id']}/runs", body)
        if as_json:
            print_json(run)
            return
        message(
            f"queued run {run['id']} ({run['name']}) of config {saved_name!r} v{version} in "
            f"project {pid}; follow it with `visionyard runs logs -f {run['id']}`"
        )
