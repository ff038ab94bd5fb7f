"""teams and access: project members and roles, scoped tokens, session timeouts and CSRF
secrets, the audit log, login throttling

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 02:00:00

Until this revision every user could read and change every project. Moving to project roles:

- each project's owner is the user who created it. Projects had no creator column, so it is the
  author of the project's earliest config version, or else of its earliest run; a project
  nobody is known to have created gets no owner, and admins (who see every project) add one;
- API tokens keep what they could do (scope "write", every project);
- login sessions get an idle timeout from now on (their `last_seen_at` starts now).
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _creators() -> dict[int, int]:
    """project id → the user who wrote its first config version, else its first run."""
    bind = op.get_bind()
    found: dict[int, int] = {}
    first_version = bind.execute(
        sa.text(
            "SELECT c.project_id, v.created_by FROM config_versions v "
            "JOIN configs c ON c.id = v.config_id WHERE v.created_by IS NOT NULL "
            "ORDER BY v.id DESC"
        )
    )
    for project_id, user_id in first_version:
        found[project_id] = user_id  # descending ids: the earliest one wins
    first_run = bind.execute(
        sa.text(
            "SELECT project_id, created_by FROM runs WHERE created_by IS NOT NULL ORDER BY id DESC"
        )
    )
    by_run: dict[int, int] = {}
    for project_id, user_id in first_run:
        by_run[project_id] = user_id
    return {**by_run, **found}


def upgrade() -> None:
    # No foreign key: SQLite could add one only by rebuilding `projects`, which with foreign keys
    # on cascade-deletes every config and run. Ownership lives in project_members.
    op.add_column("projects", sa.Column("created_by", sa.Integer(), nullable=True))
    op.create_table(
        "project_members",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("project_id", "user_id"),
    )
    op.create_index("ix_project_members_user_id", "project_members", ["user_id"])
    op.add_column(
        "api_tokens",
        sa.Column("scope", sa.String(length=8), nullable=False, server_default="write"),
    )
    op.add_column("api_tokens", sa.Column("project_ids", sa.JSON(), nullable=True))
    op.add_column(
        "login_sessions", sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("login_sessions", sa.Column("csrf_hash", sa.String(length=64), nullable=True))
    op.add_column(
        "login_sessions",
        sa.Column("ip", sa.String(length=64), nullable=False, server_default=""),
    )
    op.add_column(
        "login_sessions",
        sa.Column("user_agent", sa.String(length=255), nullable=False, server_default=""),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_events_created_at", "audit_events", ["created_at"])
    op.create_index("ix_audit_events_user_id", "audit_events", ["user_id"])
    op.create_index("ix_audit_events_action", "audit_events", ["action"])
    op.create_index("ix_audit_events_project_id", "audit_events", ["project_id"])
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.Float(), nullable=False),
        sa.Column("blocked_until", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )

    projects = sa.table("projects", sa.column("id", sa.Integer), sa.column("created_by"))
    members = sa.table(
        "project_members",
        sa.column("project_id", sa.Integer),
        sa.column("user_id", sa.Integer),
        sa.column("role", sa.String),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    stamp = datetime.now(UTC)
    creators = _creators()
    for project_id, user_id in sorted(creators.items()):
        op.execute(
            sa.update(projects).where(projects.c.id == project_id).values(created_by=user_id)
        )
        op.execute(
            sa.insert(members).values(
                project_id=project_id, user_id=user_id, role="owner", created_at=stamp
            )
        )
    op.execute(
        sa.text("UPDATE login_sessions SET last_seen_at = :now").bindparams(
            sa.bindparam("now", stamp, type_=sa.DateTime(timezone=True))
        )
    )


def downgrade() -> None:
    op.drop_table("login_throttle")
    op.drop_index("ix_audit_events_project_id", table_name="audit_events")
    op.drop_index("ix_audit_events_action", table_name="audit_events")
    op.drop_index("ix_audit_events_user_id", table_name="audit_events")
    op.drop_index("ix_audit_events_created_at", table_name="audit_events")
    op.drop_table("audit_events")
    for column in ("user_agent", "ip", "csrf_hash", "last_seen_at"):
        op.drop_column("login_sessions", column)
    op.drop_column("api_tokens", "project_ids")
    op.drop_column("api_tokens", "scope")
    op.drop_index("ix_project_members_user_id", table_name="project_members")
    op.drop_table("project_members")
    op.drop_column("projects", "created_by")
