"""`python -m visionyard.training --config cfg.json [--set k=v]`: the entry point agents spawn."""

from visionyard.cli import app

if __name__ == "__main__":
    import sys

    from visionyard.errors import VisionyardError
    from visionyard.training.watchdog import start_supervisor_watchdog

    # First thing: a trainer whose agent is gone must not keep running (see watchdog.py).
    try:
        start_supervisor_watchdog()
    except VisionyardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)

    app(args=["train", *sys.argv[1:]], prog_name="python -m visionyard.training")
