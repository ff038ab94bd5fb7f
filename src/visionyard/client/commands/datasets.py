"""`visionyard datasets register|list`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from visionyard.client.commands.common import JsonOption, client_errors, connect

app = typer.Typer(help="Datasets registered on the dashboard.", no_args_is_help=True)

COLUMNS = [
    ("id", "id"),
    ("name", "name"),
    ("path", "path"),
    ("classes", "classes"),
    ("images", "images"),
]


def _row(dataset: dict[str, Any]) -> dict[str, Any]:
    analysis = dataset.get("analysis") or {}
    return {
        **dataset,
        "classes": len(analysis.get("classes") or []) or None,
        "images": sum((analysis.get("num_images") or {}).values()) or None,
    }


@app.command("register")
def register(
    name: Annotated[str, typer.Argument(help="A name for the dataset.")],
    path: Annotated[
        str,
        typer.Argument(
            help="Its folder relative to the dashboard's DATASETS_DIR, holding "
            "train/ and val/ (test/ optional)."
        ),
    ],
    as_json: JsonOption = False,
) -> None:
    """Register a dataset folder (it is scanned and analysed on the dashboard)."""
    from visionyard.client.output import fields, print_json

    with client_errors(), connect() as api:
        dataset = api.post("/datasets", {"name": name, "path": path})
        if as_json:
            print_json(dataset)
            return
        fields(_row(dataset), ["id", "name", "path", "classes", "images", "fingerprint"])


@app.command("list")
def list_datasets(
    limit: Annotated[int, typer.Option(help="At most this many, newest first.", min=1)] = 50,
    as_json: JsonOption = False,
) -> None:
    """List registered datasets."""
    from visionyard.client.output import print_json, table

    with client_errors(), connect() as api:
        items = list(api.pages("/datasets", limit=limit))
        if as_json:
            print_json(items)
            return
        table([_row(d) for d in items], COLUMNS)
