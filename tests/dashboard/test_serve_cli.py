"""`visionyard serve` and `visionyard db upgrade` as a user runs them (real processes)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.dbutil import pg_admin_url
from tests.liveserver import free_port

CLI = [sys.executable, "-m", "visionyard.cli"]


def test_serve_starts_prints_the_login_once_and_answers(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "VISIONYARD_DATA_DIR": str(tmp_path / "data")}
    env.pop("DASHBOARD_DB_URL", None)
    proc = subprocess.Popen(
        [*CLI, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        health = None
        while time.monotonic() < deadline and health is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health") as r:
                    health = json.load(r)
            except OSError:
                time.sleep(0.2)
        assert health == {"status": "ok", "version": health["version"], "database": "sqlite"}
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/projects")
        try:
            urllib.request.urlopen(req)
            raise AssertionError("an unauthenticated request succeeded")
        except urllib.error.HTTPError as err:
            assert err.code == 401
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=30)
    assert "Save these now" in output and "password:" in output
    assert (tmp_path / "data" / "visionyard.db").is_file()


def test_serve_on_a_port_in_use_exits_2_with_the_port_hint(tmp_path: Path) -> None:
    """A taken port must be reported before the "dashboard on" line."""
    env = {**os.environ, "VISIONYARD_DATA_DIR": str(tmp_path / "data")}
    env.pop("DASHBOARD_DB_URL", None)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*CLI, "serve", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    out = done.stdout + done.stderr
    assert done.returncode == 2, out[-4000:]
    assert "Visionyard dashboard on" not in out
    assert f"port {port} on 127.0.0.1 is already in use" in out and "--port" in out


def test_db_upgrade_migrates_an_empty_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    env = {**os.environ, "DASHBOARD_DB_URL": url, "VISIONYARD_DATA_DIR": str(tmp_path)}
    proc = subprocess.run([*CLI, "db", "upgrade"], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "empty -> " in proc.stdout


@pytest.mark.postgresql
def test_serve_refuses_an_out_of_date_postgresql_schema(tmp_path: Path) -> None:
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin_url = pg_admin_url()
    if admin_url is None:
        pytest.skip("PostgreSQL not reachable")
    name = f"vy_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        env = {**os.environ, "DASHBOARD_DB_URL": url, "VISIONYARD_DATA_DIR": str(tmp_path)}
        proc = subprocess.run(
            [*CLI, "serve", "--port", str(free_port())],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 2
        assert "visionyard db upgrade" in proc.stderr and "Traceback" not in proc.stderr
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
