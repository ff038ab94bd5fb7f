"""Service settings (dashboard, agents) from the environment.

The original design's variable names are a contract: DASHBOARD_DB_URL, DASHBOARD_CORS_ORIGINS,
DATASETS_DIR, TB_IDLE_TIMEOUT (and GPU_INDEX for agents). Everything else is VISIONYARD_*.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from visionyard.errors import ConfigError

LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "::1", "[::1]"]


def _split(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    # validate_by_name: tests and `create_app(load_settings(db_url=...))` pass fields by name;
    # the environment uses the aliases (the original variable names).
    model_config = SettingsConfigDict(
        env_prefix="VISIONYARD_", extra="ignore", validate_by_name=True, validate_by_alias=True
    )

    data_dir: Path = Field(
        default_factory=lambda: Path.home() / ".visionyard",
        description="Where the SQLite database, the secret key and (by default) runs live.",
    )
    db_url: str | None = Field(
        None,
        validation_alias=AliasChoices("DASHBOARD_DB_URL", "VISIONYARD_DB_URL"),
        description="SQLAlchemy URL; default sqlite:///<data_dir>/visionyard.db",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias=AliasChoices("DASHBOARD_CORS_ORIGINS", "VISIONYARD_CORS_ORIGINS"),
    )
    datasets_dir: Path | None = Field(
        None, validation_alias=AliasChoices("DATASETS_DIR", "VISIONYARD_DATASETS_DIR")
    )
    runs_dir: Path | None = None
    models_dir: Path | None = Field(
        None,
        validation_alias=AliasChoices("VISIONYARD_MODELS_DIR"),
        description="The only place local model folders (save_pretrained) may be read from.",
    )
    tb_idle_timeout: float = Field(
        300.0,
        ge=1,
        validation_alias=AliasChoices("TB_IDLE_TIMEOUT", "VISIONYARD_TB_IDLE_TIMEOUT"),
        description="Seconds without a request before an embedded TensorBoard is stopped.",
    )
    tb_max_instances: int = Field(
        4,
        ge=1,
        le=64,
        description="Embedded TensorBoards running at once; opening another stops the least "
        "recently used.",
    )
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(LOOPBACK_HOSTS)
    )
    admin_password: SecretStr | None = None
    admin_token: SecretStr | None = None
    secret_key: SecretStr | None = None
    session_ttl_hours: float = Field(
        24 * 7,
        gt=0,
        description="Absolute lifetime of a login session in hours: it ends this long after "
        "the login however active it is.",
    )
    session_idle_minutes: float = Field(
        120,
        gt=0,
        description="A login session unused for this many minutes ends (log in again). Any "
        "authenticated request counts as use, including an open web UI tab's background "
        "refreshes.",
    )
    secure_cookies: bool = Field(
        False,
        description="Mark the session and CSRF cookies Secure (sent over HTTPS only): turn on "
        "when the dashboard is reached through HTTPS.",
    )
    login_free_failures: int = Field(
        5,
        ge=1,
        le=1000,
        description="Failed logins a username, or a client address, may have before each "
        "further failure blocks it for a while (429 with Retry-After).",
    )
    login_block_max_seconds: float = Field(
        300,
        gt=0,
        le=86400,
        description="The longest a username or client address is blocked after failed logins; "
        "blocks double from 1 second with each further failure, up to this.",
    )
    login_failure_memory_minutes: float = Field(
        60,
        gt=0,
        description="Failed logins of a username or address are forgotten after this many "
        "minutes without another failure; a successful login forgets them at once.",
    )
    lease_seconds: float = Field(30.0, ge=1)
    heartbeat_interval: float | None = Field(
        None,
        ge=0.1,
        description="Seconds between an agent's heartbeats (default: a third of the lease). An "
        "agent is shown offline once its last heartbeat is two intervals old, so dashboards "
        "and agents must agree on it, as on the lease.",
    )
    reaper_interval: float = Field(5.0, gt=0)
    events_poll_interval: float = Field(0.25, gt=0)
    max_queued_runs_per_user: int = Field(
        1000,
        ge=1,
        description="Queued runs one user may have at once; queueing more answers 429.",
    )
    max_import_bytes: int = Field(
        16 * 1024**3,
        ge=1,
        description="Largest run folder upload (`visionyard runs import`) accepted; more "
        "answers 413. The default leaves room for a few checkpoints of a base-size model.",
    )
    predict_max_file_bytes: int = Field(
        20 * 1024**2,
        ge=1024,
        description="Largest image accepted for model testing; more answers 413.",
    )
    predict_max_pixels: int = Field(
        40_000_000,
        ge=1,
        description="Most pixels (width x height) an image for model testing may declare; "
        "larger ones are refused before they are decoded (decompression bombs).",
    )
    predict_max_files: int = Field(
        16, ge=1, le=256, description="Most images in one model-testing request."
    )
    evaluate_max_bytes: int = Field(
        1024**3,
        ge=1024,
        description="Largest labelled zip accepted for an evaluation report, and the most its "
        "images may unpack to; more answers 413.",
    )
    evaluate_max_files: int = Field(
        20_000, ge=1, description="Most entries a labelled zip for an evaluation may hold."
    )
    predict_cache_bytes: int = Field(
        2 * 1024**3,
        ge=0,
        description="Memory the loaded models of model testing may hold (their parameters and "
        "buffers); loading another evicts the least recently used. The model in use is kept "
        "even when it alone is larger.",
    )

    web_ui_dir: Path | None = Field(
        None,
        description="The web UI's static export (`next build` output) served at `/`; default: "
        "web_ui/out in the source checkout.",
    )

    @field_validator("cors_origins", "allowed_hosts", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        return _split(value)

    @field_validator("cors_origins")
    @classmethod
    def _no_wildcard(cls, value: list[str]) -> list[str]:
        if "*" in value:
            # Credentials (the session cookie) with a wildcard origin would let any site act
            # as the logged-in user.
            raise ValueError("DASHBOARD_CORS_ORIGINS cannot contain '*'; list the exact origins")
        return value

    @model_validator(mode="after")
    def _defaults(self) -> Settings:
        self.data_dir = self.data_dir.expanduser()
        if self.datasets_dir is None:
            self.datasets_dir = self.data_dir / "datasets"
        if self.runs_dir is None:
            self.runs_dir = self.data_dir / "runs"
        if self.models_dir is None:
            self.models_dir = self.data_dir / "models"
        return self

    @property
    def heartbeat_seconds(self) -> float:
        """How often an agent heartbeats: `heartbeat_interval`, or a third of the lease."""
        return self.heartbeat_interval or self.lease_seconds / 3

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{self.data_dir / 'visionyard.db'}"

    @property
    def datasets_root(self) -> Path:
        assert self.datasets_dir is not None
        return self.datasets_dir.expanduser().resolve()

    @property
    def models_root(self) -> Path:
        assert self.models_dir is not None
        return self.models_dir.expanduser().resolve()

    @property
    def runs_root(self) -> Path:
        assert self.runs_dir is not None
        return self.runs_dir.expanduser().resolve()


def allowed_hosts_hint(settings: Settings) -> str | None:
    """One line for `serve`/`up` to print at start when the dashboard listens beyond loopback
    but the Host allowlist is still the loopback default: every request that names this machine
    by IP or name would be refused (400), which looks like a broken server."""
    if settings.host in LOOPBACK_HOSTS or settings.allowed_hosts != LOOPBACK_HOSTS:
        return None
    return (
        f"hint: listening on {settings.host}, but only loopback names are allowed in the Host "
        "header; set VISIONYARD_ALLOWED_HOSTS to the names or IPs clients use (comma-separated)"
    )


def load_settings(**overrides: Any) -> Settings:
    from pydantic import ValidationError

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = [f"  - {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise ConfigError("invalid settings:\n" + "\n".join(lines)) from None


@lru_cache
def get_settings() -> Settings:
    return load_settings()
