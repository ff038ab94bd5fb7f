"""Resolving an agent from settings and command-line choices, and running it."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import OperationalError

from visionyard.agent.gpus import GpuInfo, discover_gpus, gpu_compute_pids
from visionyard.agent.launch import AgentDevices
from visionyard.agent.options import AgentOptions, parse_gpu_indices
from visionyard.agent.sampler import SystemSampler
from visionyard.agent.service import Agent, AgentSetup
from visionyard.agent.supervisor import SupervisionOptions
from visionyard.errors import ConfigError, DatabaseUnavailableError
from visionyard.runqueue._db import DB
from visionyard.settings import Settings, load_settings

log = logging.getLogger("visionyard.agent")


def resolve_devices(
    device: str, gpu_index: str | None, discover: Callable[[], list[GpuInfo]]
) -> tuple[AgentDevices, list[GpuInfo]]:
    """`device` is "cpu" or "auto"; `gpu_index` picks GPUs by physical index. `discover` lists
    the machine's GPUs, and is called only when the answer matters: a CPU agent does not pay for
    it (without NVML it is a child process that imports torch, seconds at every start)."""
    if device == "cpu":
        if gpu_index:
            raise ConfigError("give either --device cpu or --gpu-index (GPU_INDEX), not both")
        return AgentDevices(), []
    if device != "auto":
        raise ConfigError(f"--device must be 'auto' or 'cpu', got {device!r}")
    gpus = discover()
    by_index = {gpu.index: gpu for gpu in gpus}
    if gpu_index:
        try:
            indices = parse_gpu_indices(gpu_index)
        except ValueError as exc:
            raise ConfigError(f"--gpu-index / GPU_INDEX: {exc}") from None
        missing = [i for i in indices if i not in by_index]
        if missing:
            found = ", ".join(f"{g.index} ({g.name})" for g in gpus) or "none"
            raise ConfigError(
                f"GPU index {missing} not found on this machine (GPUs found: {found}); pick "
                "another --gpu-index, or --device cpu"
            )
        return AgentDevices(indices), [by_index[i] for i in indices]
    if not gpus:
        return AgentDevices(), []
    if len(gpus) > 1:
        raise ConfigError(
            f"this machine has {len(gpus)} GPUs: start one agent per GPU with --gpu-index N "
            "(`visionyard up` does that), or --gpu-index 0,1,... for one agent serving "
            "multi-GPU runs"
        )
    return AgentDevices((gpus[0].index,)), gpus


def default_name(devices: AgentDevices) -> str:
    host = "".join(c if c.isalnum() or c in "._-" else "-" for c in socket.gethostname())[:100]
    if devices.is_cpu:
        return f"{host}-cpu"
    return f"{host}-gpu" + "-".join(map(str, devices.gpu_indices))


def busy_reason(indices: tuple[int, ...]) -> str | None:
    """Why the agent's GPUs cannot take a run now (a process it did not start uses one).
    Checked only while idle, so every compute process on the GPU is foreign."""
    for index in indices:
        pids = gpu_compute_pids(index)
        if pids:
            return (
                f"GPU {index} is in use by process(es) {sorted(pids)} that this agent did not "
                "start; waiting until it is free"
            )
    return None


def build_agent(
    db: DB,
    settings: Settings,
    options: AgentOptions,
    *,
    device: str = "auto",
    check_credential: Callable[[], object] | None = None,
) -> Agent:
    devices, chosen = resolve_devices(device, options.gpu_index, discover_gpus)
    setup = AgentSetup(
        name=options.name or default_name(devices),
        devices=devices,
        gpus=[gpu.as_json() for gpu in chosen],
        runs_root=settings.runs_root,
        datasets_root=settings.datasets_root,
        models_root=settings.models_root,
        data_dir=settings.data_dir,
        secret_key=settings.secret_key.get_secret_value() if settings.secret_key else None,
        lease_seconds=settings.lease_seconds,
        heartbeat_interval=settings.heartbeat_seconds,
        reaper_interval=settings.reaper_interval,
        idle_wait=options.idle_wait,
        supervision=SupervisionOptions(
            lease_seconds=settings.lease_seconds,
            stop_grace_seconds=options.stop_grace_seconds,
            max_log_bytes=options.max_log_bytes,
            sample_interval=options.sample_interval,
        ),
    )
    return Agent(
        db,
        setup,
        sampler=SystemSampler(devices.gpu_indices),
        busy_gpus=lambda: busy_reason(devices.gpu_indices),
        check_credential=check_credential,
    )


def agent_idle_transaction_limit(settings: Settings) -> float:
    """How long the database lets an agent's transaction wait on the agent: half the lease, so a
    frozen agent's row locks are gone by the time its lease expires and the run can be reaped."""
    return settings.lease_seconds / 2


def run_agent(
    *,
    db_url: str | None,
    device: str,
    options: dict[str, Any],
    ready: Callable[[str], None] = log.info,
) -> int:
    """`visionyard agent`: authenticate, register, serve until drained; the exit code."""
    from visionyard.agent.auth import verify_agent_token
    from visionyard.db.engine import driver_message, make_engine
    from visionyard.db.migrate import ensure_schema

    settings = load_settings(**({"db_url": db_url} if db_url else {}))
    try:
        agent_options = AgentOptions(**options)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid agent options: {problems}") from None
    engine = make_engine(
        settings.database_url, idle_in_transaction_seconds=agent_idle_transaction_limit(settings)
    )
    try:
        ensure_schema(engine, auto_upgrade=engine.dialect.name == "sqlite")
        secret = agent_options.token.get_secret_value() if agent_options.token else None
        owner = verify_agent_token(engine, secret)
    except OperationalError as exc:
        raise DatabaseUnavailableError(
            f"cannot reach the database {engine.url.render_as_string(hide_password=True)} "
            f"({driver_message(exc)}); check DASHBOARD_DB_URL / --db-url "
            "and that the server is running"
        ) from None
    agent = build_agent(
        engine,
        settings,
        agent_options,
        device=device,
        check_credential=lambda: verify_agent_token(engine, secret),
    )
    agent.install_signals()
    agent.start()
    ready(f"agent {agent.setup.name!r} ready (token of {owner})")
    try:
        return agent.run()
    finally:
        engine.dispose()
