"""What the client says when it cannot do what was asked: no traceback, a message that says
what to do, and the documented exit code."""

from __future__ import annotations

from tests.client.conftest import ADMIN_TOKEN, Cli, Dashboard
from tests.liveserver import free_port
from visionyard.exitcodes import EXIT_NOT_LOGGED_IN, EXIT_UNREACHABLE


def test_connection_refused_names_the_url_and_how_to_start_a_dashboard(bare_cli: Cli) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    for args in (["runs", "list"], ["runs", "show", "1"], ["datasets", "list"]):
        done = bare_cli(*args, VISIONYARD_URL=url, VISIONYARD_TOKEN="anything")
        assert done.returncode == EXIT_UNREACHABLE, done.stderr
        assert f"cannot reach the dashboard at {url}" in done.stderr
        assert "visionyard serve" in done.stderr and "Traceback" not in done.stderr
    login = bare_cli("login", "--url", url, "--token", "anything")
    assert login.returncode == EXIT_UNREACHABLE and url in login.stderr


def test_no_credentials_or_bad_ones_say_to_log_in(dashboard: Dashboard, bare_cli: Cli) -> None:
    none = bare_cli("runs", "list", VISIONYARD_URL=dashboard.url)
    assert none.returncode == EXIT_NOT_LOGGED_IN
    assert "visionyard login" in none.stderr and "VISIONYARD_TOKEN" in none.stderr
    bad = bare_cli("runs", "list", VISIONYARD_URL=dashboard.url, VISIONYARD_TOKEN="vy_wrong")
    assert bad.returncode == EXIT_NOT_LOGGED_IN
    assert "visionyard login" in bad.stderr and "VISIONYARD_TOKEN" in bad.stderr
    assert "invalid or expired API token" in bad.stderr  # the dashboard's own reason
    good = bare_cli("runs", "list", VISIONYARD_URL=dashboard.url, VISIONYARD_TOKEN=ADMIN_TOKEN)
    assert good.returncode == 0, good.stderr


def test_a_url_that_is_not_http_is_refused_before_any_request(bare_cli: Cli) -> None:
    done = bare_cli("runs", "list", VISIONYARD_URL="localhost:8000", VISIONYARD_TOKEN="x")
    assert done.returncode == 2 and "must start with http:// or https://" in done.stderr
