"""Cold start of `visionyard serve`: from spawning the process to the first 200 on /api/v1/health.

Each round starts `python -m visionyard.cli serve` on a fresh data folder (a new SQLite database,
migrated at start-up, as on a first start) for every source tree given, interleaved so that a busy
moment of a shared machine hits every tree alike. Alongside, as the yardstick of what the
dashboard no longer pays for, the time of `python -c "import torch"` and of importing the
dashboard app, and whether that import loaded torch.

    python bench/serve_cold_start.py                          # this checkout, 5 rounds
    python bench/serve_cold_start.py --src before=/tmp/old/src --src after=src --rounds 7

`--src NAME=DIR` puts DIR first on PYTHONPATH for that tree (a `git archive` of an older commit
works: `git archive <rev> src | tar -x -C /tmp/old`); the interpreter and its packages are this
one's. Prints one line per measurement and a median table; `--json FILE` writes the raw times.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HEALTH = "/api/v1/health"
IMPORT_PROBE = (
    "import sys, time; t = time.perf_counter(); import visionyard.dashboard.app; "
    "print(time.perf_counter() - t, 'torch' in sys.modules)"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(src: Path, data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["VISIONYARD_DATA_DIR"] = str(data_dir)
    env["HF_HUB_OFFLINE"] = "1"
    return env


def serve_cold_start(src: Path, timeout: float) -> float:
    """Seconds from spawning `serve` to its first 200 on the health route."""
    with tempfile.TemporaryDirectory(prefix="vy-cold-") as tmp:
        port = _free_port()
        url = f"http://127.0.0.1:{port}{HEALTH}"
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "visionyard.cli", "serve", "--port", str(port)],
            env=_env(src, Path(tmp)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            while True:
                try:
                    with urllib.request.urlopen(url, timeout=1) as response:
                        if response.status == 200:
                            return time.perf_counter() - start
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    pass
                if proc.poll() is not None:
                    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                    raise SystemExit(f"serve exited with {proc.returncode}:\n{err[-2000:]}")
                if time.perf_counter() - start > timeout:
                    raise SystemExit(f"no 200 from {url} within {timeout} s")
                time.sleep(0.02)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _timed(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, done.stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--src",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="a source tree to measure (repeatable); default: this checkout's src/",
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--json", type=Path, help="write the raw times here")
    args = parser.parse_args()
    trees = dict(item.split("=", 1) for item in args.src) or {"this": str(REPO / "src")}
    srcs = {name: Path(path).resolve() for name, path in trees.items()}

    times: dict[str, list[float]] = {f"serve[{name}]": [] for name in srcs}
    times |= {f"import app[{name}]": [] for name in srcs}
    times["python -c 'import torch'"] = []
    torch_loaded: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for round_no in range(1, args.rounds + 1):
            for name, src in srcs.items():
                seconds = serve_cold_start(src, args.timeout)
                times[f"serve[{name}]"].append(seconds)
                print(f"round {round_no}: serve[{name}] {seconds:.2f} s", flush=True)
                env = _env(src, Path(scratch))
                _, out = _timed([sys.executable, "-c", IMPORT_PROBE], env)
                seconds_text, loaded = out.split()
                times[f"import app[{name}]"].append(float(seconds_text))
                torch_loaded[name] = loaded
            seconds, _ = _timed([sys.executable, "-c", "import torch"], dict(os.environ))
            times["python -c 'import torch'"].append(seconds)
            print(f"round {round_no}: python -c 'import torch' {seconds:.2f} s", flush=True)

    print(f"\n{'measurement':<32} {'median s':>9} {'min s':>7} {'max s':>7}")
    for label, values in times.items():
        median = statistics.median(values)
        print(f"{label:<32} {median:>9.2f} {min(values):>7.2f} {max(values):>7.2f}")
    for name, loaded in torch_loaded.items():
        print(f"importing the dashboard app from {name!r} loads torch: {loaded}")
    if args.json:
        args.json.write_text(json.dumps({"times": times, "torch_loaded": torch_loaded}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
