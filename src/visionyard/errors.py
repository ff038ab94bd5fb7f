"""One exception hierarchy for everything Visionyard reports to a user.

Every message says what is wrong and what to do about it. The CLI prints these without a
traceback; the dashboard (later) maps each class to one HTTP status in one handler.
"""

from visionyard.exitcodes import EXIT_BAD_INPUT, EXIT_UNREACHABLE


class VisionyardError(Exception):
    """Base class: an error caused by input the user can fix."""

    #: process exit code the CLI uses for this class of error
    exit_code = EXIT_BAD_INPUT


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


class ExportError(VisionyardError):
    """A model cannot be exported as asked: the ONNX exporter failed, or the ONNX model
    disagrees with PyTorch beyond the stated tolerance."""


class HubError(VisionyardError):
    """The Hugging Face Hub refused a push: no token, a token it does not accept, a repository
    the token may not write to."""


class HubUnreachableError(HubError):
    """The Hugging Face Hub cannot be reached (offline mode, no network, a wrong HF_ENDPOINT)."""

    exit_code = EXIT_UNREACHABLE


class RunStateError(VisionyardError):
    """A run cannot do what was asked in its current state (e.g. resume with another config)."""


class InvalidRequestError(VisionyardError):
    """A well-formed request asks for something that cannot be answered as asked (a mismatch
    between its parameters). `fields` lists {"field", "message"} pairs, as ConfigError's."""

    def __init__(self, message: str, fields: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.fields: list[dict[str, str]] = fields or []


class NotFoundError(VisionyardError):
    """The thing asked for does not exist (or is not visible to the caller)."""


class ConflictError(VisionyardError):
    """The request conflicts with existing state (duplicate name, immutable object...)."""


class AuthenticationError(VisionyardError):
    """No valid credentials were presented."""


class PermissionDeniedError(VisionyardError):
    """Valid credentials, but not allowed to do this."""


class CsrfError(PermissionDeniedError):
    """A change sent with a session cookie lacks the session's CSRF token (X-CSRF-Token)."""


class UnsupportedMediaTypeError(VisionyardError):
    """The request body is not of the media type the operation takes."""


class PathOutsideRootError(VisionyardError):
    """A user-supplied path resolves outside the directory it must stay in."""


class RunFolderError(VisionyardError):
    """A folder (or an upload of one) is not a run folder written by the trainer: a required
    file is missing or unreadable, or its event log is not whole lines of JSON events."""


class PayloadTooLargeError(VisionyardError):
    """An upload is larger than the server accepts (`VISIONYARD_MAX_IMPORT_BYTES`)."""


class RateLimitedError(VisionyardError):
    """Too many requests or queued runs; try again later (`retry_after`: in how many seconds,
    when known; the dashboard sends it as the Retry-After header)."""

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServiceUnavailableError(VisionyardError):
    """A helper process the request needs (a TensorBoard) could not start or stopped answering."""


class DatabaseUnavailableError(VisionyardError):
    """The database cannot be reached (wrong URL, server down): fix the URL or start it."""
