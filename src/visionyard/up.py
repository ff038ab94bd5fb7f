"""`visionyard up`: the whole platform on one machine with one command.

`up` starts and watches two kinds of child processes (`visionyard.up_children`): the dashboard
(`visionyard serve`) and one agent per visible GPU (or one CPU agent), authenticated by an agent
token minted for this start (the previous start's token is revoked). Each child is tied to `up`
(PDEATHSIG): whatever kills `up` takes them along.

- An agent that dies is logged and started again with a back-off; the run it held is re-queued
  by its next life at once and resumes from its checkpoint.
- The dashboard that dies without being asked (a crash, a kill, a start that failed) is the
  platform going down: `up` logs it, stops the agents (running trainers checkpoint, their runs
  go back to the queue) and exits with `EXIT_DASHBOARD_DIED` (69). The dashboard used to run
  inside `up`, where nothing could tell its death apart from `up`'s own.
- On Ctrl-C / SIGTERM the dashboard stops first, then each agent gets one SIGTERM and drains;
  a second Ctrl-C makes the agents kill their trainers at once.

The first start creates the admin account. Unless VISIONYARD_ADMIN_PASSWORD is set, its password
is generated and kept in `<data_dir>/initial-admin-password` (mode 0600) so that it can be shown
again on later starts; delete that file once you keep the password elsewhere.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import sys
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from pydantic import SecretStr
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from visionyard.dashboard.services.auth import announce_generated, bootstrap_admin, create_token
from visionyard.dashboard.webui import ui_is_served
from visionyard.db.engine import make_engine
from visionyard.db.migrate import ensure_schema
from visionyard.db.models import ApiToken, User
from visionyard.errors import ConflictError
from visionyard.exitcodes import EXIT_DASHBOARD_DIED
from visionyard.settings import Settings, allowed_hosts_hint
from visionyard.up_children import (
    DASHBOARD_STOP_SECONDS,
    Child,
    LocalAgents,
    child_env,
    describe_exit,
)

log = logging.getLogger("visionyard.up")

PASSWORD_FILE = "initial-admin-password"
AGENT_TOKEN_NAME = "visionyard-up"
#: how often `up` looks at its children
WATCH_INTERVAL = 0.2


@dataclass(frozen=True)
class Login:
    username: str
    password: str | None  # None: set by the operator (VISIONYARD_ADMIN_PASSWORD), not shown
    password_file: Path | None


def admin_login(settings: Settings) -> tuple[Settings, Login]:
    """Decide the admin password before the dashboard bootstraps the account."""
    if settings.admin_password is not None:
        return settings, Login("admin", None, None)
    path = settings.data_dir / PASSWORD_FILE
    engine = make_engine(settings.database_url)
    try:
        ensure_schema(engine, auto_upgrade=engine.dialect.name == "sqlite")
        with Session(engine) as session:
            users = session.scalar(select(func.count()).select_from(User)) or 0
    finally:
        engine.dispose()
    if users == 0:
        password = secrets.token_urlsafe(15)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(password + "\n")
        settings = settings.model_copy(update={"admin_password": SecretStr(password)})
        return settings, Login("admin", password, path)
    if path.is_file():
        return settings, Login("admin", path.read_text().strip(), path)
    return settings, Login("admin", None, None)


def mint_agent_token(settings: Settings) -> str:
    """A fresh agent token for this start's local agents; earlier ones are revoked. The admin
    owns it, so the first start creates the admin account here, as the dashboard would (which
    then finds it), and prints what it generated."""
    engine = make_engine(settings.database_url)
    try:
        ensure_schema(engine, auto_upgrade=engine.dialect.name == "sqlite")
        with Session(engine) as session, session.begin():
            generated = bootstrap_admin(
                session,
                password=_secret(settings.admin_password),
                token=_secret(settings.admin_token),
            )
            admin = session.scalar(select(User).where(User.username == "admin"))
            if admin is None:
                raise ConflictError(
                    "the database has users but no 'admin' account, which `visionyard up` "
                    "gives its agents' token to; create a user named admin, or start the "
                    "dashboard and agents separately (`visionyard serve`, `visionyard agent`)"
                )
            session.execute(
                update(ApiToken)
                .where(ApiToken.name == AGENT_TOKEN_NAME, ApiToken.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
            _, secret = create_token(session, admin, AGENT_TOKEN_NAME, kind="agent")
    finally:
        engine.dispose()
    announce_generated(generated)
    return secret


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def _banner(url: str, login: Login, agents: list[str], settings: Settings) -> str:
    if login.password is not None:
        who = f"user {login.username!r}, password {login.password}"
        if login.password_file is not None:
            who += f"  (kept in {login.password_file}; delete it once you store it elsewhere)"
    else:
        who = f"user {login.username!r} with the password you set (VISIONYARD_ADMIN_PASSWORD)"
    hint = allowed_hosts_hint(settings)
    ui = (
        f"{url}  (open it in a browser)"
        if ui_is_served(settings.web_ui_dir)
        else "not built: run `make ui` (needs Node.js 20+), then restart"
    )
    return "\n".join(
        [
            "",
            f"  Visionyard is up: {url}",
            f"  web UI:    {ui}",
            f"  log in:    {who}",
            f"  API:       {url}api/v1  (interactive docs: {url}api/v1/docs)",
            f"  agents:    {', '.join(agents)}",
            f"  database:  {settings.database_url.split('@')[-1]}",
            f"  runs:      {settings.runs_root}",
            "  stop:      Ctrl-C (running trainers checkpoint; their runs go back to the queue)",
            *([f"  {hint}"] if hint else []),
            "",
        ]
    )


def _demo_thread(
    stop: threading.Event,
    settings: Settings,
    url: str,
    password: str,
    gpu_count: int,
    exit_after: bool,
    result: dict[str, str],
) -> None:
    from visionyard.demo_seed import run_results, seed_demo, wait_for_run

    try:
        demo = seed_demo(url, settings, password, gpu_count=gpu_count)
        run_id = demo.id
        # The run's page when the UI is built, otherwise its API resource.
        where = (
            f"{url}run/?id={run_id}"
            if ui_is_served(settings.web_ui_dir)
            else f"{url}api/v1/runs/{run_id}"
        )
        if demo.queued_now:
            print(
                f"  demo:      run {run_id} queued; watch it live at {where} "
                f"(API: {url}api/v1/runs/{run_id}, metrics: {url}api/v1/runs/{run_id}/metrics)",
                flush=True,
            )
        else:
            print(
                f"  demo:      earlier demo run {run_id} exists ({demo.state}): "
                f"{where}; not queuing another "
                f"(a fresh one: re-queue it there, or POST {url}api/v1/runs/{run_id}/requeue)",
                flush=True,
            )
        if not exit_after:
            return
        # a finished earlier run is reported at once; a queued or running one is waited for
        run = wait_for_run(url, password, run_id)
        result["state"] = run["state"]
        if run["state"] == "succeeded":
            scalars = (run_results(url, password, run_id).get("test") or {}).get("scalars", {})
            shown = ", ".join(
                f"{k} {scalars[k]:.3f}" for k in ("acc@1", "f1_macro") if k in scalars
            )
            print(f"  demo run {run_id} succeeded; test {shown}", flush=True)
        else:
            print(f"  demo run {run_id} {run['state']}: {run.get('error')}", flush=True)
    except Exception as exc:  # reported, and the platform is stopped with a failure code
        result["state"] = f"error: {exc}"
        print(f"  demo failed: {exc}", flush=True)
    finally:
        if exit_after:
            stop.set()


def _shared_env(settings: Settings) -> dict[str, str]:
    """What every child must agree on with `up`: the database and the shared folders."""
    return {
        "DASHBOARD_DB_URL": settings.database_url,
        "VISIONYARD_DATA_DIR": str(settings.data_dir),
        "DATASETS_DIR": str(settings.datasets_root),
        "VISIONYARD_RUNS_DIR": str(settings.runs_root),
        "VISIONYARD_MODELS_DIR": str(settings.models_root),
    }


def dashboard_child(settings: Settings) -> Child:
    """`visionyard serve` on up's host and port. The admin account exists already
    (`mint_agent_token`), so a generated password is not handed down."""
    env = _shared_env(settings)
    argv = [sys.executable, "-m", "visionyard.cli", "serve", "--host", settings.host]
    argv += ["--port", str(settings.port), "--log-level", "warning"]
    return Child("the dashboard", argv, child_env(env, drop=("VISIONYARD_AGENT_TOKEN",)))


def answers(url: str) -> bool:
    """Does the dashboard answer HTTP at `url` (any status: a Host allowlist may refuse us)?"""
    try:
        with urllib.request.urlopen(url + "api/v1/health", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def _probe_url(settings: Settings) -> str:
    host = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(settings.host, settings.host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings.port}/"


class _StopRequests:
    """Ctrl-C / SIGTERM: the first one stops the platform, a second one hurries the agents."""

    def __init__(self, agents: LocalAgents) -> None:
        self.agents = agents
        self.event = threading.Event()

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        if self.event.is_set():
            log.warning("%s again: the agents kill their trainers now", signal.Signals(signum).name)
            self.agents.hurry()
            return
        self.event.set()

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self)


def run_platform(
    overrides: dict[str, Any],
    *,
    cpu_only: bool = False,
    demo: bool = False,
    exit_after_demo: bool = False,
) -> int:
    """Run until interrupted (or, with exit_after_demo, until the demo run ends, or until the
    dashboard dies: EXIT_DASHBOARD_DIED)."""
    from visionyard.ports import ensure_port_free
    from visionyard.settings import load_settings

    settings = load_settings(**overrides)
    # before the admin login, the agents and the banner: a taken port stops here with exit code 2
    ensure_port_free(settings.host, settings.port)
    settings, login = admin_login(settings)
    token = mint_agent_token(settings)
    agents_env = child_env(
        _shared_env(settings) | {"VISIONYARD_AGENT_TOKEN": token}, ("GPU_INDEX",)
    )
    agents = LocalAgents(agents_env, cpu_only=cpu_only)
    stop = _StopRequests(agents)
    stop.install()
    dashboard = dashboard_child(settings)
    url = f"http://{settings.host}:{settings.port}/"
    result: dict[str, str] = {}
    died: int | None = None
    try:
        dashboard.start()
        names = agents.start()
        up = False
        while not stop.event.is_set():
            died = dashboard.exit_code()
            if died is not None:
                break
            agents.watch()
            if not up and answers(_probe_url(settings)):
                up = True
                print(_banner(url, login, names, settings), flush=True)
                if demo:
                    _start_demo(stop.event, settings, login, url, names, exit_after_demo, result)
            stop.event.wait(WATCH_INTERVAL)
        if died is not None:
            when = "while running" if up else "before it answered"
            log.error(
                "the dashboard (pid %s) died %s: %s; stopping the agents (their runs go back to "
                "the queue). Its last messages above say why; start `visionyard up` again.",
                dashboard.pid,
                when,
                describe_exit(died),
            )
    finally:
        dashboard.signal(signal.SIGTERM)
        dashboard.wait_or_kill(DASHBOARD_STOP_SECONDS)
        agents.stop()
    if died is not None:
        return EXIT_DASHBOARD_DIED
    if exit_after_demo:
        return 0 if result.get("state") == "succeeded" else 1
    return 0


def _start_demo(
    stop: threading.Event,
    settings: Settings,
    login: Login,
    url: str,
    names: list[str],
    exit_after: bool,
    result: dict[str, str],
) -> None:
    password = login.password or (
        settings.admin_password.get_secret_value() if settings.admin_password else ""
    )
    gpu_count = 0 if len(names) == 1 and names[0].endswith("-cpu") else 1
    threading.Thread(
        target=_demo_thread,
        args=(stop, settings, url, password, gpu_count, exit_after, result),
        daemon=True,
    ).start()
