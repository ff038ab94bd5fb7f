"""Exit statuses of the trainer process (`visionyard train`, `python -m visionyard.training`).

The contract between the trainer and whoever started it: the agent's supervisor reads these to
decide a run's outcome (`visionyard.agent.supervisor.classify`), the CLI and `main.py` return
them. Imports nothing, so the trainer, the CLI and the agent share it without importing each
other.
"""

from __future__ import annotations

#: the run finished (or, for other commands, did what was asked)
EXIT_OK = 0
#: input the user must fix: a bad config, dataset or model (every `VisionyardError`); retrying
#: the same input would fail the same way, so the agent fails the run at once
EXIT_BAD_INPUT = 2
#: the run stopped on request (SIGTERM/SIGINT) after saving a resumable checkpoint
EXIT_STOPPED = 3
#: the trainer lost its supervisor and ended itself (EX_TEMPFAIL: retryable); see
#: `visionyard.training.watchdog`
EXIT_SUPERVISOR_LOST = 75
