"""Readers of a finished run's folder, for the tests that train through `train()`."""

from __future__ import annotations

import json
from pathlib import Path


def read_events(run_dir: Path) -> list[dict]:
    """A run's events.jsonl, read as strictly as the event log's own tests read it."""
    return read_events_strictly(run_dir / "events.jsonl")


def results(run_dir: Path) -> dict:
    return json.loads((run_dir / "results.json").read_text())


def strict_loads(line: str) -> dict:
    def reject(token: str) -> None:
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(line, parse_constant=reject)


def read_events_strictly(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    assert text == "" or text.endswith("\n")
    return [strict_loads(line) for line in text.splitlines()]
