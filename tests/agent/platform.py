"""A real platform for agent tests: a migrated database, shared storage folders holding the real
digits dataset and a tiny local model, an agent token, and agents as real subprocesses."""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psutil
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from visionyard import runqueue
from visionyard.agent.launch import AgentDevices, Launch, prepare_launch
from visionyard.agent.supervisor import Control, Outcome, Supervision, SupervisionOptions
from visionyard.dashboard.repositories.runs import metric_names
from visionyard.dashboard.services.auth import create_token, create_user
from visionyard.db.engine import make_engine
from visionyard.db.models import CheckpointRecord, Project, Run, RunEvent
from visionyard.runqueue import ClaimedRun
from visionyard.runqueue.metric_chunks import read_points

T = TypeVar("T")
LEASE_SECONDS = 6.0
#: a short heartbeat for liveness tests (the default is a third of the lease); the `api`
#: fixture's dashboard uses it, agents get it with `start_agent(..., **HEARTBEAT_ENV)`
HEARTBEAT = 1.0
HEARTBEAT_ENV = {"VISIONYARD_HEARTBEAT_INTERVAL": str(HEARTBEAT)}
PASSWORD = "a-long-password"


def copy_digits(digits_root: Path, dest: Path, *, classes: int = 10, per_class: int = 40) -> Path:
    """A slice of the real digits dataset (train per_class, val/test a quarter of it)."""
    for split, count in (("train", per_class), ("val", max(4, per_class // 4)), ("test", 4)):
        for cls in sorted(p.name for p in (digits_root / split).iterdir())[:classes]:
            target = dest / split / cls
            target.mkdir(parents=True, exist_ok=True)
            for image in sorted((digits_root / split / cls).iterdir())[:count]:
                shutil.copy(image, target / image.name)
    return dest


@dataclass
class Platform:
    url: str
    base: Path
    engine: Engine
    #: the agents' token (it reaches no API route)
    token: str
    project_id: int
    #: a token of the same (admin) user for the API and the WebSocket
    api_token: str
    agents: list[subprocess.Popen] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return self.base / "data"

    @property
    def datasets(self) -> Path:
        return self.base / "datasets"

    @property
    def models(self) -> Path:
        return self.base / "models"

    @property
    def runs(self) -> Path:
        return self.base / "runs"

    # ---- processes ------------------------------------------------------------------------------

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("VISIONYARD_", "DASHBOARD_"))
        }
        env.update(
            DASHBOARD_DB_URL=self.url,
            VISIONYARD_DATA_DIR=str(self.data_dir),
            DATASETS_DIR=str(self.datasets),
            VISIONYARD_MODELS_DIR=str(self.models),
            VISIONYARD_RUNS_DIR=str(self.runs),
            VISIONYARD_LEASE_SECONDS=str(LEASE_SECONDS),
            VISIONYARD_REAPER_INTERVAL="0.5",
            VISIONYARD_AGENT_TOKEN=self.token,
            VISIONYARD_AGENT_IDLE_WAIT="0.5",
            VISIONYARD_AGENT_SAMPLE_INTERVAL="1",
            VISIONYARD_AGENT_STOP_GRACE_SECONDS="20",
            HF_HUB_OFFLINE="1",
            OMP_NUM_THREADS="1",
        )
        env.update(extra)
        return env

    def start_agent(self, name: str, *args: str, **env: str) -> subprocess.Popen:
        with open(self.base / f"agent-{name}.log", "ab") as log:  # the child keeps its copy
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "visionyard.cli",
                    "agent",
                    "--device",
                    "cpu",
                    "--name",
                    name,
                    *args,
                ],
                env=self.env(**env),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.agents.append(proc)
        return proc

    def trainers(self, run_id: int, attempt: int) -> list[psutil.Process]:
        """The live trainer processes of one attempt of one run of THIS platform: matched by the
        absolute path of the attempt's config, so another test session's run 1 is never taken
        for this one's."""
        config = self.runs.resolve() / f"{run_id}-run" / "agent" / f"attempt-{attempt}.config.json"
        return trainer_processes(str(config))

    def supervise_script(
        self,
        agent_id: int,
        claimed: ClaimedRun,
        script: str,
        *,
        agent_env: dict[str, str],
        options: SupervisionOptions,
        hf_token: str | None = None,
    ) -> tuple[Launch, Outcome]:
        """One claimed attempt under real supervision in this process, prepared as an agent
        prepares it, with `python -c script` standing in for the trainer command."""
        launch = prepare_launch(
            run_id=claimed.id,
            attempt=claimed.attempt,
            run_dir=claimed.run_dir,
            gpu_count=0,
            snapshot=claimed.config_snapshot,
            runs_root=self.runs,
            datasets_root=self.datasets,
            models_root=self.models,
            devices=AgentDevices(),
            agent_env=agent_env,
            supervisor_timeout=5,
            liveness_dir=self.base / "alive",
            hf_token=hf_token,
        )
        launch = dataclasses.replace(launch, argv=[sys.executable, "-c", script])
        supervision = Supervision(
            self.engine, agent_id=agent_id, launch=launch, options=options, control=Control()
        )
        return launch, supervision.run()

    def agent_log(self, name: str) -> str:
        path = self.base / f"agent-{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop_agents(self) -> None:
        for proc in self.agents:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.agents:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)

    # ---- the queue ------------------------------------------------------------------------------

    def config(self, **overrides: Any) -> dict[str, Any]:
        cfg = {
            "root": str(self.datasets / "digits"),
            "model_flavour": str(self.models / "tiny-resnet"),
            "epochs": 2,
            "batch_size": 16,
            "lr": 2e-3,
            "num_workers": 0,
            "eval_topk": [1],
            "train_preset": "light",
            "seed": 0,
            "log_every_steps": 1,
        }
        cfg.update(overrides)
        return cfg

    def enqueue(self, config: dict[str, Any], *, name: str = "run", **fields: Any) -> int:
        run_id = runqueue.enqueue(
            self.engine,
            project_id=self.project_id,
            name=name,
            config_snapshot=config,
            config_hash=f"hash-{time.time_ns()}",
            **fields,
        )
        with Session(self.engine) as session, session.begin():
            session.get(Run, run_id).run_dir = f"{run_id}-{name}"  # what the dashboard does
        return run_id

    def run(self, run_id: int) -> Run:
        with Session(self.engine, expire_on_commit=False) as session:
            return session.get(Run, run_id)

    def metric_points(self, run_id: int, name: str | None = None) -> list[tuple[int, str, int]]:
        """(attempt, name, step) of every stored metric point of the run (of `name` only when
        given), in name, attempt and step order."""
        with Session(self.engine) as session:
            names = {name} if name else set(metric_names(session, run_id))
            found = read_points(session, [run_id], names)
        return sorted(
            (attempt, metric, step)
            for (_, metric), points in found.items()
            for attempt, step in zip(points.attempts.tolist(), points.steps.tolist(), strict=True)
        )

    def events(self, run_id: int, kind: str | None = None) -> list[RunEvent]:
        with Session(self.engine) as session:
            query = select(RunEvent).where(RunEvent.run_id == run_id).order_by(RunEvent.id)
            if kind is not None:
                query = query.where(RunEvent.kind == kind)
            return list(session.scalars(query))

    def checkpoints(self, run_id: int) -> list[CheckpointRecord]:
        with Session(self.engine) as session:
            return list(
                session.scalars(
                    select(CheckpointRecord)
                    .where(CheckpointRecord.run_id == run_id)
                    .order_by(CheckpointRecord.id)
                )
            )

    def wait_for(self, what: str, probe: Callable[[], T], timeout: float = 120.0) -> T:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = probe()
            if value:
                return value
            time.sleep(0.2)
        logs = "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted(self.base.glob("agent-*.log"))
        )
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{logs}")

    def wait_state(self, run_id: int, *states: str, timeout: float = 180.0) -> Run:
        return self.wait_for(
            f"run {run_id} to reach {states}",
            lambda: (run := self.run(run_id)).state.value in states and run,
            timeout,
        )


def trainer_processes(marker: str) -> list[psutil.Process]:
    """Live processes whose command line mentions `marker` (e.g. a run's config path)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            if proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if any(marker in part for part in proc.info["cmdline"] or []):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def make_platform(
    url: str, base: Path, digits_root: Path, write_model: Callable[[Path], Path]
) -> Iterator[Platform]:
    base.mkdir(parents=True, exist_ok=True)
    copy_digits(digits_root, base / "datasets" / "digits")
    write_model(base / "models" / "tiny-resnet")
    (base / "runs").mkdir()
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        user = create_user(session, "owner", PASSWORD, is_admin=True)
        _, secret = create_token(session, user, "agents", kind="agent")
        _, api_secret = create_token(session, user, "tests", kind="user")
        project = Project(name="agents")
        session.add(project)
        session.flush()
        project_id = project.id
    platform = Platform(url, base, engine, secret, project_id, api_secret)
    try:
        yield platform
    finally:
        platform.stop_agents()
        engine.dispose()
