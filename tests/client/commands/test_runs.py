"""`visionyard runs list|show|logs|cancel|resume` against a live dashboard, with the run queue's
own functions playing the agent on the dashboard's database."""

from __future__ import annotations

import json
import time

from tests.client.conftest import Cli, Dashboard
from tests.client.helpers import claim, database, log_events, queue_run
from visionyard import runqueue
from visionyard.exitcodes import EXIT_BAD_INPUT

TOP_PRIORITY = 1_000_000  # claimed before the queued runs of other tests


def test_list_filters_by_project_name_or_id_state_and_limit(dashboard: Dashboard, cli: Cli) -> None:
    project = dashboard.new_project()
    runs = [queue_run(dashboard, project["id"], name=f"r{i}") for i in range(3)]
    canceled = dashboard.api("POST", f"/runs/{runs[0]['id']}/cancel")
    assert canceled.status_code == 200, canceled.text

    by_name = cli("runs", "list", "--project", project["name"], "--json")
    assert by_name.returncode == 0, by_name.stderr
    assert [r["id"] for r in json.loads(by_name.stdout)] == [r["id"] for r in reversed(runs)]

    queued = cli("runs", "list", "-p", str(project["id"]), "--state", "queued", "--json")
    assert [r["name"] for r in json.loads(queued.stdout)] == ["r2", "r1"]
    limited = cli("runs", "list", "-p", str(project["id"]), "--limit", "1", "--json")
    assert [r["name"] for r in json.loads(limited.stdout)] == ["r2"]

    table = cli("runs", "list", "--project", project["name"])
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert "state" in lines[0] and "name" in lines[0]
    assert any("r0" in line and "canceled" in line for line in lines)
    assert sum("queued" in line for line in lines) == 2


def test_list_refuses_an_unknown_project_and_a_bad_state_with_the_apis_message(
    dashboard: Dashboard, cli: Cli
) -> None:
    unknown = cli("runs", "list", "--project", "no-such-project")
    assert unknown.returncode == EXIT_BAD_INPUT
    assert "no project is named 'no-such-project'" in unknown.stderr
    missing_id = cli("runs", "list", "--project", "987654")
    assert missing_id.returncode == EXIT_BAD_INPUT
    assert "project 987654 does not exist" in missing_id.stderr
    bad_state = cli("runs", "list", "--state", "sleeping")
    assert bad_state.returncode == EXIT_BAD_INPUT
    assert "state" in bad_state.stderr and "queued" in bad_state.stderr
    for done in (unknown, missing_id, bad_state):
        assert "Traceback" not in done.stderr and done.stderr.startswith("error: ")


def test_show_prints_the_run_and_404_says_how_to_find_one(dashboard: Dashboard, cli: Cli) -> None:
    project = dashboard.new_project()
    run = queue_run(dashboard, project["id"], name="shown", tags=["t1"])
    shown = cli("runs", "show", str(run["id"]))
    assert shown.returncode == 0, shown.stderr
    assert "shown" in shown.stdout and "queued" in shown.stdout and "t1" in shown.stdout
    as_json = json.loads(cli("runs", "show", str(run["id"]), "--json").stdout)
    assert as_json["id"] == run["id"] and as_json["config_snapshot"]["root"].endswith("digits")

    missing = cli("runs", "show", "999999")
    assert missing.returncode == EXIT_BAD_INPUT
    assert "run 999999 does not exist; list runs to find its id" in missing.stderr


def test_logs_follow_prints_every_line_and_exits_when_the_run_ends(
    dashboard: Dashboard, cli: Cli
) -> None:
    project = dashboard.new_project()
    run = queue_run(dashboard, project["id"], priority=TOP_PRIORITY)
    with database(dashboard) as engine:
        agent, attempt = claim(engine, run["id"])
        runqueue.write_events(
            engine, run["id"], attempt, log_events(["before 1", "before 2"], 1), agent_id=agent
        )
        before = cli("runs", "logs", str(run["id"]))
        assert before.returncode == 0 and before.stdout.splitlines() == ["before 1", "before 2"]

        follower = cli.popen("runs", "logs", str(run["id"]), "-f", "--interval", "0.1")
        try:
            time.sleep(1.5)  # the follower is past its first page: these arrive while it polls
            assert follower.poll() is None, follower.communicate()
            later = [f"line {i}" for i in range(1, 1201)]  # more than one page of 1,000
            runqueue.write_events(engine, run["id"], attempt, log_events(later, 3), agent_id=agent)
            time.sleep(0.5)
            assert follower.poll() is None, "follow ended while the run was still running"
            runqueue.write_events(
                engine, run["id"], attempt, log_events(["last words"], 2000), agent_id=agent
            )
            runqueue.finish_run(engine, run["id"], attempt, agent, "succeeded")
            out, err = follower.communicate(timeout=60)
        finally:
            if follower.poll() is None:
                follower.kill()
                follower.communicate()
    assert follower.returncode == 0, err
    assert out.splitlines() == ["before 1", "before 2", *later, "last words"]
    assert f"run {run['id']} succeeded" in err


def test_logs_follow_of_a_finished_run_returns_at_once_and_json_lines(
    dashboard: Dashboard, cli: Cli
) -> None:
    project = dashboard.new_project()
    run = queue_run(dashboard, project["id"])
    assert dashboard.api("POST", f"/runs/{run['id']}/cancel").status_code == 200
    done = cli("runs", "logs", str(run["id"]), "--follow", "--json", timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and f"run {run['id']} canceled" in done.stderr


def test_cancel_then_cancel_again_is_the_apis_409(dashboard: Dashboard, cli: Cli) -> None:
    project = dashboard.new_project()
    run = queue_run(dashboard, project["id"])
    first = cli("runs", "cancel", str(run["id"]))
    assert first.returncode == 0, first.stderr
    assert "canceled" in first.stdout
    assert dashboard.api("GET", f"/runs/{run['id']}").json()["state"] == "canceled"
    again = cli("runs", "cancel", str(run["id"]))
    assert again.returncode == EXIT_BAD_INPUT
    assert "re-queue it to run it again" in again.stderr and "Traceback" not in again.stderr


def test_resume_refusals_are_the_apis_messages(dashboard: Dashboard, cli: Cli) -> None:
    project = dashboard.new_project()
    queued = queue_run(dashboard, project["id"])
    busy = cli("runs", "resume", str(queued["id"]))
    assert busy.returncode == EXIT_BAD_INPUT
    assert f"run {queued['id']}" in busy.stderr and "queued" in busy.stderr
    assert dashboard.api("POST", f"/runs/{queued['id']}/cancel").status_code == 200
    never_started = cli("runs", "resume", str(queued["id"]))
    assert never_started.returncode == EXIT_BAD_INPUT
    assert "cannot be resumed" in never_started.stderr and "requeue" in never_started.stderr
    missing = cli("runs", "resume", "999999")
    assert missing.returncode == EXIT_BAD_INPUT
    assert "run 999999 does not exist" in missing.stderr
    for done in (busy, never_started, missing):
        assert "Traceback" not in done.stderr
