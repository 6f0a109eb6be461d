"""runs.part: one share of an `evaluate --shard K/N`

A sharded evaluation stores each share as its own run marked "K/N"; such a run is never
"the last run" (the queue, the TUI, the report read whole runs only) until `qcrules runs
merge` joins the shares into one whole run. Existing runs are whole: NULL.

Revision ID: 0004_run_parts
Revises: 0003_grant_end_dates
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004_run_parts"
down_revision = "0003_grant_end_dates"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("part", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("part")
