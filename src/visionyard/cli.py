"""The `visionyard` console script. A thin shell: every command calls into the library."""

from __future__ import annotations

import json
import logging
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from visionyard import __version__
from visionyard.client.commands import register as register_client_commands
from visionyard.errors import VisionyardError
from visionyard.exitcodes import EXIT_BAD_INPUT, EXIT_STOPPED

app = typer.Typer(
    name="visionyard",
    help="Train Hugging Face image classifiers reproducibly, from a terminal or a queue.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="TrainConfig JSON or YAML file.")
]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Override a field: --set lr=3e-4 (repeatable)."),
]


class LogLevel(StrEnum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


def _migration_steps_only(record: logging.LogRecord) -> bool:
    """Alembic logs every connection's dialect and plugin set-up at INFO; the migrations it
    actually applies ("Running upgrade 0001 -> 0002, ...") are the part worth a line."""
    return record.levelno >= logging.WARNING or record.getMessage().startswith("Running ")


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    # Transformers is chatty about freshly initialised heads, which is exactly what we ask for.
    logging.getLogger("transformers").setLevel(logging.ERROR)
    if not verbose:
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
        migration = logging.getLogger("alembic.runtime.migration")
        if _migration_steps_only not in migration.filters:
            migration.addFilter(_migration_steps_only)


def fail(exc: VisionyardError) -> typer.Exit:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    return typer.Exit(exc.exit_code)


def run_config(config: Path | str | None, overrides: list[str]) -> int:
    """Train one config; returns the process exit code."""
    from visionyard.training.config import load_config
    from visionyard.training.control import StopSignal
    from visionyard.training.distributed import DistContext
    from visionyard.training.runner import train

    cfg = load_config(config, overrides)
    stop = StopSignal()
    stop.install()
    result = train(cfg, stop=stop)
    if result.status == "stopped":
        typer.echo(f"stopped ({stop.reason}); resume with the same config: {result.run_dir}")
        return EXIT_STOPPED
    if not DistContext.from_env().is_main:
        return 0  # under torchrun every rank holds the same synced metrics: rank 0 reports them
    summary = {"val": result.val, "test": result.test}
    # One line of JSON: output is read line by line (an agent stores each line as one log
    # record, scripts take the last line); `| jq` shows it indented.
    typer.echo(json.dumps({"run_dir": str(result.run_dir), **summary}))
    typer.echo(f"run folder: {result.run_dir}", err=True)
    return 0


@app.command()
def train(
    config: ConfigOption = None,
    set_: SetOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Train one TrainConfig (file + --set overrides)."""
    setup_logging(verbose)
    if config is None and not set_:
        typer.secho("error: give --config FILE and/or --set key=value", fg="red", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    try:
        raise typer.Exit(run_config(config, set_ or []))
    except VisionyardError as exc:
        raise fail(exc) from None


@app.command()
def validate(config: ConfigOption = None, set_: SetOption = None) -> None:
    """Validate a config and print it with every default filled in."""
    from visionyard.training.config import load_config

    try:
        cfg = load_config(config, set_ or [])
    except VisionyardError as exc:
        raise fail(exc) from None
    typer.echo(cfg.model_dump_json(indent=2))


@app.command()
def schema() -> None:
    """Print the TrainConfig JSON Schema (drives the dashboard form)."""
    from visionyard.training.config import config_json_schema

    typer.echo(json.dumps(config_json_schema(), indent=2))


@app.command("demo-data")
def demo_data(
    directory: Annotated[Path, typer.Argument(help="Where to write the dataset and model.")],
    arch: Annotated[str, typer.Option(help="Tiny model architecture: vit, resnet, convnext.")] = (
        "resnet"
    ),
) -> None:
    """Write the offline demo: digits as ImageFolder, a tiny local model and a config."""
    from visionyard.training.demo import TINY_ARCHS, write_demo
    from visionyard.training.demo_config import write_demo_config

    if arch not in TINY_ARCHS:
        typer.secho(f"error: --arch must be one of {', '.join(TINY_ARCHS)}", fg="red", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    paths = write_demo(directory, arch=arch)
    config_path = write_demo_config(directory, paths)
    typer.echo(f"dataset: {paths.dataset}\nmodel:   {paths.model}\nconfig:  {config_path}")
    typer.echo(f"train it: visionyard train --config {config_path}")


@app.command()
def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Demo workspace.")] = Path("demo"),
    arch: Annotated[str, typer.Option(help="vit, resnet or convnext.")] = "resnet",
    set_: SetOption = None,
) -> None:
    """Write the demo data and train on it end to end (about 15 s on 2 idle CPU cores)."""
    from visionyard.training.demo import write_demo
    from visionyard.training.demo_config import write_demo_config

    setup_logging()
    paths = write_demo(directory, arch=arch)
    config_path = write_demo_config(directory, paths)
    try:
        code = run_config(config_path, set_ or [])
    except VisionyardError as exc:
        raise fail(exc) from None
    if code == 0:
        typer.echo(
            f"\nDone. Every run of the demo is under {directory / 'runs'}/ (newest last):\n"
            "  results.json   val/test metrics, per-class table, confusion matrix\n"
            "  model/         Hugging Face folder: pipeline('image-classification', model=...)\n"
            f"  tb/            TensorBoard: .venv/bin/tensorboard --logdir {directory / 'runs'}",
            err=True,
        )
    raise typer.Exit(code)


@app.command("export")
def export_bundle(
    run_dir: Annotated[Path, typer.Argument(help="The run folder (<output_dir>/<run_name>).")],
    checkpoint: Annotated[
        str, typer.Option("--checkpoint", help="best, last or epoch_N.")
    ] = "best",
    onnx: Annotated[
        bool,
        typer.Option(
            "--onnx/--no-onnx", help="Also export ONNX, checked against PyTorch on val images."
        ),
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder for the bundle (default RUN_DIR/exports).")
    ] = None,
    push_to_hub: Annotated[
        str | None,
        typer.Option(
            "--push-to-hub", help="Also push to this Hub repository (user/name).", metavar="REPO_ID"
        ),
    ] = None,
) -> None:
    """Export a checkpoint: Hugging Face folder, model card, optional ONNX, as a .tar.gz."""
    from visionyard.analysis.bundle import build_bundle

    setup_logging()
    try:
        # The Hub is asked first: a refused token or an unreachable Hub fails before the export.
        from visionyard.analysis.hub import check_hub_access, push_bundle

        token = check_hub_access(push_to_hub) if push_to_hub else None
        bundle = build_bundle(run_dir, checkpoint, onnx=onnx, out_dir=out, keep_folder=True)
        pushed = None
        if push_to_hub and token and bundle.folder is not None:
            pushed = push_bundle(bundle.folder, push_to_hub, token)
    except VisionyardError as exc:
        raise fail(exc) from None
    summary = {
        "archive": str(bundle.archive),
        "folder": str(bundle.folder),
        "size": bundle.size,
        "sha256": bundle.sha256,
        "checkpoint": bundle.manifest["checkpoint"],
        "onnx": bundle.onnx.to_json() if bundle.onnx else None,
        "pushed": pushed,
    }
    typer.echo(json.dumps(summary))  # one line, like `train`: scripts read it, `| jq` shows it
    if bundle.onnx is not None and not bundle.onnx.validated:
        typer.secho(f"warning: ONNX not validated: {bundle.onnx.reason}", fg="yellow", err=True)
    typer.echo(f"bundle: {bundle.archive}", err=True)


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="The run folder.")],
    checkpoint: Annotated[str, typer.Option(help="best, last or epoch_N.")] = "best",
    split: Annotated[str, typer.Option(help="val or test.")] = "val",
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:N (default: auto).")] = None,
) -> None:
    """Evaluate a checkpoint of a run on val or test and store the report in the run folder."""
    from visionyard.analysis.report import evaluate_checkpoint
    from visionyard.analysis.report_store import report_path

    setup_logging()
    try:
        result = evaluate_checkpoint(run_dir, checkpoint, split, device)
    except VisionyardError as exc:
        raise fail(exc) from None
    issues = result["label_issues"]
    typer.echo(
        f"{result['checkpoint']['name']} on {split} ({result['num_samples']} images): "
        f"accuracy {result['accuracy']:.4f}, macro F1 {result['macro_f1']:.4f}, "
        f"ECE {result['calibration']['ece']:.4f}"
    )
    typer.echo(f"likely label errors: {issues['count']}")
    for item in issues["items"][:5]:
        typer.echo(
            f"  {item['path']}: labelled {item['given']}, looks like {item['suggested']} "
            f"(quality {item['quality']:.3f})"
        )
    typer.echo(f"report: {report_path(run_dir, checkpoint, split)}")


db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending schema migrations to DASHBOARD_DB_URL (back up PostgreSQL first)."""
    from visionyard.db.engine import make_engine
    from visionyard.db.migrate import current_revision, head_revision, upgrade
    from visionyard.settings import load_settings

    try:
        settings = load_settings()
    except VisionyardError as exc:
        raise fail(exc) from None
    engine = make_engine(settings.database_url)
    before = current_revision(engine)
    upgrade(engine)
    typer.echo(f"database schema: {before or 'empty'} -> {head_revision()}")
    engine.dispose()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    log_level: Annotated[
        LogLevel,
        typer.Option(
            help="uvicorn's log level (info logs every request; `visionyard up` uses warning)."
        ),
    ] = LogLevel.info,
) -> None:
    """Run the dashboard API (and, once built, the web UI) with uvicorn."""
    import uvicorn

    from visionyard.dashboard.app import create_app
    from visionyard.ports import ensure_port_free
    from visionyard.settings import allowed_hosts_hint, load_settings

    setup_logging()
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    try:
        settings = load_settings(**overrides)
        # before create_app, which may create the admin account and print its password
        ensure_port_free(settings.host, settings.port)
        application = create_app(settings)
    except VisionyardError as exc:
        raise fail(exc) from None
    if settings.host not in ("127.0.0.1", "localhost", "::1"):
        typer.secho(
            f"warning: listening on {settings.host}; set VISIONYARD_ALLOWED_HOSTS to the names "
            "clients use, and put TLS in front (VISIONYARD_SECURE_COOKIES=true)",
            fg="yellow",
            err=True,
        )
    hint = allowed_hosts_hint(settings)
    if hint:
        typer.secho(hint, fg="yellow", err=True)
    typer.echo(f"Visionyard dashboard on http://{settings.host}:{settings.port}/", err=True)
    uvicorn.run(application, host=settings.host, port=settings.port, log_level=log_level.value)


@app.command()
def agent(
    gpu_index: Annotated[
        str | None,
        typer.Option(help="Physical GPU index (or 0,1 for multi-GPU runs); env GPU_INDEX."),
    ] = None,
    device: Annotated[str, typer.Option(help="auto (GPU if there is one) or cpu.")] = "auto",
    name: Annotated[str | None, typer.Option(help="Agent name (default <host>-cpu/-gpuN).")] = None,
    db_url: Annotated[str | None, typer.Option(help="Database URL (env DASHBOARD_DB_URL).")] = None,
    token: Annotated[
        str | None, typer.Option(help="API token (env VISIONYARD_AGENT_TOKEN).", show_default=False)
    ] = None,
) -> None:
    """Run a training agent: claim queued runs and train them, one at a time."""
    from visionyard.agent.bootstrap import run_agent

    setup_logging()
    options = {"gpu_index": gpu_index, "name": name, "token": token}
    try:
        code = run_agent(
            db_url=db_url,
            device=device,
            options={k: v for k, v in options.items() if v is not None},
            ready=lambda message: typer.echo(message, err=True),
        )
    except VisionyardError as exc:
        raise fail(exc) from None
    raise typer.Exit(code)


@app.command()
def up(
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    cpu: Annotated[bool, typer.Option("--cpu", help="One CPU agent even if GPUs exist.")] = False,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Also write the demo dataset and queue a demo run (once: a restart reports the "
            "earlier demo run).",
        ),
    ] = False,
    exit_after_demo: Annotated[
        bool, typer.Option(help="With --demo: stop once the demo run has finished (for tests).")
    ] = False,
) -> None:
    """Start the whole platform: the dashboard and one local agent per GPU (or a CPU agent)."""
    from visionyard.up import run_platform

    setup_logging()
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    try:
        code = run_platform(overrides, cpu_only=cpu, demo=demo, exit_after_demo=exit_after_demo)
    except VisionyardError as exc:
        raise fail(exc) from None
    raise typer.Exit(code)


@app.command()
def version() -> None:
    """Print the Visionyard version."""
    typer.echo(__version__)


# The dashboard's terminal client: login, logout, queue, runs, datasets.
register_client_commands(app)


def main() -> None:
    # Runs must never hang for ~25 s trying to reach an unreachable Hub when a model is local.
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    app()


if __name__ == "__main__":
    main()
