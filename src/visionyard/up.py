"""`visionyard up`: the whole platform on one machine with one command.

The dashboard runs in this process; one agent per visible GPU (or one CPU agent) runs as a child
process tied to this one (PDEATHSIG), authenticated by an agent token minted for this start (the
previous start's token is revoked). On Ctrl-C / SIGTERM the dashboard stops first, then the
agents drain: running trainers checkpoint and their runs go back to the queue.

The first start creates the admin account. Unless VISIONYARD_ADMIN_PASSWORD is set, its password
is generated and kept in `<data_dir>/initial-admin-password` (mode 0600) so that it can be shown
again on later starts; delete that file once you keep the password elsewhere.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from visionyard.agent.gpus import discover_gpus
from visionyard.agent.process import _die_with_parent
from visionyard.dashboard.services.auth import create_token
from visionyard.db.engine import make_engine
from visionyard.db.migrate import ensure_schema
from visionyard.db.models import ApiToken, User
from visionyard.settings import Settings, allowed_hosts_hint

if TYPE_CHECKING:
    import uvicorn

log = logging.getLogger("visionyard.up")

PASSWORD_FILE = "initial-admin-password"
AGENT_TOKEN_NAME = "visionyard-up"
AGENT_DRAIN_SECONDS = 60.0


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
    """A fresh agent token for this start's local agents; earlier ones are revoked."""
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session, session.begin():
            admin = session.scalar(select(User).where(User.username == "admin"))
            if admin is None:
                raise RuntimeError("the admin account does not exist yet")
            session.execute(
                update(ApiToken)
                .where(ApiToken.name == AGENT_TOKEN_NAME, ApiToken.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
            _, secret = create_token(session, admin, AGENT_TOKEN_NAME, kind="agent")
            return secret
    finally:
        engine.dispose()


class LocalAgents:
    """The agent processes of this machine."""

    def __init__(self, settings: Settings, token: str, *, cpu_only: bool = False) -> None:
        self.settings = settings
        self.token = token
        self.cpu_only = cpu_only
        self.procs: list[subprocess.Popen[bytes]] = []

    def commands(self) -> list[list[str]]:
        base = [sys.executable, "-m", "visionyard.cli", "agent"]
        host = "".join(c if c.isalnum() or c in "._-" else "-" for c in socket.gethostname())[:96]
        gpus = [] if self.cpu_only else discover_gpus()
        if not gpus:
            return [[*base, "--device", "cpu", "--name", f"{host}-cpu"]]
        return [
            [*base, "--gpu-index", str(g.index), "--name", f"{host}-gpu{g.index}"] for g in gpus
        ]

    def start(self) -> list[str]:
        env = dict(os.environ)
        env.update(
            DASHBOARD_DB_URL=self.settings.database_url,
            VISIONYARD_DATA_DIR=str(self.settings.data_dir),
            DATASETS_DIR=str(self.settings.datasets_root),
            VISIONYARD_RUNS_DIR=str(self.settings.runs_root),
            VISIONYARD_MODELS_DIR=str(self.settings.models_root),
            VISIONYARD_AGENT_TOKEN=self.token,
        )
        env.pop("GPU_INDEX", None)
        names = []
        for argv in self.commands():
            self.procs.append(
                # Own session: a Ctrl-C in the terminal reaches `up` only, which then sends each
                # agent exactly one SIGTERM (a second one would mean "kill the trainer now").
                subprocess.Popen(
                    argv,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    preexec_fn=_die_with_parent,
                )
            )
            names.append(argv[-1])
        return names

    def stop(self, timeout: float = AGENT_DRAIN_SECONDS) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _banner(url: str, login: Login, agents: list[str], settings: Settings) -> str:
    if login.password is not None:
        who = f"user {login.username!r}, password {login.password}"
        if login.password_file is not None:
            who += f"  (kept in {login.password_file}; delete it once you store it elsewhere)"
    else:
        who = f"user {login.username!r} with the password you set (VISIONYARD_ADMIN_PASSWORD)"
    hint = allowed_hosts_hint(settings)
    return "\n".join(
        [
            "",
            f"  Visionyard is up: {url}",
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
    server: uvicorn.Server,
    settings: Settings,
    url: str,
    password: str,
    gpu_count: int,
    exit_after: bool,
    result: dict[str, str],
) -> None:
    from visionyard.demo_seed import run_results, seed_demo, wait_for_run

    try:
        while not server.started:
            if server.should_exit:
                return
            time.sleep(0.1)
        demo = seed_demo(url, settings, password, gpu_count=gpu_count)
        run_id = demo.id
        if demo.queued_now:
            print(
                f"  demo:      run {run_id} queued; follow it at {url}api/v1/runs/{run_id} "
                f"(metrics: {url}api/v1/runs/{run_id}/metrics, live: WebSocket {url}api/v1/ws)",
                flush=True,
            )
        else:
            print(
                f"  demo:      earlier demo run {run_id} exists ({demo.state}): "
                f"{url}api/v1/runs/{run_id}; not queuing another "
                f"(a fresh one: POST {url}api/v1/runs/{run_id}/requeue)",
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
            server.should_exit = True


def run_platform(
    overrides: dict[str, Any],
    *,
    cpu_only: bool = False,
    demo: bool = False,
    exit_after_demo: bool = False,
) -> int:
    """Run until interrupted (or, with exit_after_demo, until the demo run ends)."""
    import uvicorn

    from visionyard.dashboard.app import create_app
    from visionyard.ports import ensure_port_free
    from visionyard.settings import load_settings

    settings = load_settings(**overrides)
    # before the admin login, the agents and the banner: a taken port stops here with exit code 2
    ensure_port_free(settings.host, settings.port)
    settings, login = admin_login(settings)
    application = create_app(settings)
    token = mint_agent_token(settings)
    agents = LocalAgents(settings, token, cpu_only=cpu_only)
    names = agents.start()
    url = f"http://{settings.host}:{settings.port}/"
    server = uvicorn.Server(
        uvicorn.Config(application, host=settings.host, port=settings.port, log_level="warning")
    )
    print(_banner(url, login, names, settings), flush=True)
    result: dict[str, str] = {}
    if demo:
        password = login.password or (
            settings.admin_password.get_secret_value() if settings.admin_password else ""
        )
        gpu_count = 0 if cpu_only or len(names) == 1 and names[0].endswith("-cpu") else 1
        threading.Thread(
            target=_demo_thread,
            args=(server, settings, url, password, gpu_count, exit_after_demo, result),
            daemon=True,
        ).start()
    try:
        server.run()
    finally:
        agents.stop()
    if not server.started:
        log.error("the dashboard could not start on %s (is the port in use? try --port)", url)
        return 1
    if exit_after_demo:
        return 0 if result.get("state") == "succeeded" else 1
    return 0
