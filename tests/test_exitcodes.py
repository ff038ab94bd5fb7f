"""visionyard.exitcodes: the trainer's exit statuses, one definition for the CLI, the watchdog and
the agent's supervisor."""

from __future__ import annotations

from pathlib import Path

from visionyard import exitcodes
from visionyard.agent.relay import OutputLog
from visionyard.agent.supervisor import classify
from visionyard.errors import ConfigError, DatasetError, VisionyardError


def test_codes_are_distinct_and_a_user_error_exits_bad_input() -> None:
    codes = [exitcodes.EXIT_OK, exitcodes.EXIT_BAD_INPUT, exitcodes.EXIT_STOPPED]
    codes += [exitcodes.EXIT_SUPERVISOR_LOST, exitcodes.EXIT_DASHBOARD_DIED]
    codes += [exitcodes.EXIT_UNREACHABLE, exitcodes.EXIT_NOT_LOGGED_IN, exitcodes.EXIT_SERVER_ERROR]
    assert len(set(codes)) == len(codes)
    for error in (VisionyardError, ConfigError, DatasetError):
        assert error.exit_code == exitcodes.EXIT_BAD_INPUT


def test_the_supervisor_reads_each_code_as_documented(tmp_path: Path) -> None:
    output = OutputLog(tmp_path / "output.log", max_bytes=1024)
    try:
        assert classify(exitcodes.EXIT_OK, None, output)[0] == "succeeded"
        assert classify(exitcodes.EXIT_BAD_INPUT, None, output)[0] == "failed"
        assert classify(exitcodes.EXIT_STOPPED, None, output)[0] == "crashed"
        assert classify(exitcodes.EXIT_STOPPED, "drain", output)[0] == "drained"
        kind, message = classify(exitcodes.EXIT_SUPERVISOR_LOST, None, output)
        assert kind == "crashed" and message and "lost contact" in message
    finally:
        output.close()
