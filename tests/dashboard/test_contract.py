"""The OpenAPI document says exactly what the server does: schemathesis, every check and every
phase, against a live `visionyard serve` on SQLite and on PostgreSQL.

The web UI generates its typed client from this document, so a status code the server returns
but the document does not declare, a constraint the server enforces but the schema does not
state, or a method the server answers differently from what it advertises is a bug in the
client-to-be. `schemathesis run --checks all` with the examples, coverage, fuzzing and stateful
phases finds all three kinds; it runs here as the CLI against a real server process (uvicorn,
real sockets, the real start-up path), on data seeded through the API first (the same data as
the in-process fuzzers: a project, group, dataset of real PNGs, model, two-version config,
finished and queued runs, an agent, a second user and token), so that links between operations
and the 404s behind ids are meaningful.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.dashboard.conftest import ADMIN_TOKEN, AUTH
from tests.dashboard.test_fuzz import Seeded, fuzz_dataset_source, seed_everything
from tests.liveserver import API, REPO, serving
from visionyard.dashboard.app import create_app
from visionyard.settings import Settings

__all__ = ["fuzz_dataset_source"]  # a fixture this module uses

#: test cases per operation in the fuzzing phase (the coverage phase adds its deterministic
#: boundary and type-confusion cases on top, and the stateful phase chains operations)
MAX_EXAMPLES = 10
#: the whole schemathesis run, per backend; it takes 60-75 s on a 2-core machine
RUN_TIMEOUT = 420
#: which operations accept which statuses for what reason (nothing in it disables a check)
CONFIG_FILE = Path(__file__).with_name("contract.schemathesis.toml")
CHECKS = "all"
PHASES = "examples,coverage,fuzzing,stateful"


@dataclass(frozen=True)
class LiveServer:
    url: str
    db_url: str
    seeded: Seeded
    log: Path


@pytest.fixture
def live_server(
    db_url: str,
    settings_factory: Callable[..., Settings],
    fuzz_dataset_source: Path,
    tiny_model: Callable[[str], Path],
    tmp_path: Path,
) -> Iterator[LiveServer]:
    """`visionyard serve` in its own process on a seeded database (`db_url` runs it once per
    backend). The data is seeded in-process first, through the API and the run queue, and that
    app is shut down before the server starts."""
    settings = settings_factory(db_url)
    app = create_app(settings)
    with TestClient(app, headers=AUTH) as client:
        seeded = seed_everything(client, app, fuzz_dataset_source, tiny_model("resnet"))
    app.state.vy.engine.dispose()

    log = tmp_path / "server.log"
    with serving(settings, log) as url:
        yield LiveServer(url=url, db_url=db_url, seeded=seeded, log=log)


def run_schemathesis(server: LiveServer, report_dir: Path) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(CONFIG_FILE),
        "run",
        f"{server.url}{API}/openapi.json",
        "--checks",
        CHECKS,
        "--phases",
        PHASES,
        "--header",
        f"Authorization: Bearer {ADMIN_TOKEN}",
        "--max-examples",
        str(MAX_EXAMPLES),
        # The same requests every run: a failure reproduces, and the run's length is stable.
        "--generation-deterministic",
        # One worker: the machine's cores are shared with the server under test.
        "--workers",
        "1",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(report_dir),
    ]
    env = dict(os.environ)
    env.update(
        SCHEMATHESIS_HOOKS="tests.dashboard.contract_hooks",
        CONTRACT_DB_URL=server.db_url,
        PYTHONPATH=os.pathsep.join([str(REPO / "src"), str(REPO), env.get("PYTHONPATH", "")]),
    )
    return subprocess.run(
        command,
        env=env,
        cwd=report_dir,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )


# slow: a server process per backend and about 70 s of requests; `make test` runs it.
@pytest.mark.slow
def test_schemathesis_all_checks_all_phases_pass_on_a_live_server(
    live_server: LiveServer, tmp_path: Path
) -> None:
    report_dir = tmp_path / "schemathesis"
    report_dir.mkdir()
    started = time.monotonic()
    done = run_schemathesis(live_server, report_dir)
    elapsed = time.monotonic() - started
    output = done.stdout + done.stderr
    (report_dir / "output.txt").write_text(output)
    print(f"\nschemathesis ({elapsed:.0f}s):\n{output[-3000:]}")
    assert done.returncode == 0, output[-20000:]
    # Exit status 0 also means "nothing tested": every operation of the document must have been.
    selected = re.search(r"Selected: (\d+)/(\d+)", output)
    tested = re.search(r"Tested: (\d+)", output)
    assert selected and tested, output[-3000:]
    assert int(selected[1]) == int(selected[2]) == int(tested[1]) >= 60, output[-3000:]
