"""The fact schema: every field a rule may read, as one table in code.

Packs are validated against this table (unknown fields, type mismatches) before anything runs,
`qcrules packs fields` prints it, and plugins extend it with fields of their own `source`.
The builders in `qcrules.facts.builders` produce exactly these fields (tests check both agree).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

FieldType = Literal["number", "integer", "bool", "string"]
Entity = Literal["creator", "grant", "merchant"]

FIELD_TYPES: tuple[str, ...] = ("number", "integer", "bool", "string")
ENTITIES: tuple[str, ...] = ("creator", "grant", "merchant")
# The Python type a value of each field type has in a built fact (None = missing).
PYTHON_TYPES: dict[str, type] = {"number": float, "integer": int, "bool": bool, "string": str}
WINDOWS: tuple[int, ...] = (1, 3, 7, 30)

_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$")


class DuplicateFieldError(ValueError):
    """A field with this name already exists for this entity (plugins must not shadow fields)."""


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One fact field. `source` is "builtin" or the name of the plugin that added it."""

    name: str
    type: str
    entity: str
    doc_en: str
    doc_zh: str
    unit: str = ""
    source: str = "builtin"

    def __post_init__(self) -> None:
        if not _NAME_RE.match(self.name):
            raise ValueError(
                f"invalid fact field name {self.name!r}: use snake_case, dots between parts"
            )
        if self.type not in FIELD_TYPES:
            raise ValueError(f"field {self.name!r}: type {self.type!r} is not one of {FIELD_TYPES}")
        if self.entity not in ENTITIES:
            raise ValueError(
                f"field {self.name!r}: entity {self.entity!r} is not one of {ENTITIES}"
            )


class FactSchema:
    """Field specs keyed by (entity, name), in the order they were added."""

    def __init__(self, specs: Iterable[FieldSpec] = ()) -> None:
        self._specs: dict[tuple[str, str], FieldSpec] = {}
        for spec in specs:
            self.add(spec)

    def add(self, spec: FieldSpec) -> None:
        """Add a field; a second field of the same name on the same entity is an error."""
        key = (spec.entity, spec.name)
        if key in self._specs:
            old = self._specs[key]
            raise DuplicateFieldError(
                f"fact field {spec.name!r} on {spec.entity} is already defined (source {old.source!r})"
            )
        self._specs[key] = spec

    def get(self, name: str, entity: str) -> FieldSpec | None:
        """The spec, or None when the entity has no such field."""
        return self._specs.get((entity, name))

    def fields_for(self, entity: str) -> dict[str, str]:
        """Field name -> type for one entity: what a pack validator checks names and types against."""
        return {name: spec.type for (ent, name), spec in self._specs.items() if ent == entity}

    def specs(self, entity: str | None = None) -> list[FieldSpec]:
        return [s for s in self._specs.values() if entity is None or s.entity == entity]

    def copy(self) -> FactSchema:
        return FactSchema(self._specs.values())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, tuple) and key[::-1] in self._specs  # (name, entity)

    def __iter__(self) -> Iterator[FieldSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)


# ---------------------------------------------------------------------------------------------
# The built-in table. Helpers only generate repetitive rows; every row is still a FieldSpec.

_MONEY = "CNY"
_RATIO = "ratio"


def _f(name: str, type_: str, entity: str, en: str, zh: str, unit: str = "") -> FieldSpec:
    return FieldSpec(name, type_, entity, en, zh, unit)


# The table is laid out by hand, one field a line, so it reads as a table.
# fmt: off

# Creator columns (contracts.md § Import files): name, type, unit, en, zh.
CREATOR_COLUMNS: tuple[tuple[str, str, str, str, str], ...] = (
    ("aweme_show_id", "string", "", "Douyin handle (抖音号)", "抖音号"),
    ("nickname", "string", "", "creator nickname", "达人昵称"),
    ("fans_count", "integer", "fans", "number of fans", "粉丝数"),
    ("active_fan_ratio", "number", _RATIO, "share of fans active recently", "活跃粉丝占比"),
    ("completion_rate", "number", _RATIO, "video completion rate", "完播率"),
    ("interaction_rate", "number", _RATIO, "interaction rate", "互动率"),
    ("fan_male_ratio", "number", _RATIO, "share of male fans", "男性粉丝占比"),
    ("reputation_score", "number", "score", "selling reputation score", "带货口碑"),
    ("quote_price", "number", _MONEY, "quoted price for a cooperation", "报价"),
    ("avg_gmv_30d", "number", _MONEY, "average GMV per work over 30 days", "近30天平均成交额"),
    ("rebate_rate", "number", _RATIO, "rebate rate", "返点比例"),
    ("commission_rate", "number", _RATIO, "commission rate", "佣金率"),
    ("accepts_ads", "bool", "", "cooperates with 千川 ad delivery", "接受千川投流"),
    ("accepts_script_changes", "bool", "", "accepts script changes", "接受脚本修改"),
    ("hosted_auth_enabled", "bool", "", "has hosted authorization (托管授权) enabled", "已开启托管授权"),
    ("data_verified", "bool", "", "data checked on a third-party platform", "数据已核实"),
    ("real_name_verified", "bool", "", "account is real-name verified", "已实名认证"),
    ("serious_violation", "bool", "", "account has a serious violation", "有严重违规"),
    ("is_own_account", "bool", "", "account belongs to the merchant itself", "商家自有账号"),
    ("data_source", "string", "", "where the creator data came from", "数据来源"),
)


def _metric_fields(entity: str) -> list[FieldSpec]:
    """The metric windows shared by creator (per merchant) and grant facts."""
    out: list[FieldSpec] = []
    for n in WINDOWS:
        span_en, span_zh = f"last {n} day(s)", f"近{n}天"
        out += [
            _f(f"spend_{n}d", "number", entity, f"spend, {span_en}", f"{span_zh}消耗", _MONEY),
            _f(f"impressions_{n}d", "integer", entity, f"impressions, {span_en}", f"{span_zh}展示次数", "count"),
            _f(f"clicks_{n}d", "integer", entity, f"clicks, {span_en}", f"{span_zh}点击次数", "count"),
            _f(f"orders_{n}d", "integer", entity, f"orders, {span_en}", f"{span_zh}成交订单数", "count"),
            _f(f"gmv_{n}d", "number", entity, f"GMV, {span_en}", f"{span_zh}成交金额", _MONEY),
        ]
    out += [
        _f("add_to_cart_7d", "integer", entity, "add-to-cart count, last 7 days", "近7天加购次数", "count"),
        _f("ctr_7d", "number", entity, "CTR = clicks_7d / impressions_7d", "近7天点击率", _RATIO),
        _f("roi_7d", "number", entity, "ROI = gmv_7d / spend_7d", "近7天ROI", _RATIO),
        _f("cvr_7d", "number", entity, "CVR = orders_7d / clicks_7d", "近7天转化率", _RATIO),
        _f("add_to_cart_rate_7d", "number", entity, "add_to_cart_7d / clicks_7d", "近7天加购率", _RATIO),
        _f("days_with_data", "integer", entity, "days of the 7-day window with metric rows", "近7天有数据的天数", "days"),
    ]
    return out


def _merchant_setting_fields(entity: str) -> list[FieldSpec]:
    return [
        _f("break_even_roi", "number", entity, "the merchant's break-even ROI", "保本ROI", _RATIO),
        _f("industry_cvr", "number", entity, "the merchant's industry conversion rate", "行业转化率", _RATIO),
    ]


def _pool_percentile_fields(entity: str) -> list[FieldSpec]:
    return [
        _f("pool.ctr_7d_p20", "number", entity,
           "20th percentile of ctr_7d over the merchant's in-pool creators with 7 days of data "
           "(for a creator: the others)",
           "达人池近7天点击率的20分位", _RATIO),
        _f("pool.roi_7d_p20", "number", entity,
           "20th percentile of roi_7d over the merchant's in-pool creators with 7 days of data "
           "(for a creator: the others)",
           "达人池近7天ROI的20分位", _RATIO),
        _f("pool.peer_count", "integer", entity,
           "in-pool creators the percentiles are taken over (7 days of data, the creator itself "
           "left out)", "参与分位计算的池内达人数", "count"),
    ]


def _creator_fields() -> list[FieldSpec]:
    e = "creator"
    out = [
        _f("merchant_id", "string", e, "the merchant this creator is judged for", "商家ID"),
        _f("aweme_id", "string", e, "creator's platform id (达人UID)", "达人UID"),
        _f("pool_status", "string", e, "pool status for the merchant: candidate, in_pool, excluded (null: not in pool)", "达人池状态"),
    ]
    out += [_f(n, t, e, en, zh, u) for n, t, u, en, zh in CREATOR_COLUMNS]
    out += [
        _f("audience_match", "number", e,
           "share of the creator's fans in the merchant's target gender and age bands",
           "粉丝画像与目标人群匹配度", _RATIO),
        _f("category_match", "bool", e, "creator's categories share one with the merchant's", "类目匹配"),
        _f("price_to_gmv", "number", e, "quote_price / avg_gmv_30d", "报价/近30天平均成交额", _RATIO),
        _f("has_cooperation_code", "bool", e, "a cooperation code (达人合作码) is on file", "已收集达人合作码"),
        _f("in_pool", "bool", e, "in the merchant's pool (status in_pool)", "在达人池中"),
        _f("excluded", "bool", e, "excluded from the merchant's pool", "已被排除"),
        _f("authorized_this_merchant_before", "bool", e,
           "a grant with this merchant has ever become active", "曾授权过该商家"),
        _f("spend_3d_any", "number", e, "3-day spend of the creator over every merchant", "近3天所有商家消耗", _MONEY),
    ]
    out += _merchant_setting_fields(e) + _metric_fields(e) + _pool_percentile_fields(e)
    return out


def _grant_fields() -> list[FieldSpec]:
    e = "grant"
    out = [
        _f("grant_id", "string", e, "grant id", "授权ID"),
        _f("merchant_id", "string", e, "merchant of the grant", "商家ID"),
        _f("aweme_id", "string", e, "creator of the grant (达人UID)", "达人UID"),
        _f("status", "string", e, "draft, requested, active, expired, revoked, rejected", "授权状态"),
        _f("auth_type", "string", e, "cooperative (合作达人), self_operated (自运营), official (官方)", "授权类型"),
        _f("scope", "string", e, "single_video, live_room, all_works, account (抖音号授权)", "授权范围"),
        _f("channel", "string", e, "pc, mobile_pre_order, mobile_at_order", "授权渠道"),
        _f("video_id", "string", e, "the authorized video, for single_video grants", "授权视频ID"),
        _f("revoke_requested", "bool", e, "the creator asked to end the grant", "达人申请解除授权"),
        _f("has_agreement", "bool", e, "a signed authorization agreement is on file", "已签授权协议"),
        _f("requested_at", "string", e, "date requested (ISO)", "申请日期"),
        _f("starts_at", "string", e, "date started (ISO)", "开始日期"),
        _f("ends_at", "string", e, "end date (ISO; null when permanent or unknown)", "结束日期"),
    ]
    out += [_f(f"creator.{n}", t, e, f"creator: {en}", f"达人{zh}", u) for n, t, u, en, zh in CREATOR_COLUMNS]
    out += [
        _f("creator_is_own_account", "bool", e,
           "the creator account is known to be the merchant's own (is_own_account, or the "
           "merchant's own_accounts setting); false when unknown", "达人为商家自有账号"),
        _f("creator_violation", "bool", e, "the creator has a serious violation", "达人有严重违规"),
        _f("has_cooperation_code", "bool", e, "the creator's cooperation code is on file", "已收集达人合作码"),
        _f("duration_days", "integer", e, "ends_at - (starts_at or requested_at); null when permanent or the end is unknown",
           "授权时长", "days"),
        _f("is_permanent", "bool", e, "ends on or after the platform's 2099-12-31 (永久)", "永久授权"),
        _f("end_date_known", "bool", e, "the grant's end date is known (false: the export had none)",
           "结束日期已知"),
        _f("has_renewal", "bool", e,
           "a renewal grant linked to this one exists (not rejected or revoked)", "已发起续期"),
        _f("days_to_expiry", "integer", e, "ends_at - as_of; null when permanent or unknown",
           "距到期天数", "days"),
        _f("days_pending", "integer", e, "as_of - requested_at", "申请已等待天数", "days"),
        _f("days_active", "integer", e, "as_of - starts_at, once started", "已生效天数", "days"),
        _f("spend_after_end", "number", e, "spend attributed to the grant after ends_at, up to as_of (null: end unknown)",
           "到期后消耗", _MONEY),
        _f("roi_below_break_even_streak", "integer", e,
           "days in a row, back from the window's last day, with ROI below break-even (within 30 "
           "days); days spending less than the pack's params.min_daily_spend are skipped; a day "
           "that spent without GMV ends the count, and with none counted the streak is unknown",
           "ROI连续低于保本的天数（消耗低于每日消耗下限的日子跳过不计；有消耗但无成交金额的一天"
           "结束计数，此前一天都未计入时为未知）", "days"),
        _f("roi_improving", "bool", e,
           "the latest day's ROI beats each of the two days before it and is still below "
           "break-even (the last 3 of 7 days with spend of at least params.min_daily_spend)",
           "ROI在提升"),
    ]
    out += _metric_fields(e) + _merchant_setting_fields(e)
    return out


def _merchant_fields() -> list[FieldSpec]:
    e = "merchant"
    out = [
        _f("merchant_id", "string", e, "merchant id", "商家ID"),
        _f("name", "string", e, "merchant name", "商家名称"),
        _f("target_gender", "string", e, "target audience gender: male, female (null: any)", "目标人群性别"),
        _f("goal", "string", e, "delivery goal", "投放目标"),
        _f("pool_size", "integer", e, "creators in the pool (status in_pool)", "达人池人数", "count"),
        _f("pending_grants", "integer", e, "grants with status requested", "待确认授权数", "count"),
        _f("days_since_permission_audit", "integer", e,
           "as_of - last permission audit (or the merchant's creation)", "距上次权限核查天数", "days"),
        _f("data_through", "string", e, "newest day with metric rows up to as_of (ISO; null: none)", "数据截至日期"),
        _f("data_age_days", "integer", e, "as_of - data_through", "数据滞后天数", "days"),
        _f("window_end", "string", e,
           "last day of the merchant's metric windows: its newest metric day up to "
           "as_of - exclude_recent_days (ISO)", "指标窗口截止日期"),
    ]
    out += _pool_percentile_fields(e) + _merchant_setting_fields(e)
    return out


# fmt: on

BUILTIN_FIELDS: tuple[FieldSpec, ...] = (*_creator_fields(), *_grant_fields(), *_merchant_fields())


def builtin_schema() -> FactSchema:
    """A fresh schema with the built-in fields; plugins add theirs to their own copy."""
    return FactSchema(BUILTIN_FIELDS)
