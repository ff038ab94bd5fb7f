"""`python -m visionyard.training --config cfg.json [--set k=v]`: the entry point agents spawn.

A trainer stopped on request (a cancel, a drain) exits without the interpreter's teardown:
by then it has saved its checkpoint and closed its event file and TensorBoard writer, and
tearing down torch and transformers takes seconds on a busy machine, seconds during which its
agent cannot report the run canceled (or hand it back).
"""

from visionyard.cli import app

if __name__ == "__main__":
    import logging
    import os
    import sys

    from visionyard.errors import VisionyardError
    from visionyard.exitcodes import EXIT_STOPPED
    from visionyard.training.watchdog import start_supervisor_watchdog

    # First thing: a trainer whose agent is gone must not keep running (see watchdog.py).
    try:
        start_supervisor_watchdog()
    except VisionyardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)

    try:
        app(args=["train", *sys.argv[1:]], prog_name="python -m visionyard.training")
    except SystemExit as exc:
        if exc.code == EXIT_STOPPED:
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(EXIT_STOPPED)
        raise
