"""The supervisor watchdog on real processes: a trainer stand-in exits 75 when its supervisor
file goes stale or its parent dies, and runs normally otherwise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from visionyard.errors import VisionyardError
from visionyard.exitcodes import EXIT_SUPERVISOR_LOST
from visionyard.training.watchdog import start_supervisor_watchdog

LOST_LINE = "exiting so that no orphan trainer keeps running"

# A trainer stand-in: starts the watchdog, says so (in READY_FILE if given), sleeps argv[1] s.
TRAINER = """
import os, sys, time
from pathlib import Path
from visionyard.training.watchdog import start_supervisor_watchdog
thread = start_supervisor_watchdog()
print("watching" if thread else "unsupervised", flush=True)
if os.environ.get("READY_FILE"):
    Path(os.environ["READY_FILE"]).touch()
time.sleep(float(sys.argv[1]))
print("finished", flush=True)
"""


def env_with(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VISIONYARD_SUPERVISOR_")}
    return {**env, **extra}


def supervised(path: Path, timeout: float) -> dict[str, str]:
    return env_with(
        VISIONYARD_SUPERVISOR_FILE=str(path), VISIONYARD_SUPERVISOR_TIMEOUT=str(timeout)
    )


def run_trainer(seconds: float, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", TRAINER, str(seconds)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.fixture
def toucher(tmp_path: Path) -> Iterator[Path]:
    """A supervisor file this test keeps touching, like a live agent."""
    path = tmp_path / "supervisor"
    path.touch()
    stop = threading.Event()

    def touch() -> None:
        while not stop.wait(0.2):
            path.touch()

    thread = threading.Thread(target=touch, daemon=True)
    thread.start()
    yield path
    stop.set()
    thread.join()


def test_without_a_supervisor_it_does_nothing() -> None:
    assert start_supervisor_watchdog({}) is None
    proc = run_trainer(0.5, env_with())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["unsupervised", "finished"]


@pytest.mark.parametrize("kind", ["missing", "stale"])
def test_untouched_supervisor_file_ends_the_trainer(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "supervisor"
    if kind == "stale":
        path.touch()
        long_ago = time.time() - 3600
        os.utime(path, (long_ago, long_ago))
    proc = run_trainer(60, supervised(path, timeout=1))
    assert proc.returncode == EXIT_SUPERVISOR_LOST, proc.stderr
    assert "finished" not in proc.stdout
    assert "visionyard: supervisor lost (" in proc.stderr
    assert LOST_LINE in proc.stderr
    assert ("missing" if kind == "missing" else "not touched") in proc.stderr


def test_touched_supervisor_file_keeps_the_trainer_running(toucher: Path) -> None:
    proc = run_trainer(4, supervised(toucher, timeout=1.5))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["watching", "finished"]


# The middle process stands for the agent (or torchrun): it starts the trainer, reports its
# pid, and is SIGKILLed. A subreaper above it adopts the orphan so its exit status can be read.
REAPER = """
import ctypes, json, os, subprocess, sys, time
PR_SET_CHILD_SUBREAPER = 36
assert ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
trainer_code, ready = sys.argv[1], sys.argv[2]
middle = subprocess.Popen(
    [sys.executable, "-c",
     "import subprocess, sys, time;"
     "p = subprocess.Popen([sys.executable, '-c', sys.argv[1], '60'],"
     " stdout=subprocess.DEVNULL);"
     "print(p.pid, flush=True); time.sleep(60)",
     trainer_code],
    stdout=subprocess.PIPE, text=True,
)
trainer_pid = int(middle.stdout.readline())
deadline = time.monotonic() + 20
while not os.path.exists(ready):  # the watchdog must know its first parent before we kill it
    assert time.monotonic() < deadline, "trainer never started its watchdog"
    time.sleep(0.05)
middle.kill()
middle.wait()
_, status = os.waitpid(trainer_pid, 0)  # adopted by us now
print(json.dumps({"exit": os.waitstatus_to_exitcode(status)}), flush=True)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="uses Linux's PR_SET_CHILD_SUBREAPER")
def test_parent_death_ends_the_trainer(toucher: Path, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    stderr_file = tmp_path / "trainer.err"
    with stderr_file.open("w") as stderr:
        proc = subprocess.run(
            [sys.executable, "-c", REAPER, TRAINER, str(ready)],
            env={**supervised(toucher, timeout=60), "READY_FILE": str(ready)},
            stdout=subprocess.PIPE,
            stderr=stderr,  # the trainer's stderr too: it inherits it through the middle
            text=True,
            timeout=30,
        )
    errors = stderr_file.read_text()
    assert proc.returncode == 0, errors
    assert json.loads(proc.stdout.splitlines()[-1]) == {"exit": EXIT_SUPERVISOR_LOST}
    assert "supervisor lost (parent process" in errors
    assert LOST_LINE in errors


@pytest.mark.parametrize("timeout", ["abc", "0", "-1", "inf", "nan"])
def test_bad_timeout_is_refused(tmp_path: Path, timeout: str) -> None:
    env = {
        "VISIONYARD_SUPERVISOR_FILE": str(tmp_path / "s"),
        "VISIONYARD_SUPERVISOR_TIMEOUT": timeout,
    }
    with pytest.raises(VisionyardError, match="VISIONYARD_SUPERVISOR_TIMEOUT"):
        start_supervisor_watchdog(env)


def test_trainer_entry_point_starts_the_watchdog(base_config: dict, tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({**base_config, "epochs": 1000}))
    proc = subprocess.run(
        [sys.executable, "-m", "visionyard.training", "--config", str(cfg)],
        env=supervised(tmp_path / "never-touched", timeout=0.5),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == EXIT_SUPERVISOR_LOST, proc.stderr
    assert LOST_LINE in proc.stderr


def test_trainer_entry_point_reports_a_bad_timeout(tmp_path: Path) -> None:
    env = supervised(tmp_path / "s", timeout=1)
    env["VISIONYARD_SUPERVISOR_TIMEOUT"] = "soon"
    proc = subprocess.run(
        [sys.executable, "-m", "visionyard.training", "--config", "x.json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "error: VISIONYARD_SUPERVISOR_TIMEOUT='soon'" in proc.stderr
    assert "Traceback" not in proc.stderr
