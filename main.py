"""Standalone entry point.

python main.py                      # run every experiment listed in experiments.py
python main.py --only digits-vit    # run one of them by run_name
python main.py --config cfg.json    # run one config file (JSON or YAML)
python main.py --config cfg.json --set lr=3e-4 --set epochs=5
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

_REEXEC_MARK = "VISIONYARD_MAIN_REEXEC"


def _run_in_project_venv() -> None:
    """`python main.py` from a shell without the virtual environment activated: run again with
    the interpreter of the project's `.venv` (what `make setup`, `make demo` and `make test`
    create) rather than fail on the first import."""
    if importlib.util.find_spec("visionyard") is not None:
        return
    venv_python = Path(__file__).resolve().parent / ".venv" / "bin" / "python"
    if venv_python.exists() and not os.environ.get(_REEXEC_MARK):
        os.environ[_REEXEC_MARK] = "1"  # a broken venv must not re-exec forever
        os.execv(venv_python, [str(venv_python), __file__, *sys.argv[1:]])
    print(
        "error: the visionyard package is not installed for this Python "
        f"({sys.executable}). Run `make setup` in {Path(__file__).resolve().parent} first "
        "(it creates .venv/), then `python main.py` again, or activate the environment you "
        "installed visionyard into.",
        file=sys.stderr,
    )
    sys.exit(2)


_run_in_project_venv()

# Imported after the check above: they need the installed package.
from visionyard.cli import run_config, setup_logging  # noqa: E402
from visionyard.errors import VisionyardError  # noqa: E402
from visionyard.exitcodes import EXIT_STOPPED  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--config", help="TrainConfig JSON/YAML file to run instead of experiments.py"
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a field"
    )
    parser.add_argument(
        "--only", action="append", default=[], metavar="RUN_NAME", help="run only these experiments"
    )
    args = parser.parse_args(argv)
    setup_logging()
    try:
        if args.config:
            return run_config(args.config, args.set)
        from experiments import experiments

        from visionyard.training.config import build_config

        selected = [e for e in experiments() if not args.only or e.get("run_name") in args.only]
        if not selected:
            print(
                f"error: no experiment named {', '.join(args.only)} in experiments.py",
                file=sys.stderr,
            )
            return 2
        # Validate all before training any: a typo in the third must not surface an hour later.
        configs = [
            build_config(e, args.set, source=f"experiments.py[{e.get('run_name')}]")
            for e in selected
        ]
        from visionyard.training.runner import train

        for cfg in configs:
            result = train(cfg)
            summary = f"val={result.val} test={result.test} -> {result.run_dir}"
            print(f"{cfg.run_name}: {result.status} {summary}")
            if result.status == "stopped":
                return EXIT_STOPPED
        return 0
    except VisionyardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
