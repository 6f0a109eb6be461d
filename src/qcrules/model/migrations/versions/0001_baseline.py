"""baseline: the schema of the releases before migrations

Revision ID: 0001_baseline
Revises:
Create Date: 2026-12-01 (equal to schema_meta version 1 of the earlier releases)
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("entity_type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("entity_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("merchant_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("undoes", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "creators",
        sa.Column("aweme_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("aweme_show_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("nickname", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("fans_count", sa.Integer(), nullable=True),
        sa.Column("active_fan_ratio", sa.Float(), nullable=True),
        sa.Column("completion_rate", sa.Float(), nullable=True),
        sa.Column("interaction_rate", sa.Float(), nullable=True),
        sa.Column("fan_male_ratio", sa.Float(), nullable=True),
        sa.Column("fan_age_dist", sa.JSON(), nullable=True),
        sa.Column("categories", sa.JSON(), nullable=True),
        sa.Column("reputation_score", sa.Float(), nullable=True),
        sa.Column("quote_price", sa.Float(), nullable=True),
        sa.Column("avg_gmv_30d", sa.Float(), nullable=True),
        sa.Column("rebate_rate", sa.Float(), nullable=True),
        sa.Column("commission_rate", sa.Float(), nullable=True),
        sa.Column("accepts_ads", sa.Boolean(), nullable=True),
        sa.Column("accepts_script_changes", sa.Boolean(), nullable=True),
        sa.Column("hosted_auth_enabled", sa.Boolean(), nullable=True),
        sa.Column("data_verified", sa.Boolean(), nullable=True),
        sa.Column("real_name_verified", sa.Boolean(), nullable=True),
        sa.Column("serious_violation", sa.Boolean(), nullable=True),
        sa.Column("cooperation_code", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("is_own_account", sa.Boolean(), nullable=True),
        sa.Column("data_source", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("aweme_id"),
    )
    op.create_table(
        "holds",
        sa.Column("entity_type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("entity_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("merchant_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("until", sa.Date(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("entity_type", "entity_id", "merchant_id"),
    )
    op.create_table(
        "merchants",
        sa.Column("merchant_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("advertiser_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("shop_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("break_even_roi", sa.Float(), nullable=False),
        sa.Column("target_gender", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("target_age_bands", sa.JSON(), nullable=True),
        sa.Column("categories", sa.JSON(), nullable=True),
        sa.Column("industry_cvr", sa.Float(), nullable=True),
        sa.Column("goal", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("last_permission_audit", sa.Date(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("merchant_id"),
    )
    op.create_table(
        "metrics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("aweme_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("grant_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("spend", sa.Float(), nullable=False),
        sa.Column("impressions", sa.Integer(), nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=True),
        sa.Column("gmv", sa.Float(), nullable=True),
        sa.Column("conversions", sa.Integer(), nullable=True),
        sa.Column("add_to_cart", sa.Integer(), nullable=True),
        sa.Column("old_fan_order_ratio", sa.Float(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("merchant_id", "aweme_id", "date", name="uq_metrics_day"),
    )
    with op.batch_alter_table("metrics", schema=None) as batch_op:
        batch_op.create_index("ix_metrics_date", ["date"], unique=False)
        batch_op.create_index("ix_metrics_grant_date", ["grant_id", "date"], unique=False)

    op.create_table(
        "runs",
        sa.Column("run_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("engine", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("packs", sa.JSON(), nullable=True),
        sa.Column("params", sa.JSON(), nullable=True),
        sa.Column("options", sa.JSON(), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("run_id"),
    )
    op.create_table(
        "schema_meta",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("rule", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("pack", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("level", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("entity_type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("entity_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("merchant_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("aweme_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("action_kind", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("action_params", sa.JSON(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.run_id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.create_index("ix_findings_fingerprint", ["fingerprint"], unique=False)
        batch_op.create_index("ix_findings_run", ["run_id"], unique=False)

    op.create_table(
        "grants",
        sa.Column("grant_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("merchant_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("aweme_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("auth_type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("scope", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("video_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("requested_at", sa.Date(), nullable=True),
        sa.Column("starts_at", sa.Date(), nullable=True),
        sa.Column("ends_at", sa.Date(), nullable=True),
        sa.Column("revoke_requested", sa.Boolean(), nullable=True),
        sa.Column("has_agreement", sa.Boolean(), nullable=True),
        sa.Column("renewal_of", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("proposed_ends_at", sa.Date(), nullable=True),
        sa.Column("proposed_scope", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["aweme_id"],
            ["creators.aweme_id"],
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.merchant_id"],
        ),
        sa.PrimaryKeyConstraint("grant_id"),
    )
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.create_index(
            "ix_grants_pair", ["merchant_id", "aweme_id", "starts_at"], unique=False
        )

    op.create_table(
        "pool",
        sa.Column("merchant_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("aweme_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("added_at", sa.Date(), nullable=True),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["aweme_id"],
            ["creators.aweme_id"],
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.merchant_id"],
        ),
        sa.PrimaryKeyConstraint("merchant_id", "aweme_id"),
    )


def downgrade() -> None:
    op.drop_table("pool")
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.drop_index("ix_grants_pair")

    op.drop_table("grants")
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_index("ix_findings_run")
        batch_op.drop_index("ix_findings_fingerprint")

    op.drop_table("findings")
    op.drop_table("schema_meta")
    op.drop_table("runs")
    with op.batch_alter_table("metrics", schema=None) as batch_op:
        batch_op.drop_index("ix_metrics_grant_date")
        batch_op.drop_index("ix_metrics_date")

    op.drop_table("metrics")
    op.drop_table("merchants")
    op.drop_table("holds")
    op.drop_table("creators")
    op.drop_table("audit_log")
