"""Reading a run folder that the trainer wrote, without torch: what it holds, its event log split
into trainer starts, and how it ended.

Two readers share it: `visionyard runs import` checks a folder before uploading it (so a wrong
folder is refused on the user's machine, naming what is missing), and the dashboard reads the
uploaded copy again before registering it (a client is never trusted). Neither may import torch,
so this module reads JSON and nothing else (`visionyard.training.config` validates the config).

Decisions:

- A run folder holds ``config.json`` (the resolved TrainConfig) and ``events.jsonl``; both are
  required. ``results.json`` is written last, only by a run that finished.
- Every trainer start begins with a ``state: starting`` event (`visionyard.training.runner`).
  Each start is one attempt, numbered from 1, exactly as an agent numbers the attempts of a
  queued run; so a run that was stopped and resumed locally is stored like an agent run that was
  drained and resumed, and its metric series keep the resumed start's values where it redid
  steps.
- A torn last line (no newline: the trainer died mid-write) is left out, as the agent's relay
  and the next trainer start do; any other line that is not a JSON event is an error naming its
  line number, because leaving it out would silently drop metrics.
- How it ended: ``results.json`` with ``status: succeeded`` means succeeded; otherwise the last
  ``state`` event decides: ``failed`` (with its error), ``stopped``/``canceled`` (canceled: it
  stopped on request and can be resumed locally), anything else means the trainer died without
  a last word (failed).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from visionyard.errors import ConfigError, RunFolderError

CONFIG_FILE = "config.json"
EVENTS_FILE = "events.jsonl"
RESULTS_FILE = "results.json"
#: the files without which a folder is not a run folder
REQUIRED_FILES = (CONFIG_FILE, EVENTS_FILE)
#: what a run folder holds, for messages that must say what a run folder looks like
LAYOUT_HINT = (
    "a run folder written by `visionyard train` or `python main.py` "
    "(<output_dir>/<run_name>/) holds config.json and events.jsonl, and results.json once the "
    "run finished"
)

FinalState = Literal["succeeded", "failed", "canceled"]


@dataclass(frozen=True)
class Outcome:
    state: FinalState
    error: str | None


@dataclass(frozen=True)
class RunRecord:
    """What a run folder says about its run."""

    config: dict[str, Any]
    events: list[dict[str, Any]]
    results: dict[str, Any] | None
    outcome: Outcome

    @property
    def name(self) -> str:
        name = self.config.get("run_name")
        return name if isinstance(name, str) and name else "imported-run"

    def attempts(self) -> list[list[dict[str, Any]]]:
        return split_attempts(self.events)


def _strict_json(text: str) -> Any:
    def refuse(token: str) -> None:
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=refuse)


def read_json_object(path: Path, what: str) -> dict[str, Any]:
    try:
        data = _strict_json(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RunFolderError(
            f"{what} {path} cannot be read as JSON ({exc}); {LAYOUT_HINT}"
        ) from None
    if not isinstance(data, dict):
        raise RunFolderError(f"{what} {path} must hold one JSON object; {LAYOUT_HINT}")
    return data


def parse_events(data: bytes, *, source: str) -> list[dict[str, Any]]:
    """The events of an events.jsonl's content (see the module docstring for the torn tail)."""
    cut = data.rfind(b"\n")
    whole = data[: cut + 1] if cut >= 0 else b""
    events: list[dict[str, Any]] = []
    for number, line in enumerate(whole.split(b"\n")[:-1], start=1):
        if not line.strip():
            continue
        try:
            event = _strict_json(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise RunFolderError(
                f"{source} line {number} is not a JSON event ({exc}); the trainer writes one "
                "JSON object per line, so this file was changed or damaged"
            ) from None
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise RunFolderError(
                f"{source} line {number} is not an event (a JSON object with a 'type'); the "
                "trainer writes one event per line, so this file was changed or damaged"
            )
        events.append(event)
    return events


def split_attempts(events: Sequence[Mapping[str, Any]]) -> list[list[dict[str, Any]]]:
    """The events grouped by trainer start: a ``state: starting`` event opens the next one."""
    attempts: list[list[dict[str, Any]]] = []
    for event in events:
        if not attempts or (event.get("type") == "state" and event.get("state") == "starting"):
            attempts.append([])
        attempts[-1].append(dict(event))
    return attempts or [[]]


def outcome(events: Sequence[Mapping[str, Any]], results: Mapping[str, Any] | None) -> Outcome:
    if results is not None and results.get("status") == "succeeded":
        return Outcome("succeeded", None)
    states = [e for e in events if e.get("type") == "state"]
    last = states[-1] if states else {}
    said = last.get("state")
    if said == "failed":
        return Outcome("failed", str(last.get("error") or "the trainer reported a failure"))
    if said in ("stopped", "canceled"):
        return Outcome(
            "canceled",
            "stopped on request before it finished; resume it with the same command, then "
            "import it again",
        )
    if said == "succeeded":
        return Outcome("failed", "the run reported success but has no results.json")
    return Outcome(
        "failed",
        "the trainer ended without a final state (it was killed or crashed); resume it with "
        "the same command, then import it again",
    )


def validate_config(config: Mapping[str, Any], source: str) -> None:
    """The config must be a TrainConfig (ConfigError naming its fields otherwise)."""
    from pydantic import ValidationError

    from visionyard.training.config import TrainConfig, format_validation_error

    try:
        TrainConfig.model_validate(dict(config))
    except ValidationError as exc:
        raise format_validation_error(exc, source) from None


def missing_files(folder: Path) -> list[str]:
    return [name for name in REQUIRED_FILES if not (folder / name).is_file()]


def read_run(folder: Path) -> RunRecord:
    """Read and check a run folder; RunFolderError (or ConfigError) says what is wrong."""
    if not folder.is_dir():
        raise RunFolderError(f"{folder} is not a folder; {LAYOUT_HINT}")
    missing = missing_files(folder)
    if missing:
        raise RunFolderError(
            f"{folder} is not a run folder: it has no {' and no '.join(missing)}; {LAYOUT_HINT}"
        )
    config = read_json_object(folder / CONFIG_FILE, "the run's config")
    try:
        validate_config(config, str(folder / CONFIG_FILE))
    except ConfigError as exc:
        raise RunFolderError(f"{exc}\n(is {folder} a run folder? {LAYOUT_HINT})") from None
    events_path = folder / EVENTS_FILE
    try:
        raw = events_path.read_bytes()
    except OSError as exc:
        raise RunFolderError(f"cannot read {events_path}: {exc.strerror or exc}") from None
    events = parse_events(raw, source=str(events_path))
    results_path = folder / RESULTS_FILE
    results = (
        read_json_object(results_path, "the run's results") if results_path.is_file() else None
    )
    return RunRecord(
        config=config, events=events, results=results, outcome=outcome(events, results)
    )
