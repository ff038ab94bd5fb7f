"""Exit statuses of the trainer process (`visionyard train`, `python -m visionyard.training`),
the one status of `visionyard up` that is not the trainer's, and those of the terminal client's
commands (at the end).

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
#: `visionyard up` only: its dashboard process died without being asked to stop (a crash, a
#: kill, or a start that failed); up stopped the agents (their runs went back to the queue) and
#: exited (EX_UNAVAILABLE: the platform is down, a service manager may start it again)
EXIT_DASHBOARD_DIED = 69

# The dashboard's terminal client (`visionyard login`, `runs`, `queue`, `datasets`) exits
# EXIT_OK when the dashboard did what was asked and EXIT_BAD_INPUT when it refused the request
# (400, 404, 409, 413, 422, 429: its message is printed) or the local input is wrong. And:
#: the dashboard cannot be reached at the configured URL (sysexits' EX_NOHOST)
EXIT_UNREACHABLE = 68
#: no valid credentials: log in with `visionyard login` or set VISIONYARD_TOKEN (EX_NOPERM)
EXIT_NOT_LOGGED_IN = 77
#: the dashboard answered with a server error (5xx); its log has the details
EXIT_SERVER_ERROR = 1
