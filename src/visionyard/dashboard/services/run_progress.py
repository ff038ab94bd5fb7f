"""A run's progress as the API shows it: the trainer's newest progress event, made true for
the run's state.

The trainer reports progress every `log_every_steps` optimizer steps, with an ETA; its last
report usually comes a few steps before the end, and a run that stopped keeps its last one. So:

- succeeded: complete, at ``step == total_steps`` (and its last epoch), ``complete: true``,
  no ETA;
- any other state but running (failed, canceled, or queued again for a retry): where it
  stopped, without the ETA, which no longer means anything;
- running: as reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from visionyard.db.models import RunState

ETA_FIELD = "eta_s"


def shown_progress(state: RunState, progress: Mapping[str, Any] | None) -> dict[str, Any]:
    shown = dict(progress or {})
    if state == RunState.running:
        return shown
    shown.pop(ETA_FIELD, None)
    if state == RunState.succeeded:
        total, epochs = shown.get("total_steps"), shown.get("epochs")
        if isinstance(total, int):
            shown["step"] = total
        if isinstance(epochs, int) and epochs > 0:
            shown["epoch"] = epochs - 1  # 0-based in progress events, as while training
        shown["complete"] = True
    return shown
