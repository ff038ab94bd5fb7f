"""Typed ORM models (SQLAlchemy 2). One module: the schema is read as a whole.

Time columns that the queue compares (`lease_expires_at`, `last_heartbeat_at`) are unix seconds
(float): precise, portable between SQLite and PostgreSQL, and trivially moved in tests ("time
travel" by SQL). Timestamps meant for people are timezone-aware datetimes.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# BIGINT on PostgreSQL, INTEGER (the rowid alias, so autoincrement works) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}

    if TYPE_CHECKING:
        # Every model here maps a Table (none maps a SELECT); SQLAlchemy types `__table__` as the
        # wider FromClause, which `insert()`/`update()` do not accept.
        __table__: ClassVar[Table]


class RunState(enum.StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    canceled = "canceled"


TERMINAL_STATES = frozenset({RunState.succeeded, RunState.failed, RunState.canceled})


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# ---- people and credentials --------------------------------------------------------------------


class User(Timestamped, Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class ApiToken(Timestamped, Base):
    """Bearer tokens: only a SHA-256 of the secret is stored; `prefix` identifies it in lists."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16), default="user")  # user | agent
    # "read" tokens can never change anything; "write" tokens act with their user's roles.
    scope: Mapped[str] = mapped_column(String(8), default="write", server_default="write")
    # None: every project the user may see; else only these project ids.
    project_ids: Mapped[list[Any] | None] = mapped_column(JSON)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    user: Mapped[User] = relationship()


class LoginSession(Timestamped, Base):
    """Cookie sessions: the cookie holds a random secret, the table its SHA-256."""

    __tablename__ = "login_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The absolute end; the idle end is last_seen_at + the idle timeout (settings).
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A secret per session for the CSRF double submit (sent as a readable cookie and a header).
    csrf_hash: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64), default="", server_default="")
    user_agent: Mapped[str] = mapped_column(String(255), default="", server_default="")
    user: Mapped[User] = relationship()


# ---- projects and what they own -----------------------------------------------------------------


class Project(Timestamped, Base):
    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Informational (no FK, like Agent.current_run_id); who may do what is in project_members.
    created_by: Mapped[int | None] = mapped_column(Integer)


class ProjectRole(enum.IntEnum):
    """What a member may do in a project; each role includes the ones below it."""

    viewer = 1  # read everything of the project
    editor = 2  # + configs, runs (queue, cancel, re-queue, delete), tags, groups, models
    owner = 3  # + members, rename and delete the project


class ProjectMember(Timestamped, Base):
    __tablename__ = "project_members"
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16))  # a ProjectRole name

    @property
    def level(self) -> ProjectRole:
        return ProjectRole[self.role]


class ExperimentGroup(Timestamped, Base):
    __tablename__ = "experiment_groups"
    __table_args__ = (UniqueConstraint("project_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")


class Dataset(Timestamped, Base):
    """A dataset root registered under DATASETS_DIR (stored relative to it)."""

    __tablename__ = "datasets"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    rel_path: Mapped[str] = mapped_column(String(1024))
    analysis: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    analysed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ModelEntry(Timestamped, Base):
    """Model registry: a hub id or a local folder, with an optional encrypted access token."""

    __tablename__ = "model_entries"
    __table_args__ = (UniqueConstraint("project_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(1024))
    kind: Mapped[str] = mapped_column(String(16))  # hub | local
    token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)


class TrainingConfig(Timestamped, Base):
    """A named config; its content lives in immutable versions."""

    __tablename__ = "configs"
    __table_args__ = (UniqueConstraint("project_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    latest_version: Mapped[int] = mapped_column(Integer, default=0)
    versions: Mapped[list[ConfigVersion]] = relationship(
        back_populates="config", order_by="ConfigVersion.version", passive_deletes=True
    )


class ConfigVersion(Timestamped, Base):
    __tablename__ = "config_versions"
    __table_args__ = (UniqueConstraint("config_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    config_id: Mapped[int] = mapped_column(ForeignKey("configs.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    config_hash: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    config: Mapped[TrainingConfig] = relationship(back_populates="versions")


# ---- who did what ------------------------------------------------------------------------------


class AuditEvent(Base):
    """One change (or login attempt): who, when, what, from where. Names are copied, not joined,
    so the record outlives the user and the project it names."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_created_at", "created_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    username: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(64), index=True)
    project_id: Mapped[int | None] = mapped_column(Integer, index=True)
    target: Mapped[str] = mapped_column(String(255), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip: Mapped[str] = mapped_column(String(64), default="")


class LoginThrottle(Base):
    """Failed logins per key ("user:<name>" or "ip:<address>"), shared by every dashboard
    process."""

    __tablename__ = "login_throttle"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[float] = mapped_column(Float, default=0.0)
    blocked_until: Mapped[float] = mapped_column(Float, default=0.0)


# ---- runs and the queue ------------------------------------------------------------------------


class Agent(Timestamped, Base):
    __tablename__ = "agents"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    hostname: Mapped[str] = mapped_column(String(255), default="")
    device: Mapped[str] = mapped_column(String(32), default="cpu")  # cpu | cuda:N
    gpus: Mapped[list[Any]] = mapped_column(JSON, default=list)
    drained: Mapped[bool] = mapped_column(Boolean, default=False)
    last_heartbeat_at: Mapped[float] = mapped_column(Float, default=0.0)
    version: Mapped[str] = mapped_column(String(32), default="")
    # Informational (no FK): runs and agents would otherwise reference each other in a cycle.
    current_run_id: Mapped[int | None] = mapped_column(Integer)


class Run(Timestamped, Base):
    __tablename__ = "runs"
    __table_args__ = (
        CheckConstraint("attempt >= 1", name="ck_runs_attempt_positive"),
        CheckConstraint("gpu_count >= 0", name="ck_runs_gpu_count"),
        # A running run always has an owner and a lease: the reaper depends on it.
        CheckConstraint(
            "state != 'running' OR (agent_id IS NOT NULL AND lease_expires_at IS NOT NULL)",
            name="ck_runs_running_has_lease",
        ),
        # The claim query's index: only queued rows, in dispatch order.
        Index(
            "ix_runs_queue",
            "priority",
            "id",
            postgresql_where=text("state = 'queued'"),
            sqlite_where=text("state = 'queued'"),
        ),
        Index("ix_runs_project_created", "project_id", "created_at"),
        Index("ix_runs_state_lease", "state", "lease_expires_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("experiment_groups.id", ondelete="SET NULL")
    )
    config_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("config_versions.id", ondelete="SET NULL")
    )
    name: Mapped[str] = mapped_column(String(128))
    config_snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    config_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[RunState] = mapped_column(
        Enum(RunState, name="run_state", native_enum=False, length=16), default=RunState.queued
    )
    priority: Mapped[int] = mapped_column(Integer, default=0)  # higher runs first
    target_agent: Mapped[str | None] = mapped_column(String(128))
    gpu_count: Mapped[int] = mapped_column(Integer, default=0)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    restarts: Mapped[int] = mapped_column(Integer, default=0)
    max_restarts: Mapped[int] = mapped_column(Integer, default=3)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    lease_expires_at: Mapped[float | None] = mapped_column(Float)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When its first attempt was claimed; kept across attempts (the run's wall time starts here).
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The current attempt's error; what ended earlier attempts is kept in `earlier_errors`,
    # [{"attempt": n, "error": message}, ...] oldest first.
    error: Mapped[str | None] = mapped_column(Text)
    earlier_errors: Mapped[list[Any]] = mapped_column(
        JSON, default=list, server_default=text("'[]'")
    )
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    run_dir: Mapped[str | None] = mapped_column(String(1024))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    tags: Mapped[list[RunTag]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin"
    )


class RunTag(Base):
    __tablename__ = "run_tags"
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True)


class RunEvent(Base):
    """Everything a run streams: metrics, logs, progress, checkpoints, system samples.

    `id` is the WebSocket sequence number for the run's topic. `dedupe_key` makes delivery
    idempotent: a batch delivered three times is stored once (R15); for events other than
    metrics it is "<attempt>:<kind>:<source seq>". Metric points are stored in chunks, a row
    (kind "metric") holding consecutive points of one metric of one attempt in `points`, from
    `step` to `last_step`, and its minimum and maximum points in `extremes`
    (`visionyard.runqueue.metric_chunks`); these are null on other rows.
    """

    __tablename__ = "run_events"
    __table_args__ = (
        UniqueConstraint("run_id", "dedupe_key", name="uq_run_events_dedupe"),
        Index("ix_run_events_run_id_id", "run_id", "id"),
        Index("ix_run_events_metric", "run_id", "kind", "name", "step"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # metric | log | progress | checkpoint | system
    name: Mapped[str | None] = mapped_column(String(128))
    step: Mapped[int | None] = mapped_column(BigInteger)
    value: Mapped[float | None] = mapped_column(Float)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dedupe_key: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[float] = mapped_column(Float)
    last_step: Mapped[int | None] = mapped_column(BigInteger)
    points: Mapped[bytes | None] = mapped_column(LargeBinary)
    extremes: Mapped[bytes | None] = mapped_column(LargeBinary)


class RunMetricSummary(Base):
    """Per run and metric: its best candidates and last value, kept up to date as the metric's
    points are written (`visionyard.runqueue.metric_summary`), so run lists sort and filter by
    metrics in SQL without reading the points.

    Only the current points count (the newest attempt wins from the step it resumed at, as in
    the metric series): `attempt` is the newest attempt that logged the metric and `first_step`
    where its points begin.
    """

    __tablename__ = "run_metric_summaries"
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    attempt: Mapped[int] = mapped_column(Integer)
    first_step: Mapped[int] = mapped_column(BigInteger)
    last_step: Mapped[int] = mapped_column(BigInteger)
    last_value: Mapped[float | None] = mapped_column(Float)
    last_epoch: Mapped[int | None] = mapped_column(Integer)
    min_value: Mapped[float | None] = mapped_column(Float)
    min_step: Mapped[int | None] = mapped_column(BigInteger)
    max_value: Mapped[float | None] = mapped_column(Float)
    max_step: Mapped[int | None] = mapped_column(BigInteger)


class CheckpointRecord(Base):
    """One row per checkpoint folder of a run (`last`, `best`, `epoch_NNN`): a folder written
    again (every save rewrites `last`) updates its row."""

    __tablename__ = "checkpoints"
    __table_args__ = (UniqueConstraint("run_id", "name", name="uq_checkpoints_run_name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(1024))
    epoch: Mapped[int | None] = mapped_column(Integer)
    step: Mapped[int] = mapped_column(BigInteger)
    metric: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FeedEvent(Base):
    """Global change feed for the "runs" and "agents" WebSocket topics (state changes, agent
    liveness). Written in the same transaction as the change it announces."""

    __tablename__ = "feed_events"
    __table_args__ = (Index("ix_feed_topic_id", "topic", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(32))  # runs | agents
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Float)
