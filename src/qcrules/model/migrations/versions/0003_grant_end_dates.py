"""grant end dates: a permanent grant is marked 2099-12-31, NULL means an unknown end

Earlier releases stored a permanent grant (永久, 2099-12-31, an empty cell, or a file without
an end-date column) as ends_at NULL. Now NULL means "the end date is unknown" and a permanent
grant ends on 2099-12-31, so every NULL of an existing workspace — which meant permanent
there — becomes 2099-12-31: the verdicts of a workspace do not change by upgrading it.

Revision ID: 0003_grant_end_dates
Revises: 0002_metrics_account_id
Create Date: 2026-12-02
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from alembic import op

revision = "0003_grant_end_dates"
down_revision = "0002_metrics_account_id"
branch_labels = None
depends_on = None

PERMANENT_END = date(2099, 12, 31)  # a copy: a revision never imports the models
_grants = sa.table("grants", sa.column("ends_at", sa.Date()))


def upgrade() -> None:
    op.execute(_grants.update().where(_grants.c.ends_at.is_(None)).values(ends_at=PERMANENT_END))


def downgrade() -> None:
    op.execute(_grants.update().where(_grants.c.ends_at >= PERMANENT_END).values(ends_at=None))
