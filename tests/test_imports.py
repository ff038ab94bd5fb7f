"""Processes that do not train never import torch (issue: the dashboard and the agent paid for
it at every start). Checked in a fresh interpreter: this test process has torch loaded already.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: what only a process that runs a model may import
HEAVY = ("torch", "torchvision", "torchmetrics", "transformers")

#: modules a non-training process starts from: the dashboard app, the agent, the console
#: script's module (every command's imports are lazy) and what `visionyard up` runs
ENTRY_POINTS = (
    "visionyard.dashboard.app",
    "visionyard.agent.service",
    "visionyard.agent.bootstrap",
    "visionyard.cli",
    "visionyard.up",
    # the terminal client, as each of its commands runs (`runs import` reads a run folder)
    "visionyard.client.commands.runs",
    "visionyard.client.commands.queue",
    "visionyard.client.runfolder",
    "visionyard.client.api",
)

#: torch-free rule modules both sides import
RULE_MODULES = (
    "visionyard.paths",
    "visionyard.text",
    "visionyard.exitcodes",
    "visionyard.secretbox",
    "visionyard.modelsource",
    "visionyard.training.config",
    "visionyard.training.confighash",
    "visionyard.training.metric_registry",
    "visionyard.training.runreader",
    # the dashboard lists and locates checkpoints for model testing before loading any
    "visionyard.analysis.checkpoints",
    "visionyard.dashboard.model_testing.cache",
)


def _heavy_modules_after_importing(module: str) -> list[str]:
    code = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


@pytest.mark.parametrize("module", ENTRY_POINTS + RULE_MODULES)
def test_importing_a_process_that_does_not_train_loads_no_torch(module: str) -> None:
    assert _heavy_modules_after_importing(module) == [], module


def test_the_check_sees_torch_where_it_is_imported() -> None:
    """The control: a training module does pull torch in, so an empty list above means no
    import, not a broken probe."""
    assert "torch" in _heavy_modules_after_importing("visionyard.training.metrics")
