"""The records qcrules keeps. Natural keys are the platform's own ids, so re-imports update in place.

Column names follow contracts.md § Import files; the 千川 API names are in the docstrings where
they differ. This module imports nothing above it (architecture: model is the bottom layer).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# Closed vocabularies (rule-catalog.md, contracts.md). Kept here so importers, facts and packs agree.
AUTH_TYPES = ("cooperative", "self_operated", "official")
# account: 抖音号授权, the whole account (its videos and live room) at account level
SCOPES = ("single_video", "live_room", "all_works", "account")
CHANNELS = ("pc", "mobile_pre_order", "mobile_at_order")
GRANT_STATUSES = ("draft", "requested", "active", "expired", "revoked", "rejected")
POOL_STATUSES = ("candidate", "in_pool", "excluded")
GENDERS = ("male", "female")
PERMANENT_END = date(2099, 12, 31)
# The natural key of a metrics row (see DailyMetric): writers upsert on it.
METRIC_KEY = ("merchant_id", "aweme_id", "date", "grant_id", "account_id")


def is_permanent_end(ends: date | None) -> bool:
    """The one definition of a permanent grant: an end on or after 2099-12-31 (the platform's
    "unlimited"; a 永久 cell is stored as that date). None is an unknown end, not permanent."""
    return ends is not None and ends >= PERMANENT_END


class Merchant(SQLModel, table=True):
    __tablename__ = "merchants"

    merchant_id: str = Field(primary_key=True, max_length=64)
    name: str
    advertiser_id: str | None = None
    shop_id: str | None = None
    break_even_roi: float
    target_gender: str | None = None
    target_age_bands: list[str] | None = Field(default=None, sa_column=Column(JSON))
    categories: list[str] | None = Field(default=None, sa_column=Column(JSON))
    industry_cvr: float | None = None
    goal: str | None = None
    last_permission_audit: date | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Creator(SQLModel, table=True):
    """达人. `aweme_id` is the platform's internal id (达人UID), kept as text: it exceeds 2**53."""

    __tablename__ = "creators"

    aweme_id: str = Field(primary_key=True, max_length=64)
    aweme_show_id: str | None = None
    nickname: str
    fans_count: int | None = None
    active_fan_ratio: float | None = None
    completion_rate: float | None = None
    interaction_rate: float | None = None
    fan_male_ratio: float | None = None
    fan_age_dist: dict[str, float] | None = Field(default=None, sa_column=Column(JSON))
    categories: list[str] | None = Field(default=None, sa_column=Column(JSON))
    reputation_score: float | None = None
    quote_price: float | None = None
    avg_gmv_30d: float | None = None
    rebate_rate: float | None = None
    commission_rate: float | None = None
    accepts_ads: bool | None = None
    accepts_script_changes: bool | None = None
    hosted_auth_enabled: bool | None = None
    data_verified: bool | None = None
    real_name_verified: bool | None = None
    serious_violation: bool | None = None
    cooperation_code: str | None = None  # a credential: masked in every output
    is_own_account: bool | None = None
    data_source: str | None = None
    extra: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class PoolMember(SQLModel, table=True):
    """达人池 membership of one creator for one merchant."""

    __tablename__ = "pool"

    merchant_id: str = Field(primary_key=True, foreign_key="merchants.merchant_id", max_length=64)
    aweme_id: str = Field(primary_key=True, foreign_key="creators.aweme_id", max_length=64)
    status: str = "candidate"
    added_at: date | None = None
    note: str | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class Grant(SQLModel, table=True):
    """授权. `ends_at` ≥ 2099-12-31 means permanent (`is_permanent_end`); None means the end
    date is unknown (an export without an end-date column)."""

    __tablename__ = "grants"
    __table_args__ = (Index("ix_grants_pair", "merchant_id", "aweme_id", "starts_at"),)

    grant_id: str = Field(primary_key=True, max_length=64)
    merchant_id: str = Field(foreign_key="merchants.merchant_id", max_length=64)
    aweme_id: str = Field(foreign_key="creators.aweme_id", max_length=64)
    auth_type: str
    scope: str
    video_id: str | None = None
    channel: str | None = None
    status: str
    requested_at: date | None = None
    starts_at: date | None = None
    ends_at: date | None = None
    revoke_requested: bool | None = None
    has_agreement: bool | None = None
    renewal_of: str | None = Field(default=None, max_length=64)
    proposed_ends_at: date | None = None
    proposed_scope: str | None = None
    note: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class DailyMetric(SQLModel, table=True):
    """One day of 千川 delivery for a creator and merchant (stat_cost, show_cnt, click_cnt, …).

    A creator-day may have several rows: one per 千川 account (`account_id`, '' when the
    export does not say) and per grant (`grant_id`, '' when not attributed in the file). They
    are kept apart so no row overwrites another, and the facts sum them per day.
    """

    __tablename__ = "metrics"
    __table_args__ = (
        UniqueConstraint(*METRIC_KEY, name="uq_metrics_key"),
        Index("ix_metrics_grant_date", "grant_id", "date"),
        # covers "which merchants have rows on these days" without reading the table
        Index("ix_metrics_date_merchant", "date", "merchant_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    merchant_id: str = Field(max_length=64)
    aweme_id: str = Field(max_length=64)
    date: date
    grant_id: str = Field(default="", max_length=64, sa_column_kwargs={"server_default": ""})
    account_id: str = Field(default="", max_length=64, sa_column_kwargs={"server_default": ""})
    spend: float
    impressions: int
    clicks: int
    orders: int | None = None
    gmv: float | None = None
    conversions: int | None = None
    add_to_cart: int | None = None
    old_fan_order_ratio: float | None = None
    extra: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))


class EvaluationRun(SQLModel, table=True):
    __tablename__ = "runs"

    run_id: str = Field(primary_key=True, max_length=64)
    started_at: datetime
    duration_ms: int = 0
    as_of: date
    engine: str = "durable-rules"
    packs: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON))
    params: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    options: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    summary: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    exit_code: int | None = None
    # "K/N" for one share of an `evaluate --shard K/N`: not a whole run, so never "the last
    # run" until `qcrules runs merge` makes one of its shares; None for a whole run
    part: str | None = Field(default=None, max_length=16)


class Finding(SQLModel, table=True):
    __tablename__ = "findings"
    __table_args__ = (
        Index("ix_findings_run", "run_id"),
        Index("ix_findings_fingerprint", "fingerprint"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="runs.run_id", max_length=64)
    rule: str
    name: str
    pack: str
    level: str
    entity_type: str
    entity_id: str
    merchant_id: str | None = None
    aweme_id: str | None = None
    message: str
    action_kind: str | None = None
    action_params: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    evidence: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    fingerprint: str
    source: str | None = None
    status: str = "open"  # open | waived | superseded | held


class Hold(SQLModel, table=True):
    """An entity on hold keeps its findings but gets no actions (rule-catalog § Conflicts)."""

    __tablename__ = "holds"

    entity_type: str = Field(primary_key=True)
    entity_id: str = Field(primary_key=True, max_length=64)
    merchant_id: str = Field(default="", primary_key=True, max_length=64)
    reason: str
    until: date | None = None
    created_at: datetime = Field(default_factory=utcnow)


class AuditEntry(SQLModel, table=True):
    """Every state change with its before and after, so it can be undone."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    actor: str
    kind: str
    entity_type: str
    entity_id: str
    merchant_id: str | None = None
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    note: str | None = None
    fingerprint: str | None = None
    undoes: int | None = None


class SchemaMeta(SQLModel, table=True):
    __tablename__ = "schema_meta"

    key: str = Field(primary_key=True)
    value: str
