"""The agent's choice of devices, and what it costs to make."""

from __future__ import annotations

from pathlib import Path

import pytest

from visionyard.agent import bootstrap
from visionyard.agent.bootstrap import build_agent, resolve_devices
from visionyard.agent.gpus import GpuInfo
from visionyard.agent.launch import AgentDevices
from visionyard.agent.options import AgentOptions
from visionyard.db.engine import make_engine
from visionyard.errors import ConfigError
from visionyard.settings import Settings

GPU = GpuInfo(
    index=0, name="Test GPU", memory_total_mb=1024, uuid="GPU-x", compute_capability="9.0"
)


def _never() -> list[GpuInfo]:
    raise AssertionError("a CPU agent listed the machine's GPUs")


def test_a_cpu_agent_does_not_list_the_gpus(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without NVML, listing GPUs is a child process importing torch: seconds at every start."""
    assert resolve_devices("cpu", None, _never) == (AgentDevices(), [])
    with pytest.raises(ConfigError, match="not both"):
        resolve_devices("cpu", "0", _never)
    monkeypatch.setattr(bootstrap, "discover_gpus", _never)
    engine = make_engine(sqlite_url)
    try:
        settings = Settings(data_dir=tmp_path / "data")
        agent = build_agent(engine, settings, AgentOptions(name="cpu-agent"), device="cpu")
        assert agent.setup.devices.is_cpu and agent.setup.gpus == []
    finally:
        engine.dispose()


def test_auto_takes_the_one_gpu_discovered_or_the_cpu() -> None:
    assert resolve_devices("auto", None, lambda: [GPU]) == (AgentDevices((0,)), [GPU])
    assert resolve_devices("auto", None, lambda: []) == (AgentDevices(), [])
