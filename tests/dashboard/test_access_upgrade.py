"""A dashboard started on a database the release without project roles wrote
(tests/db/fixtures/release-0002.sqlite): creators own their projects, admins keep access to
every project, other users see only their own, and tokens made before keep working."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from visionyard.dashboard.app import create_app
from visionyard.settings import Settings

API = "/api/v1"
RELEASE_0002 = Path(__file__).parents[1] / "db" / "fixtures" / "release-0002.sqlite"
ALICE_TOKEN = "vy_VwBgZs7YWCZW-8qPSWe5ynOFAKN1bBecI0AZX_RRJC4"  # see fixtures/README.md


def log_in(app: object, username: str) -> TestClient:
    client = TestClient(app)  # type: ignore[arg-type]
    answer = client.post(
        f"{API}/auth/login",
        json={"username": username, "password": f"{username}-password-0002"},
    )
    assert answer.status_code == 200, answer.text
    return client


def test_a_flat_release_database_upgrades_to_roles(
    tmp_path: Path, settings_factory: Callable[..., Settings]
) -> None:
    copy = tmp_path / "release.sqlite"
    shutil.copyfile(RELEASE_0002, copy)
    # SQLite upgrades itself at start; the admin password of that release is kept.
    app = create_app(settings_factory(f"sqlite:///{copy}", admin_token=None))
    with TestClient(app):
        admin = log_in(app, "admin")
        names = sorted(p["name"] for p in admin.get(f"{API}/projects").json()["items"])
        assert names == ["alpha", "beta", "orphan"]  # admins keep every project
        assert {p["role"] for p in admin.get(f"{API}/projects").json()["items"]} == {"owner"}

        alice = TestClient(app, headers={"Authorization": f"Bearer {ALICE_TOKEN}"})
        mine = alice.get(f"{API}/projects").json()["items"]
        assert [(p["name"], p["role"]) for p in mine] == [("alpha", "owner")]
        alpha = mine[0]["id"]
        # Her token from before the upgrade is a write token: she can share her project.
        shared = alice.put(f"{API}/projects/{alpha}/members",
                           json={"username": "carol", "role": "viewer"})  # fmt: skip
        assert shared.status_code == 200, shared.text

        bob = log_in(app, "bob")
        assert [p["name"] for p in bob.get(f"{API}/projects").json()["items"]] == ["beta"]
        assert bob.get(f"{API}/projects/{alpha}").status_code == 404
        carol = log_in(app, "carol")
        assert [p["role"] for p in carol.get(f"{API}/projects").json()["items"]] == ["viewer"]
        # The project nobody is known to have created: an admin gives it an owner.
        orphan = next(
            p["id"] for p in admin.get(f"{API}/projects").json()["items"] if p["name"] == "orphan"
        )
        csrf = {"X-CSRF-Token": admin.cookies.get("vy_csrf") or ""}
        adopted = admin.put(f"{API}/projects/{orphan}/members",
                            json={"username": "carol", "role": "owner"}, headers=csrf)  # fmt: skip
        assert adopted.status_code == 200, adopted.text
        assert len(carol.get(f"{API}/projects").json()["items"]) == 2
    app.state.vy.engine.dispose()
