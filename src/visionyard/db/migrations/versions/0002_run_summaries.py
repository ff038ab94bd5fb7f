"""run summaries: per-metric summaries, first start time, per-attempt errors, one checkpoint row
per folder

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05 12:50:00

- `run_metric_summaries` (best candidates and last value of each metric of each run), filled
  from the points already stored. For runs with several attempts written before this revision,
  superseded points of earlier attempts still count (they are dropped for points written from
  now on).
- `runs.started_at` (first claim; from `claimed_at` where known) and `runs.earlier_errors`: the
  error of a run that was re-queued after a crash moves there, since it belongs to an attempt
  that has ended.
- `checkpoints` keeps one row per (run, name): the newest of each, then a unique constraint on
  (run_id, name) replaces (run_id, name, step).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_OLD_CHECKPOINT_COLUMNS = ["run_id", "name", "step"]


def _epoch_of_payload(dialect: str) -> str:
    if dialect == "postgresql":
        return "CAST(e.payload ->> 'epoch' AS INTEGER)"
    return "CAST(json_extract(e.payload, '$.epoch') AS INTEGER)"


def _fill_metric_summaries(dialect: str) -> None:
    op.execute(
        """
        INSERT INTO run_metric_summaries
            (run_id, name, attempt, first_step, last_step, min_value, max_value)
        SELECT e.run_id, e.name, MAX(e.attempt), MIN(e.step), MAX(e.step), MIN(e.value),
               MAX(e.value)
        FROM run_events e
        WHERE e.kind = 'metric' AND e.name IS NOT NULL AND e.step IS NOT NULL
        GROUP BY e.run_id, e.name
        """
    )
    point = (
        "FROM run_events e WHERE e.run_id = run_metric_summaries.run_id AND e.kind = 'metric' "
        "AND e.name = run_metric_summaries.name AND {match} ORDER BY e.attempt DESC, e.step DESC "
        "LIMIT 1"
    )
    last = point.format(match="e.step = run_metric_summaries.last_step")
    low = point.format(match="e.value = run_metric_summaries.min_value")
    high = point.format(match="e.value = run_metric_summaries.max_value")
    op.execute(
        f"""
        UPDATE run_metric_summaries SET
            last_value = (SELECT e.value {last}),
            last_epoch = (SELECT {_epoch_of_payload(dialect)} {last}),
            min_step = (SELECT e.step {low}),
            max_step = (SELECT e.step {high})
        """
    )


def _move_stale_errors() -> None:
    """A queued or running retry's error was its previous attempt's: move it."""
    bind = op.get_bind()
    runs = sa.table(
        "runs",
        sa.column("id", sa.Integer),
        sa.column("attempt", sa.Integer),
        sa.column("state", sa.String),
        sa.column("error", sa.Text),
        sa.column("earlier_errors", sa.JSON),
    )
    stale = bind.execute(
        sa.select(runs.c.id, runs.c.attempt, runs.c.error).where(
            runs.c.state.in_(["queued", "running"]),
            runs.c.attempt > 1,
            runs.c.error.is_not(None),
        )
    ).all()
    for row in stale:
        bind.execute(
            sa.update(runs)
            .where(runs.c.id == row.id)
            .values(
                error=None,
                earlier_errors=[{"attempt": row.attempt - 1, "error": row.error}],
            )
        )


def _one_checkpoint_row_per_folder(dialect: str) -> None:
    op.execute(
        """
        DELETE FROM checkpoints WHERE EXISTS (
            SELECT 1 FROM checkpoints newer
            WHERE newer.run_id = checkpoints.run_id AND newer.name = checkpoints.name
              AND (newer.attempt > checkpoints.attempt
                   OR (newer.attempt = checkpoints.attempt AND newer.step > checkpoints.step)
                   OR (newer.attempt = checkpoints.attempt AND newer.step = checkpoints.step
                       AND newer.id > checkpoints.id)))
        """
    )
    if dialect == "postgresql":
        inspector = sa.inspect(op.get_bind())
        for constraint in inspector.get_unique_constraints("checkpoints"):
            if constraint["column_names"] == _OLD_CHECKPOINT_COLUMNS and constraint["name"]:
                op.drop_constraint(constraint["name"], "checkpoints", type_="unique")
        op.create_unique_constraint("uq_checkpoints_run_name", "checkpoints", ["run_id", "name"])
        return
    # SQLite: the old constraint has no name; batch mode names it by this convention, rebuilds
    # the table without it and with the new one.
    convention = {"uq": "uq_%(table_name)s_%(column_0_N_name)s"}
    with op.batch_alter_table("checkpoints", naming_convention=convention) as batch_op:
        batch_op.drop_constraint("uq_checkpoints_run_id_name_step", type_="unique")
        batch_op.create_unique_constraint("uq_checkpoints_run_name", ["run_id", "name"])


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "run_metric_summaries",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("first_step", sa.BigInteger(), nullable=False),
        sa.Column("last_step", sa.BigInteger(), nullable=False),
        sa.Column("last_value", sa.Float(), nullable=True),
        sa.Column("last_epoch", sa.Integer(), nullable=True),
        sa.Column("min_value", sa.Float(), nullable=True),
        sa.Column("min_step", sa.BigInteger(), nullable=True),
        sa.Column("max_value", sa.Float(), nullable=True),
        sa.Column("max_step", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "name"),
    )
    # Plain ALTER TABLE ADD COLUMN, also on SQLite: batch mode would rebuild `runs`, and with
    # foreign keys on, dropping the old table cascades to every run's events and checkpoints.
    op.add_column("runs", sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "runs",
        sa.Column("earlier_errors", sa.JSON(), server_default=sa.text("'[]'"), nullable=False),
    )
    op.execute("UPDATE runs SET started_at = claimed_at WHERE claimed_at IS NOT NULL")
    _fill_metric_summaries(dialect)
    _move_stale_errors()
    _one_checkpoint_row_per_folder(dialect)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.drop_constraint("uq_checkpoints_run_name", "checkpoints", type_="unique")
        op.create_unique_constraint(
            "checkpoints_run_id_name_step_key", "checkpoints", _OLD_CHECKPOINT_COLUMNS
        )
    else:
        with op.batch_alter_table("checkpoints") as batch_op:
            batch_op.drop_constraint("uq_checkpoints_run_name", type_="unique")
            batch_op.create_unique_constraint(
                "uq_checkpoints_run_id_name_step", _OLD_CHECKPOINT_COLUMNS
            )
    op.drop_column("runs", "earlier_errors")  # ALTER TABLE DROP COLUMN: no rebuild (above)
    op.drop_column("runs", "started_at")
    op.drop_table("run_metric_summaries")
