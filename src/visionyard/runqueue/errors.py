"""Errors the run queue raises; all are `RunStateError`s (the dashboard maps that class once)."""

from __future__ import annotations

from visionyard.errors import RunStateError


class StaleAttempt(RunStateError):
    """A write for a run attempt that is no longer the current one (fencing refused it).

    The agent that gets this has lost the run: it must stop its trainer and write nothing more.
    """


class RunNotFound(RunStateError):
    """No run has the given id."""


class UnknownAgent(RunStateError):
    """No agent has the given id: it must (re-)register before heartbeating or claiming."""
