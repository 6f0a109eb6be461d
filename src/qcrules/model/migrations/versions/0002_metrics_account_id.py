"""metrics: a 千川 account id, and one row per (creator-day, grant, account)

Real exports carry several rows for one creator-day: one per 千川 account (账户ID), or one
per grant. The old key (merchant_id, aweme_id, date) made the second such row overwrite the
first. The new key adds grant_id and account_id, both NOT NULL with '' for "not given", so
that the unique key holds on PostgreSQL too (NULLs never conflict there).

No row can collide under the new key: the old key was already unique and is a prefix of it,
so the upgrade needs no de-duplication — it only turns NULL grant ids into ''.

Revision ID: 0002_metrics_account_id
Revises: 0001_baseline
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0002_metrics_account_id"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("update metrics set grant_id = '' where grant_id is null")
    with op.batch_alter_table("metrics", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "account_id",
                sqlmodel.sql.sqltypes.AutoString(length=64),
                nullable=False,
                server_default="",
            )
        )
        batch_op.alter_column(
            "grant_id",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=64),
            nullable=False,
            server_default="",
        )
        batch_op.drop_constraint("uq_metrics_day", type_="unique")
        batch_op.create_unique_constraint(
            "uq_metrics_key", ["merchant_id", "aweme_id", "date", "grant_id", "account_id"]
        )
        # each merchant's newest metric day, read from the index alone (windows end there)
        batch_op.drop_index("ix_metrics_date")
        batch_op.create_index("ix_metrics_date_merchant", ["date", "merchant_id"], unique=False)
    # releases before migrations read schema_meta only: version 2 makes them refuse this
    # schema instead of upserting on a key that no longer exists
    op.execute("update schema_meta set value = '2' where key = 'schema_version'")


def downgrade() -> None:
    bind = op.get_bind()
    split = bind.execute(
        sa.text(
            "select count(*) from (select 1 from metrics group by merchant_id, aweme_id, date "
            "having count(*) > 1) as days"
        )
    ).scalar()
    if split:
        raise RuntimeError(
            f"{split} creator-days have several metric rows (accounts or grants); the older "
            "schema keeps one row per creator-day, so this downgrade would lose data"
        )
    with op.batch_alter_table("metrics", schema=None) as batch_op:
        batch_op.drop_index("ix_metrics_date_merchant")
        batch_op.create_index("ix_metrics_date", ["date"], unique=False)
        batch_op.drop_constraint("uq_metrics_key", type_="unique")
        batch_op.create_unique_constraint("uq_metrics_day", ["merchant_id", "aweme_id", "date"])
        batch_op.alter_column(
            "grant_id",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=64),
            nullable=True,
            server_default=None,
        )
        batch_op.drop_column("account_id")
    op.execute("update metrics set grant_id = null where grant_id = ''")
    op.execute("update schema_meta set value = '1' where key = 'schema_version'")
