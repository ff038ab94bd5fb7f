"""`visionyard login` / `logout` against a live dashboard: credentials are checked there and
stored readable only by the user; the environment overrides the stored file."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from tests.client.conftest import ADMIN_PASSWORD, ADMIN_TOKEN, Cli, Dashboard
from visionyard.exitcodes import EXIT_NOT_LOGGED_IN


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_login_with_a_password_stores_a_new_token_0600_and_logout_revokes_it(
    dashboard: Dashboard, bare_cli: Cli
) -> None:
    done = bare_cli("login", "--url", dashboard.url + "/", input=f"admin\n{ADMIN_PASSWORD}\n")
    assert done.returncode == 0, done.stderr
    assert f"logged in to {dashboard.url} as admin" in done.stdout
    assert ADMIN_PASSWORD not in done.stdout + done.stderr
    folder = bare_cli.config_home / "visionyard"
    stored_file = folder / "credentials.json"
    assert _mode(folder) == 0o700 and _mode(stored_file) == 0o600
    stored = json.loads(stored_file.read_text())
    assert stored["url"] == dashboard.url
    assert stored["token"] != ADMIN_TOKEN  # a token of its own, made from the login session
    mine = dashboard.api("GET", "/tokens", params={"limit": 200}).json()["items"]
    created = [t for t in mine if t["id"] == int(stored["token_id"])]
    assert created and created[0]["name"].startswith("visionyard-cli@")

    # Later commands need neither URL nor token in the environment.
    listed = bare_cli("runs", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert isinstance(json.loads(listed.stdout), list)

    out = bare_cli("logout")
    assert out.returncode == 0, out.stderr
    assert not stored_file.exists()
    revoked = dashboard.api("GET", "/tokens", params={"limit": 200}).json()["items"]
    assert [t["revoked_at"] for t in revoked if t["id"] == int(stored["token_id"])] != [None]
    again = bare_cli("runs", "list")
    assert again.returncode == EXIT_NOT_LOGGED_IN
    assert "visionyard login" in again.stderr


def test_login_with_a_token_checks_it_first(dashboard: Dashboard, bare_cli: Cli) -> None:
    bad = bare_cli("login", "--url", dashboard.url, "--token", "vy_not-a-real-token")
    assert bad.returncode == EXIT_NOT_LOGGED_IN
    assert "visionyard login" in bad.stderr and "Traceback" not in bad.stderr
    assert not (bare_cli.config_home / "visionyard" / "credentials.json").exists()

    good = bare_cli("login", "--url", dashboard.url, "--token", ADMIN_TOKEN)
    assert good.returncode == 0, good.stderr
    stored = json.loads((bare_cli.config_home / "visionyard" / "credentials.json").read_text())
    assert stored == {"url": dashboard.url, "token": ADMIN_TOKEN}


def test_a_wrong_password_is_refused_and_stores_nothing(
    dashboard: Dashboard, bare_cli: Cli
) -> None:
    done = bare_cli("login", "--url", dashboard.url, "-u", "admin", "--password", "wrong-one")
    assert done.returncode == EXIT_NOT_LOGGED_IN
    assert "wrong username or password" in done.stderr and "Traceback" not in done.stderr
    assert not (bare_cli.config_home / "visionyard").exists()


def test_environment_overrides_the_stored_credentials(dashboard: Dashboard, bare_cli: Cli) -> None:
    assert bare_cli("login", "--url", dashboard.url, "--token", ADMIN_TOKEN).returncode == 0
    overridden = bare_cli("runs", "list", VISIONYARD_TOKEN="vy_revoked-or-unknown")
    assert overridden.returncode == EXIT_NOT_LOGGED_IN
    assert "VISIONYARD_TOKEN" in overridden.stderr
    # Another URL in the environment: the stored token (for the stored URL) is not sent there.
    elsewhere = bare_cli("runs", "list", VISIONYARD_URL="http://127.0.0.1:9")
    assert elsewhere.returncode != 0 and "not logged in to http://127.0.0.1:9" in elsewhere.stderr
