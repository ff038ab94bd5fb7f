"""Readers of a finished run's folder, for the tests that train through `train()`."""

from __future__ import annotations

import json
from pathlib import Path


def read_events(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


def results(run_dir: Path) -> dict:
    return json.loads((run_dir / "results.json").read_text())
