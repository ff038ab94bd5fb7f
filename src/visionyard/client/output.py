"""What the client prints: human tables (rich) by default, the API's JSON with --json.

Tables and messages go to stdout; errors go to stderr. With --json, stdout is exactly one JSON
document (what the API answered), so scripts can pipe it into `jq`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from visionyard.text import printable

#: the run states that end a run (`visionyard.db.models.TERMINAL_STATES`; not imported: the
#: database models pull SQLAlchemy into every client command)
TERMINAL_STATES = frozenset({"succeeded", "failed", "canceled"})
_STATE_STYLE = {
    "succeeded": "green",
    "failed": "red",
    "canceled": "yellow",
    "running": "cyan",
    "queued": "blue",
}


def console(err: bool = False) -> Console:
    # soft_wrap: long cells and log lines are not cut at the terminal's width when piped.
    stream = sys.stderr if err else sys.stdout
    return Console(highlight=False, soft_wrap=not stream.isatty(), stderr=err)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ", ".join(_cell(v) for v in value) or "-"
    return printable(str(value))


def state_text(state: str) -> str:
    style = _STATE_STYLE.get(state)
    return f"[{style}]{state}[/{style}]" if style else state


def table(rows: Iterable[Mapping[str, Any]], columns: Sequence[tuple[str, str]]) -> None:
    """A table of `rows` showing `columns` ((key, heading) pairs)."""
    out = Table(show_edge=False, header_style="bold")
    for _, heading in columns:
        out.add_column(heading)
    for row in rows:
        cells = []
        for key, _ in columns:
            text = _cell(row.get(key)).replace("[", r"\[")
            cells.append(state_text(text) if key == "state" else text)
        out.add_row(*cells)
    console().print(out)


def fields(item: Mapping[str, Any], keys: Sequence[str]) -> None:
    """One item as `key: value` lines."""
    out = console()
    width = max(len(k) for k in keys)
    for key in keys:
        value = _cell(item.get(key)).replace("[", r"\[")
        shown = state_text(value) if key == "state" else value
        out.print(f"[bold]{key.ljust(width)}[/bold]  {shown}")


def message(text: str, *, err: bool = False) -> None:
    """A line for people: stdout, or stderr for notes and warnings beside the result."""
    console(err).print(printable(text).replace("[", r"\["))


def progress_text(progress: Mapping[str, Any]) -> str | None:
    if not progress:
        return None
    step, total = progress.get("step"), progress.get("total_steps")
    epoch, epochs = progress.get("epoch"), progress.get("epochs")
    parts = []
    if epoch is not None and epochs:
        parts.append(f"epoch {epoch}/{epochs}")
    if step is not None and total:
        parts.append(f"step {step}/{total}")
    eta = progress.get("eta_s")
    if isinstance(eta, int | float):
        parts.append(f"eta {int(eta)}s")
    return ", ".join(parts) or None
