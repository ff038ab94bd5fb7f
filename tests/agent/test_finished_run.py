"""What the API shows of a run a real agent trained to the end: its progress, checkpoints, logs
and summary. One real run per backend (a real agent process, a real trainer, the real
database), shared by the tests of this module; the API is the real app over that database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.agent.conftest import _resnet
from tests.agent.platform import Platform, make_platform
from tests.dashboard.conftest import ADMIN_PASSWORD, ADMIN_TOKEN
from tests.dbutil import fresh_pg_database, fresh_sqlite_database, pg_admin_url
from visionyard.dashboard.app import create_app
from visionyard.dashboard.services.auth import create_token
from visionyard.db.models import User
from visionyard.settings import load_settings

API = "/api/v1"
#: 2 epochs of 25 optimizer steps; progress reported every 7 steps, so the last report (step
#: 49) comes before the end; `last` saved every 5 steps and at each epoch end
CONFIG = {"epochs": 2, "log_every_steps": 7, "checkpoint_every_steps": 5}


@dataclass
class FinishedRun:
    platform: Platform
    client: TestClient
    run_id: int


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def finished(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, digits_root: Path
) -> Iterator[FinishedRun]:
    base = tmp_path_factory.mktemp(f"finished-{request.param}")
    if request.param == "postgresql" and pg_admin_url() is None:
        pytest.skip("PostgreSQL not reachable (set VISIONYARD_TEST_PG_URL)")
    database = fresh_sqlite_database(base) if request.param == "sqlite" else fresh_pg_database()
    with database as url:
        for p in make_platform(url, base / "p", digits_root, _resnet):
            run_id = p.enqueue(p.config(**CONFIG), name="finished")
            p.start_agent("trainer")
            run = p.wait_state(run_id, "succeeded", "failed", "canceled", timeout=300)
            assert run.state.value == "succeeded", (run.error, p.agent_log("trainer")[-3000:])
            p.stop_agents()
            settings = load_settings(
                data_dir=base / "dashboard",
                datasets_dir=p.datasets,
                runs_dir=p.runs,
                models_dir=p.models,
                db_url=url,
                admin_password=ADMIN_PASSWORD,
                admin_token=ADMIN_TOKEN,
                allowed_hosts="testserver",
            )
            app = create_app(settings)
            # The platform's database has its own admin ("owner"): the API is called with a
            # user token of it.
            with Session(p.engine) as session, session.begin():
                owner = session.scalars(select(User).where(User.username == "owner")).one()
                token = create_token(session, owner, "api")[1]
            headers = {"Authorization": f"Bearer {token}"}
            with TestClient(app, headers=headers) as client:
                yield FinishedRun(p, client, run_id)
            app.state.vy.engine.dispose()


def test_a_succeeded_runs_progress_is_complete_without_an_eta(finished: FinishedRun) -> None:
    """It showed the trainer's last report: "step 49 of 50, 0.4 s left"."""
    progress = finished.client.get(f"{API}/runs/{finished.run_id}").json()["progress"]
    assert progress["step"] == progress["total_steps"] == 50, progress
    assert progress["complete"] is True and "eta_s" not in progress, progress


def test_one_checkpoint_record_per_checkpoint_folder(finished: FinishedRun) -> None:
    """Every save of `last` (and of `best`) was a row: 14 rows for 2 folders."""
    body = finished.client.get(
        f"{API}/runs/{finished.run_id}/checkpoints", params={"limit": 200}
    ).json()
    names = [c["name"] for c in body["items"]]
    assert sorted(names) == ["best", "last"], names
    folders = finished.platform.runs / f"{finished.run_id}-finished" / "checkpoints"
    assert sorted(p.name for p in folders.iterdir() if p.is_dir()) == ["best", "last"]
    last = next(c for c in body["items"] if c["name"] == "last")
    assert (last["step"], last["epoch"]) == (50, 2)  # the newest save


def test_the_trainers_final_summary_is_one_log_record(finished: FinishedRun) -> None:
    """The indented JSON summary arrived as 15 log lines of brackets and fragments."""
    lines = finished.client.get(f"{API}/runs/{finished.run_id}/logs", params={"tail": 5000}).json()[
        "items"
    ]
    summaries = [line for line in lines if '"run_dir"' in line["message"]]
    assert len(summaries) == 1, [line["message"] for line in lines[-20:]]
    summary = json.loads(summaries[0]["message"])
    assert summary["val"]["acc@1"] >= 0 and "test" in summary
    assert not any(line["message"].strip() in ("{", "}", "},") for line in lines)


def test_the_list_summarises_the_finished_run(finished: FinishedRun) -> None:
    items = finished.client.get(f"{API}/runs", params={"sort": "best:val/acc@1"}).json()["items"]
    summary = next(i for i in items if i["id"] == finished.run_id)["summary"]
    monitor = summary["monitor"]
    assert (monitor["name"], monitor["mode"]) == ("val/acc@1", "max")
    assert monitor["best"] is not None and monitor["last"] is not None
    assert monitor["best"] >= monitor["last"] and monitor["last_step"] == 50
    assert (summary["epochs_done"], summary["epochs_total"]) == (2, 2)
    assert summary["duration_s"] > 0 and summary["params"]["batch_size"] == 16
    # A filter the run meets, and one it does not.
    best = monitor["best"]
    matching = finished.client.get(f"{API}/runs", params={"filter": f"best:val/acc@1>={best}"})
    assert [i["id"] for i in matching.json()["items"]] == [finished.run_id]
    above = finished.client.get(f"{API}/runs", params={"filter": f"best:val/acc@1>{best}"})
    assert above.json()["items"] == []
