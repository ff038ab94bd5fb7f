"""One exception hierarchy for everything Visionyard reports to a user.

Every message says what is wrong and what to do about it. The CLI prints these without a
traceback; the dashboard (later) maps each class to one HTTP status in one handler.
"""


class VisionyardError(Exception):
    """Base class: an error caused by input the user can fix."""

    #: process exit code the CLI uses for this class of error
    exit_code = 2


class ConfigError(VisionyardError):
    """A TrainConfig (or a file or override feeding it) is invalid.

    `fields` lists {"field", "message"} pairs so an API can answer 422 with field-level errors.
    """

    def __init__(self, message: str, fields: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.fields: list[dict[str, str]] = fields or []


class DatasetError(VisionyardError):
    """The dataset folder does not follow the ImageFolder layout or holds unreadable files."""


class ModelLoadError(VisionyardError):
    """A model or its image processor cannot be loaded."""


class CheckpointError(VisionyardError):
    """A checkpoint is missing, torn, or unsafe to load."""


class RunStateError(VisionyardError):
    """A run cannot do what was asked in its current state (e.g. resume with another config)."""
