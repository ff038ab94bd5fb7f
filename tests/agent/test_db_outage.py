"""The database goes away mid-run (every connection dropped, new ones refused) and comes back.

The agent cannot renew its lease during the outage, so its trainer must stop itself before the
lease runs out: otherwise, once the run is re-queued, a second trainer could train the same run
while the first is still writing to its folder. The agent itself rides the outage out and, with
the database back, the run resumes from its checkpoint and succeeds. PostgreSQL behind a TCP
proxy the test cuts; real agent and trainer processes."""

from __future__ import annotations

import time

import pytest
from sqlalchemy.engine import make_url

from tests.agent.dbproxy import CuttableProxy
from tests.agent.platform import Platform
from tests.agent.test_reliability import LONG, gone, resumed_from, trainer_of, wait_checkpoint
from visionyard.db.models import RunState

pytestmark = pytest.mark.slow

#: how late the test may notice the trainer's exit (it polls every 0.1 s on a loaded machine)
POLL_SLACK_S = 1.0


def test_a_database_outage_stops_the_trainer_before_its_lease_ends(pg_platform: Platform) -> None:
    p = pg_platform
    url = make_url(p.url)
    proxy = CuttableProxy(url.host or "127.0.0.1", url.port or 5432)
    try:
        via_proxy = url.set(host="127.0.0.1", port=proxy.port)
        run_id = p.enqueue(p.config(**LONG))
        agent = p.start_agent(
            "cut-off", DASHBOARD_DB_URL=via_proxy.render_as_string(hide_password=False)
        )
        trainer = trainer_of(p, run_id, 1)
        wait_checkpoint(p, run_id, min_step=20)

        proxy.cut()
        lease_ends = p.run(run_id).lease_expires_at  # read directly, not through the proxy
        assert lease_ends is not None
        while not gone(trainer):
            assert time.time() < lease_ends + 30, "the trainer outlived its lease by 30 s"
            time.sleep(0.1)
        stopped_at = time.time()
        print(f"trainer stopped {lease_ends - stopped_at:.1f} s before its lease ended")
        assert stopped_at <= lease_ends + POLL_SLACK_S
        time.sleep(3)  # the outage goes on a little
        assert agent.poll() is None  # the agent rides it out

        proxy.restore()
        run = p.wait_state(run_id, "succeeded", "failed", timeout=240)
        assert run.state == RunState.succeeded, run.error
        assert run.attempt == 2 and run.restarts == 1
        assert resumed_from(p, run_id, 2) >= 20
        assert agent.poll() is None
        log = p.agent_log("cut-off")
        assert "Traceback" not in log, log[-3000:]
        # The operator reads one line when the database goes and one when it is back, not the
        # driver's multi-line error from every loop several times a second.
        assert log.count("database unreachable while") == 1, log[-3000:]
        assert log.count("database reachable again after") == 1, log[-3000:]
        assert "This probably means" not in log  # the driver's continuation lines
    finally:
        proxy.close()
