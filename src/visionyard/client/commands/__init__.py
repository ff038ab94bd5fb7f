"""The client's command groups, added to the `visionyard` console script by `register`.

Each module imports only typer at import time; httpx, rich and the API client load when a
command runs, so `visionyard --help` and the trainer's commands stay fast.
"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from visionyard.client.commands import auth, datasets, queue, runs

    app.command("login")(auth.login)
    app.command("logout")(auth.logout)
    app.command("queue")(queue.queue)
    app.add_typer(runs.app, name="runs")
    app.add_typer(datasets.app, name="datasets")
