"""Fact schema and builders, on SQLite and PostgreSQL (the `db` fixture runs both)."""

from __future__ import annotations

import gc
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from qcrules.facts import (
    BUILTIN_FIELDS,
    PYTHON_TYPES,
    DuplicateFieldError,
    FactSchema,
    FieldSpec,
    build_facts,
    builtin_schema,
    percentile,
)
from qcrules.model import Creator, DailyMetric, Grant, Merchant, PoolMember
from qcrules.model.db import upsert
from qcrules.model.tables import METRIC_KEY

AS_OF = date(2026, 11, 27)
# Explicit, timezone-aware record stamps: the model's naive utcnow() default is rejected by
# SQLModel's UTCDateTime column type, and fixed stamps keep "days since creation" stable.
STAMP = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
STAMPS = {"created_at": STAMP, "updated_at": STAMP}


def day(offset: int) -> date:
    """AS_OF shifted by `offset` days (negative: the past)."""
    return AS_OF + timedelta(days=offset)


# ---------------------------------------------------------------------------------------------
# data helpers: one row per upsert so each row may set its own columns


def add_merchant(db, mid: str = "M1", **kw: Any) -> None:
    row = {"merchant_id": mid, "name": f"商家{mid}", "break_even_roi": 2.0, **STAMPS, **kw}
    with db.begin() as conn:
        upsert(conn, Merchant, [row], ["merchant_id"])


def add_creator(db, aweme: str, **kw: Any) -> None:
    row = {"aweme_id": aweme, "nickname": f"达人{aweme}", **STAMPS, **kw}
    with db.begin() as conn:
        upsert(conn, Creator, [row], ["aweme_id"])


def add_pool(db, mid: str, aweme: str, status: str = "in_pool") -> None:
    with db.begin() as conn:
        upsert(
            conn,
            PoolMember,
            [{"merchant_id": mid, "aweme_id": aweme, "status": status, "updated_at": STAMP}],
            ["merchant_id", "aweme_id"],
        )


def add_grant(db, gid: str, mid: str, aweme: str, status: str = "active", **kw: Any) -> None:
    row = {
        "grant_id": gid,
        "merchant_id": mid,
        "aweme_id": aweme,
        "auth_type": "cooperative",
        "scope": "single_video",
        "status": status,
        **STAMPS,
        **kw,
    }
    with db.begin() as conn:
        upsert(conn, Grant, [row], ["grant_id"])


def add_metric(
    db,
    mid: str,
    aweme: str,
    offset: int,
    spend: float,
    impressions: int = 1000,
    clicks: int = 50,
    orders: int | None = 5,
    gmv: float | None = None,
    add_to_cart: int | None = 2,
    grant_id: str | None = None,
) -> None:
    row = {
        "merchant_id": mid,
        "aweme_id": aweme,
        "date": day(offset),
        "grant_id": grant_id or "",
        "spend": spend,
        "impressions": impressions,
        "clicks": clicks,
        "orders": orders,
        "gmv": gmv if gmv is not None else spend * 2.5,
        "add_to_cart": add_to_cart,
    }
    with db.begin() as conn:
        upsert(conn, DailyMetric, [row], METRIC_KEY)


def add_metric_nogmv(db, mid: str, aweme: str, offset: int, spend: float) -> None:
    with db.begin() as conn:
        upsert(
            conn,
            DailyMetric,
            [
                {
                    "merchant_id": mid,
                    "aweme_id": aweme,
                    "date": day(offset),
                    "spend": spend,
                    "impressions": 100,
                    "clicks": 10,
                    "orders": None,
                    "gmv": None,
                }
            ],
            METRIC_KEY,
        )


def by_id(facts, entity: str) -> dict[str, dict[str, Any]]:
    return {f.entity_id: f.values for f in facts[entity]}


def creator_facts(facts) -> dict[tuple[str, str], dict[str, Any]]:
    return {(f.merchant_id, f.aweme_id): f.values for f in facts.creator}


def basic(db, mid: str = "M1", aweme: str = "A", **merchant_kw: Any) -> None:
    add_merchant(db, mid, **merchant_kw)
    add_creator(db, aweme)
    add_pool(db, mid, aweme)


# ---------------------------------------------------------------------------------------------
# schema


def test_schema_has_contract_fields_per_entity():
    schema = builtin_schema()
    creator, grant, merchant = (schema.fields_for(e) for e in ("creator", "grant", "merchant"))
    for name in (
        "audience_match", "category_match", "price_to_gmv", "has_cooperation_code", "in_pool",
        "excluded", "authorized_this_merchant_before", "spend_3d_any", "break_even_roi",
        "industry_cvr", "pool.ctr_7d_p20", "pool.roi_7d_p20", "spend_30d", "ctr_7d",
        "days_with_data", "active_fan_ratio", "merchant_id", "aweme_id", "pool_status",
    ):  # fmt: skip
        assert name in creator, name
    for name in (
        "creator.fans_count", "creator_is_own_account", "creator_violation",
        "has_cooperation_code", "duration_days", "is_permanent", "days_to_expiry",
        "days_pending", "days_active", "spend_after_end", "roi_below_break_even_streak",
        "roi_improving", "cvr_7d", "add_to_cart_rate_7d", "grant_id", "status", "auth_type",
        "scope", "channel",
    ):  # fmt: skip
        assert name in grant, name
    for name in ("pool_size", "pending_grants", "days_since_permission_audit", "pool.roi_7d_p20"):
        assert name in merchant
    assert creator["in_pool"] == "bool" and grant["roi_improving"] == "bool"
    assert grant["days_to_expiry"] == "integer" and grant["spend_7d"] == "number"
    assert all(s.source == "builtin" for s in BUILTIN_FIELDS)
    assert "cooperation_code" not in creator and "creator.cooperation_code" not in grant


def test_schema_add_get_and_duplicates():
    schema = FactSchema()
    spec = FieldSpec("gpm_7d", "number", "grant", "GMV per mille", "千次成交", "CNY", "myplugin")
    schema.add(spec)
    assert schema.get("gpm_7d", "grant") is spec
    assert schema.get("gpm_7d", "creator") is None
    assert ("gpm_7d", "grant") in schema
    with pytest.raises(DuplicateFieldError, match="myplugin"):
        schema.add(FieldSpec("gpm_7d", "integer", "grant", "x", "x"))
    schema.add(FieldSpec("gpm_7d", "number", "creator", "x", "x"))  # same name, other entity
    assert builtin_schema() is not builtin_schema()
    with pytest.raises(DuplicateFieldError):
        builtin_schema().add(FieldSpec("ctr_7d", "number", "grant", "x", "x", source="p"))
    with pytest.raises(ValueError):
        FieldSpec("bad name", "number", "grant", "x", "x")
    with pytest.raises(ValueError):
        FieldSpec("ok", "float", "grant", "x", "x")
    with pytest.raises(ValueError):
        FieldSpec("ok", "number", "campaign", "x", "x")


def test_percentile_matches_numpy_linear():
    assert percentile([], 0.2) is None
    assert percentile([5.0], 0.2) == 5.0
    assert percentile([1, 2, 3, 4], 0.2) == pytest.approx(1.6)  # numpy.percentile(..., 20)
    assert percentile([10, 0, 30, 20, 40], 0.2) == pytest.approx(8.0)


# ---------------------------------------------------------------------------------------------
# windows


def _window_data(db) -> None:
    basic(db)
    add_metric(db, "M1", "A", 0, 10, impressions=100, clicks=10, orders=1, gmv=30, add_to_cart=2)
    add_metric(db, "M1", "A", -6, 20, impressions=200, clicks=20, orders=2, gmv=40, add_to_cart=1)
    add_metric(
        db, "M1", "A", -7, 1000, impressions=5000, clicks=100, orders=9, gmv=1, add_to_cart=0
    )
    add_metric(db, "M1", "A", -29, 7, impressions=70, clicks=7, orders=0, gmv=7)
    add_metric(db, "M1", "A", -30, 9999)
    add_metric(db, "M1", "A", 1, 5000)  # after as_of: never counts


def test_window_edges(db):
    _window_data(db)
    v = creator_facts(build_facts(db, AS_OF))[("M1", "A")]
    assert (v["spend_1d"], v["spend_3d"], v["spend_7d"], v["spend_30d"]) == (
        10.0,
        10.0,
        30.0,
        1037.0,
    )
    assert (v["impressions_1d"], v["impressions_7d"], v["impressions_30d"]) == (100, 300, 5370)
    assert (v["clicks_7d"], v["orders_7d"], v["gmv_7d"], v["add_to_cart_7d"]) == (30, 3, 70.0, 3)
    assert v["orders_30d"] == 12 and v["gmv_30d"] == 78.0
    assert v["ctr_7d"] == pytest.approx(0.1)
    assert v["roi_7d"] == pytest.approx(70 / 30)
    assert v["cvr_7d"] == pytest.approx(3 / 30)
    assert v["add_to_cart_rate_7d"] == pytest.approx(3 / 30)
    assert v["days_with_data"] == 2
    assert type(v["spend_7d"]) is float and type(v["impressions_7d"]) is int
    assert type(v["orders_7d"]) is int and type(v["days_with_data"]) is int


def test_exclude_recent_days_shifts_windows(db):
    _window_data(db)
    facts = build_facts(db, AS_OF, exclude_recent_days=1)
    assert facts.window_end == day(-1) and facts.as_of == AS_OF
    v = creator_facts(facts)[("M1", "A")]
    assert v["spend_1d"] == 0.0 and v["ctr_7d"] == pytest.approx(120 / 5200)
    assert v["spend_7d"] == 1020.0  # days -7 … -1
    assert v["spend_30d"] == 20 + 1000 + 7 + 9999  # days -30 … -1
    assert v["days_with_data"] == 2


def test_zero_denominators_and_missing_values(db):
    basic(db, aweme="A")
    add_creator(db, "B")
    add_pool(db, "M1", "B")
    add_creator(db, "C")
    add_pool(db, "M1", "C")
    add_metric(db, "M1", "A", -1, 0, impressions=0, clicks=0, orders=0, gmv=0, add_to_cart=0)
    add_metric_nogmv(db, "M1", "C", -2, 50)
    add_metric(db, "M1", "C", -3, 50, gmv=100)
    cf = creator_facts(build_facts(db, AS_OF))
    a, b, c = cf[("M1", "A")], cf[("M1", "B")], cf[("M1", "C")]
    assert a["spend_7d"] == 0.0 and a["impressions_7d"] == 0 and a["days_with_data"] == 1
    assert a["ctr_7d"] is a["roi_7d"] is a["cvr_7d"] is a["add_to_cart_rate_7d"] is None
    # no rows at all: sums are 0 (nothing was spent), ratios unknown
    assert b["spend_30d"] == 0.0 and b["orders_7d"] == 0 and b["gmv_7d"] == 0.0
    assert b["ctr_7d"] is None and b["roi_7d"] is None and b["days_with_data"] == 0
    # a day without gmv makes the window's gmv (and ROI) unknown, not a partial sum
    assert c["spend_7d"] == 100.0 and c["gmv_7d"] is None and c["roi_7d"] is None
    assert c["orders_7d"] is None and c["cvr_7d"] is None
    assert c["ctr_7d"] == pytest.approx(60 / 1100)
    assert c["gmv_1d"] == 0.0  # the 1-day window has no rows


def test_days_with_data(db):
    basic(db)
    for offset in (0, -2, -5, -8, 3):
        add_metric(db, "M1", "A", offset, 10)
    assert creator_facts(build_facts(db, AS_OF))[("M1", "A")]["days_with_data"] == 3


# ---------------------------------------------------------------------------------------------
# ROI streak and improvement (grant facts)


def _streak_grant(db, gid: str, aweme: str, rois: dict[int, float | None]) -> None:
    """One active grant whose creator has one row per given day with that ROI (None: spend 0)."""
    add_creator(db, aweme)
    add_grant(db, gid, "M1", aweme, starts_at=day(-40), ends_at=day(30))
    for offset, roi in rois.items():
        if roi is None:
            add_metric(db, "M1", aweme, offset, 0, gmv=0)
        else:
            add_metric(db, "M1", aweme, offset, 100, gmv=100 * roi)


def test_roi_streak_and_improving(db):
    add_merchant(db, "M1", break_even_roi=2.0)
    _streak_grant(db, "G1", "A", {0: 1.0, -1: 1.0, -2: 1.0, -4: 1.0})  # missing day -3
    _streak_grant(db, "G2", "B", {0: 1.9, -1: 1.5, -2: 2.0, -3: 1.0})  # day -2 at break-even
    _streak_grant(db, "G3", "C", {0: None, -1: 1.0, -2: 1.0})  # spend 0 today
    _streak_grant(db, "G4", "D", {k: 1.0 for k in range(-11, 1)})  # 12 days below
    _streak_grant(db, "G5", "E", {0: 1.5, -1: 1.2, -2: 1.0})  # improving, still below
    _streak_grant(db, "G6", "F", {0: 2.5, -1: 1.2, -2: 1.0})  # improved above break-even
    _streak_grant(db, "G7", "H", {0: 1.5, -2: 1.0})  # day -1 missing
    _streak_grant(db, "G8", "I", {0: 1.5, -1: 1.6, -2: 1.0})  # not above the day before
    g = by_id(build_facts(db, AS_OF, entities=["grant"]), "grant")
    assert g["G1"]["roi_below_break_even_streak"] == 3
    assert g["G2"]["roi_below_break_even_streak"] == 2
    assert g["G3"]["roi_below_break_even_streak"] == 0
    assert g["G4"]["roi_below_break_even_streak"] == 12
    assert g["G1"]["roi_improving"] is False  # flat
    assert g["G2"]["roi_improving"] is False  # 1.9 beats 1.5 but not 2.0
    assert g["G5"]["roi_improving"] is True and g["G5"]["roi_below_break_even_streak"] == 3
    assert g["G6"]["roi_improving"] is False and g["G6"]["roi_below_break_even_streak"] == 0
    assert g["G7"]["roi_improving"] is None
    assert g["G3"]["roi_improving"] is None  # spend 0 → ROI unknown
    assert g["G8"]["roi_improving"] is False
    assert g["G1"]["break_even_roi"] == 2.0


# ---------------------------------------------------------------------------------------------
# evaluating the past


def test_as_of_in_the_past(db):
    basic(db)
    add_creator(db, "B")
    add_grant(db, "G-old", "M1", "A", requested_at=day(-30), starts_at=day(-28), ends_at=day(30))
    add_grant(db, "G-new", "M1", "B", "requested", requested_at=day(-3))  # after the past as_of
    for offset in range(-15, 1):
        add_metric(db, "M1", "A", offset, 10)
    past = day(-10)
    facts = build_facts(db, past)
    g = by_id(facts, "grant")
    assert set(g) == {"G-old"}
    assert g["G-old"]["days_active"] == 18 and g["G-old"]["days_to_expiry"] == 40
    assert g["G-old"]["spend_7d"] == 60.0 and g["G-old"]["spend_1d"] == 10.0  # days -15 … -10
    cf = creator_facts(facts)
    assert ("M1", "B") not in cf  # its only grant did not exist yet
    assert cf[("M1", "A")]["spend_1d"] == 10.0 and cf[("M1", "A")]["spend_30d"] == 60.0
    assert by_id(facts, "merchant")["M1"]["pending_grants"] == 0
    # a grant requested before as_of but starting after it exists, not yet started
    add_grant(db, "G-sched", "M1", "B", "active", requested_at=day(-12), starts_at=day(-5))
    g = by_id(build_facts(db, past, entities=["grant"]), "grant")
    assert g["G-sched"]["days_active"] is None and g["G-sched"]["spend_7d"] == 0.0


# ---------------------------------------------------------------------------------------------
# pool percentiles


def test_pool_percentiles_linear_interpolation(db):
    add_merchant(db, "M1")
    ctrs = [0.05, 0.01, 0.03, 0.02, 0.08]
    rois = [1.0, 3.0, 2.0, 0.5, 4.0]
    for i, (ctr, roi) in enumerate(zip(ctrs, rois, strict=True)):
        aweme = f"P{i}"
        add_creator(db, aweme)
        add_pool(db, "M1", aweme, "in_pool")
        for offset in range(-6, 1):  # a full 7-day window: a peer
            add_metric(
                db,
                "M1",
                aweme,
                offset,
                100,
                impressions=1000,
                clicks=int(ctr * 1000),
                gmv=100 * roi,
            )
    add_creator(db, "CAND")  # a candidate does not count
    add_pool(db, "M1", "CAND", "candidate")
    add_metric(db, "M1", "CAND", -1, 100, impressions=1000, clicks=900, gmv=1)
    add_creator(db, "OLD")  # in pool, but its only data is older than 7 days
    add_pool(db, "M1", "OLD", "in_pool")
    add_metric(db, "M1", "OLD", -9, 100, impressions=1000, clicks=1, gmv=1)
    add_creator(db, "NEW")  # in pool, too few days to be anyone's yardstick
    add_pool(db, "M1", "NEW", "in_pool")
    for offset in range(-5, 1):
        add_metric(db, "M1", "NEW", offset, 100, impressions=1000, clicks=1, gmv=1)
    facts = build_facts(db, AS_OF)
    # sorted ctrs 0.01 0.02 0.03 0.05 0.08, position (5-1)*0.2 = 0.8
    expected_ctr = 0.01 + 0.8 * (0.02 - 0.01)
    expected_roi = 0.5 + 0.8 * (1.0 - 0.5)
    m = by_id(facts, "merchant")["M1"]
    assert m["pool.ctr_7d_p20"] == pytest.approx(expected_ctr)
    assert m["pool.roi_7d_p20"] == pytest.approx(expected_roi)
    assert m["pool.peer_count"] == 5
    assert m["pool_size"] == 7
    got = creator_facts(facts)
    for aweme in ("CAND", "OLD", "NEW"):  # not peers: measured against all five
        assert got[("M1", aweme)]["pool.ctr_7d_p20"] == pytest.approx(expected_ctr)
        assert got[("M1", aweme)]["pool.roi_7d_p20"] == pytest.approx(expected_roi)
        assert got[("M1", aweme)]["pool.peer_count"] == 5
    for i in range(len(ctrs)):
        # a peer is measured against the four others, never against itself
        others_ctr = sorted(c for j, c in enumerate(ctrs) if j != i)
        others_roi = sorted(r for j, r in enumerate(rois) if j != i)
        v = got[("M1", f"P{i}")]
        assert v["pool.ctr_7d_p20"] == pytest.approx(percentile(others_ctr, 0.2))
        assert v["pool.roi_7d_p20"] == pytest.approx(percentile(others_roi, 0.2))
        assert v["pool.peer_count"] == 4
    # a merchant without in-pool data has no percentiles
    add_merchant(db, "M2")
    m2 = by_id(build_facts(db, AS_OF), "merchant")["M2"]
    assert m2["pool.ctr_7d_p20"] is None
    assert m2["pool.peer_count"] == 0


# ---------------------------------------------------------------------------------------------
# audience and category match


def test_audience_and_category_match(db):
    dist = {"18-23": 0.1, "24-30": 0.3, "31-40": 0.4, "41-50": 0.15, "50-": 0.05}
    add_merchant(
        db,
        "M1",
        target_gender="female",
        target_age_bands=["31-40", "41-50"],
        categories=["女装", "配饰"],
    )
    add_merchant(db, "M2")  # no targets, no categories
    add_merchant(db, "M3", target_gender="male", target_age_bands=["50+"])
    add_creator(db, "A", fan_male_ratio=0.2, fan_age_dist=dist, categories=["女装"])
    add_creator(db, "B", fan_male_ratio=0.6, fan_age_dist=dist, categories=["数码"])
    add_creator(db, "C", fan_age_dist=dist)  # no gender data, no categories
    add_creator(db, "D", fan_male_ratio=0.5)  # no age data
    add_creator(db, "E", fan_male_ratio=0.4, fan_age_dist="31-40岁:0.5,41-50:0.25")  # as text
    for mid in ("M1", "M2", "M3"):
        for aweme in "ABCDE":
            add_pool(db, mid, aweme, "candidate")
    cf = creator_facts(build_facts(db, AS_OF))
    assert cf[("M1", "A")]["audience_match"] == pytest.approx(0.8 * 0.55)
    assert cf[("M1", "B")]["audience_match"] == pytest.approx(0.4 * 0.55)
    assert cf[("M1", "C")]["audience_match"] is None
    assert cf[("M1", "D")]["audience_match"] is None
    assert cf[("M1", "E")]["audience_match"] == pytest.approx(0.6 * 0.75)
    assert cf[("M2", "C")]["audience_match"] == 1.0
    assert cf[("M3", "A")]["audience_match"] == pytest.approx(0.2 * 0.05)  # "50-" is "50+"
    assert cf[("M1", "A")]["category_match"] is True
    assert cf[("M1", "B")]["category_match"] is False
    assert cf[("M1", "C")]["category_match"] is None
    assert cf[("M2", "A")]["category_match"] is None


def test_creator_columns_price_and_cooperation_code(db):
    add_merchant(db, "M1")
    add_merchant(db, "M2")
    add_creator(db, "A", quote_price=500, avg_gmv_30d=2000, cooperation_code="SECRET-1", fans_count=12000,
                active_fan_ratio=0.7, accepts_ads=True, data_verified=False)  # fmt: skip
    add_creator(db, "B", quote_price=500, avg_gmv_30d=0, cooperation_code="  ")
    add_pool(db, "M1", "A", "candidate")
    add_pool(db, "M1", "B", "candidate")
    add_metric(db, "M2", "A", -2, 40)  # another merchant's spend still counts for spend_3d_any
    add_metric(db, "M1", "A", -3, 5)  # outside the 3-day window
    add_metric(db, "M1", "B", 0, 1)
    cf = creator_facts(build_facts(db, AS_OF))
    a, b = cf[("M1", "A")], cf[("M1", "B")]
    assert a["price_to_gmv"] == 0.25 and b["price_to_gmv"] is None
    assert a["has_cooperation_code"] is True and b["has_cooperation_code"] is False
    assert "SECRET-1" not in repr(cf)
    assert a["fans_count"] == 12000 and a["active_fan_ratio"] == 0.7
    assert (
        a["accepts_ads"] is True and a["data_verified"] is False and a["real_name_verified"] is None
    )
    assert a["spend_3d_any"] == 40.0 and b["spend_3d_any"] == 1.0
    assert a["spend_30d"] == 5.0  # only M1's rows for an M1 fact


# ---------------------------------------------------------------------------------------------
# grants: dates and attribution


def test_grant_date_fields(db):
    basic(db)
    add_grant(db, "G-perm", "M1", "A", starts_at=day(-3))
    add_grant(db, "G-2099", "M1", "A", "active", starts_at=day(-3), ends_at=date(2099, 12, 31))
    add_grant(db, "G-run", "M1", "A", requested_at=day(-7), starts_at=day(-5), ends_at=day(10))
    add_grant(db, "G-req", "M1", "A", "requested", requested_at=day(-4), ends_at=day(26))
    add_grant(db, "G-3000", "M1", "A", "active", starts_at=day(-3), ends_at=date(3000, 1, 1))
    g = by_id(build_facts(db, AS_OF, entities=["grant"]), "grant")
    for gid in ("G-2099", "G-3000"):  # one definition of permanent: on or after 2099-12-31
        assert g[gid]["is_permanent"] is True and g[gid]["end_date_known"] is True
        assert g[gid]["duration_days"] is None and g[gid]["days_to_expiry"] is None
        assert g[gid]["ends_at"] is None and g[gid]["spend_after_end"] == 0.0
    # no end date at all is an unknown end, not a permanent one: nothing is made up
    unknown = g["G-perm"]
    assert unknown["is_permanent"] is False and unknown["end_date_known"] is False
    assert unknown["duration_days"] is None and unknown["days_to_expiry"] is None
    assert unknown["ends_at"] is None and unknown["spend_after_end"] is None
    assert g["G-run"]["end_date_known"] is True
    run = g["G-run"]
    assert run["is_permanent"] is False and run["duration_days"] == 15
    assert run["days_to_expiry"] == 10 and run["days_active"] == 5 and run["days_pending"] == 7
    assert run["starts_at"] == day(-5).isoformat() and run["ends_at"] == day(10).isoformat()
    req = g["G-req"]
    assert req["days_active"] is None and req["days_pending"] == 4 and req["duration_days"] == 30
    assert g["G-perm"]["days_pending"] is None
    assert run["status"] == "active" and run["auth_type"] == "cooperative"
    assert run["creator.nickname"] == "达人A" and run["creator.fans_count"] is None


def test_grant_creator_fields(db):
    add_merchant(db, "M1")
    add_creator(
        db, "A", is_own_account=False, serious_violation=True, cooperation_code="X", fans_count=9
    )
    add_grant(db, "G1", "M1", "A", auth_type="self_operated", scope="all_works", channel="pc",
              has_agreement=False, revoke_requested=True)  # fmt: skip
    v = by_id(build_facts(db, AS_OF, entities=["grant"]), "grant")["G1"]
    assert v["creator_is_own_account"] is False and v["creator_violation"] is True
    assert v["has_cooperation_code"] is True and v["creator.fans_count"] == 9
    assert v["creator.serious_violation"] is True
    assert (v["auth_type"], v["scope"], v["channel"]) == ("self_operated", "all_works", "pc")
    assert v["has_agreement"] is False and v["revoke_requested"] is True


def test_attribution_of_rows_without_grant_id(db):
    basic(db)
    add_grant(db, "G-old", "M1", "A", "expired", starts_at=day(-20), ends_at=day(-5))
    add_grant(db, "G-renew", "M1", "A", "requested", requested_at=day(-2))  # never started
    add_grant(db, "G-rej", "M1", "A", "rejected", requested_at=day(-3))
    add_grant(db, "G-other", "M1", "A", "active", starts_at=day(-30), ends_at=day(30))
    add_metric(db, "M1", "A", -25, 1)  # G-other is the latest started grant then
    add_metric(db, "M1", "A", -6, 10)
    add_metric(db, "M1", "A", -4, 20)
    add_metric(db, "M1", "A", -3, 40, grant_id="G-other")  # explicit grant id wins
    add_metric(db, "M1", "A", -1, 30)
    add_metric(db, "M1", "A", 1, 99)  # after as_of: never counts
    facts = build_facts(db, AS_OF)
    g = by_id(facts, "grant")
    assert g["G-old"]["spend_7d"] == 60.0 and g["G-old"]["days_with_data"] == 3
    assert g["G-old"]["spend_after_end"] == 50.0
    assert g["G-other"]["spend_30d"] == 41.0 and g["G-other"]["spend_7d"] == 40.0
    assert g["G-renew"]["spend_30d"] == 0.0 and g["G-rej"]["spend_30d"] == 0.0
    assert g["G-other"]["spend_after_end"] == 0.0
    assert creator_facts(facts)[("M1", "A")]["spend_30d"] == 101.0


def test_attribution_latest_started_grant_and_ties(db):
    basic(db)
    add_grant(db, "G-a", "M1", "A", "expired", starts_at=day(-20), ends_at=day(-5))
    add_grant(db, "G-b", "M1", "A", "active", starts_at=day(-2), ends_at=day(20))
    add_metric(db, "M1", "A", -25, 1)  # before any grant: nobody's
    add_metric(db, "M1", "A", -4, 20)
    add_metric(db, "M1", "A", -2, 30)  # G-b started that day
    add_metric(db, "M1", "A", 0, 40)
    add_creator(db, "T")
    add_grant(db, "T-1", "M1", "T", "active", requested_at=day(-9), ends_at=day(5))
    add_grant(db, "T-2", "M1", "T", "active", starts_at=day(-9), ends_at=day(5))
    add_metric(db, "M1", "T", -1, 7)
    g = by_id(build_facts(db, AS_OF, entities=["grant"]), "grant")
    assert g["G-a"]["spend_30d"] == 20.0 and g["G-a"]["spend_after_end"] == 20.0
    assert g["G-b"]["spend_30d"] == 70.0 and g["G-b"]["spend_1d"] == 40.0
    assert g["T-2"]["spend_7d"] == 7.0 and g["T-1"]["spend_7d"] == 0.0  # tie → greater id


def test_spend_after_end_outside_the_windows(db):
    basic(db)
    add_grant(db, "G1", "M1", "A", "expired", starts_at=day(-90), ends_at=day(-60))
    add_metric(db, "M1", "A", -59, 11)  # long before the 30-day window
    add_metric(db, "M1", "A", -60, 1000)  # on the end date: still inside the grant
    add_metric(db, "M1", "A", 0, 5)
    add_metric(db, "M1", "A", 2, 500)  # after as_of
    v = by_id(build_facts(db, AS_OF, entities=["grant"], exclude_recent_days=1), "grant")["G1"]
    assert v["spend_after_end"] == 16.0  # up to as_of, not shifted by exclude_recent_days
    assert v["spend_1d"] == 0.0 and v["spend_30d"] == 0.0


# ---------------------------------------------------------------------------------------------
# merchant defaults, pool selection, merchant facts


def test_merchant_defaults_fill_nulls(db):
    add_merchant(db, "M1", break_even_roi=2.0)
    add_creator(db, "A", fan_male_ratio=0.3, fan_age_dist={"31-40": 0.5}, categories=["配饰"])
    add_pool(db, "M1", "A", "candidate")
    defaults = {
        "M1": {
            "break_even_roi": 9.0,  # the record's own value wins
            "industry_cvr": "5%",
            "target_gender": "female",
            "target_age_bands": "31-40",
            "categories": "女装|配饰",
        }
    }
    facts = build_facts(db, AS_OF, merchant_defaults=defaults)
    v = creator_facts(facts)[("M1", "A")]
    assert v["break_even_roi"] == 2.0 and v["industry_cvr"] == pytest.approx(0.05)
    assert v["audience_match"] == pytest.approx(0.7 * 0.5) and v["category_match"] is True
    m = by_id(facts, "merchant")["M1"]
    assert m["industry_cvr"] == pytest.approx(0.05) and m["target_gender"] == "female"
    plain = creator_facts(build_facts(db, AS_OF))[("M1", "A")]
    assert plain["industry_cvr"] is None and plain["audience_match"] == 1.0


def test_pool_selection_and_merchant_facts(db):
    add_merchant(db, "M1", last_permission_audit=day(-9))
    add_merchant(db, "M2")  # created 2026-11-01
    for aweme in "ABCDEFG":
        add_creator(db, aweme)
    add_pool(db, "M1", "A", "candidate")
    add_pool(db, "M1", "B", "in_pool")
    add_pool(db, "M1", "C", "excluded")  # no grant: not evaluated
    add_pool(db, "M1", "D", "excluded")
    add_grant(db, "GD", "M1", "D", "active", starts_at=day(-3), ends_at=day(10))
    add_grant(db, "GE", "M1", "E", "requested", requested_at=day(-1))  # not in pool
    add_grant(db, "GE2", "M1", "E", "requested", requested_at=day(-2))
    add_pool(db, "M2", "G", "candidate")
    add_grant(db, "GG", "M2", "G", "revoked")  # no dates: became active once
    facts = build_facts(db, AS_OF)
    cf = creator_facts(facts)
    assert set(cf) == {("M1", "A"), ("M1", "B"), ("M1", "D"), ("M1", "E"), ("M2", "G")}
    assert cf[("M1", "D")]["excluded"] is True and cf[("M1", "D")]["in_pool"] is False
    assert cf[("M1", "D")]["authorized_this_merchant_before"] is True
    assert cf[("M1", "E")]["pool_status"] is None and cf[("M1", "E")]["in_pool"] is False
    assert cf[("M1", "E")]["authorized_this_merchant_before"] is False
    assert cf[("M1", "B")]["in_pool"] is True and cf[("M1", "B")]["pool_status"] == "in_pool"
    assert cf[("M2", "G")]["authorized_this_merchant_before"] is True
    m = by_id(facts, "merchant")
    assert m["M1"]["pool_size"] == 1 and m["M1"]["pending_grants"] == 2
    assert m["M1"]["days_since_permission_audit"] == 9 and m["M1"]["name"] == "商家M1"
    assert m["M2"]["days_since_permission_audit"] == 26  # never audited: counts from creation
    only = build_facts(db, AS_OF, merchant_id="M1")
    assert {f.merchant_id for f in only} == {"M1"}
    assert only.counts() == {"creator": 4, "grant": 3, "merchant": 1}
    assert build_facts(db, AS_OF, entities=["merchant"]).counts()["creator"] == 0
    with pytest.raises(ValueError):
        build_facts(db, AS_OF, entities=["campaign"])


def test_days_since_audit_in_the_past(db):
    created = datetime(2026, 1, 1, tzinfo=UTC)
    add_merchant(db, "M1", created_at=created, last_permission_audit=day(-2))
    facts = build_facts(db, day(-5))  # the audit had not happened yet then
    assert (
        facts.merchant[0].values["days_since_permission_audit"] == (day(-5) - date(2026, 1, 1)).days
    )
    facts = build_facts(db, date(2025, 12, 1))  # before the merchant existed
    assert facts.merchant[0].values["days_since_permission_audit"] == 0


# ---------------------------------------------------------------------------------------------
# every fact matches the schema


def test_facts_match_schema_names_and_types(db):
    _window_data(db)
    add_creator(db, "B", fans_count=3, fan_male_ratio=0.5, accepts_ads=True)
    add_grant(db, "G1", "M1", "A", starts_at=day(-10), ends_at=day(5))
    add_grant(db, "G2", "M1", "B", "requested", requested_at=day(-1))
    facts = build_facts(db, AS_OF)
    schema = builtin_schema()
    assert all(facts.counts().values())
    for fact in facts:
        fields = schema.fields_for(fact.entity_type)
        assert set(fact.values) == set(fields), fact.entity_type
        for name, value in fact.values.items():
            if value is not None:
                assert type(value) is PYTHON_TYPES[fields[name]], (fact.entity_type, name, value)


def test_explicit_grant_id_counts_only_on_its_own_pair(db):
    basic(db)
    add_creator(db, "B")
    add_grant(db, "GA", "M1", "A", starts_at=day(-10), ends_at=day(10))
    add_grant(db, "GB", "M1", "B", starts_at=day(-10), ends_at=day(10))
    add_metric(db, "M1", "A", -1, 10, grant_id="GA")
    add_metric(db, "M1", "B", -1, 99, grant_id="GA")  # inconsistent row: names A's grant
    add_metric(db, "M1", "B", -2, 5, grant_id="G-unknown")
    facts = build_facts(db, AS_OF)
    g = by_id(facts, "grant")
    assert g["GA"]["spend_7d"] == 10.0 and g["GA"]["days_with_data"] == 1
    assert g["GB"]["spend_7d"] == 0.0  # a row with a grant id never falls back to the pair's grant
    assert creator_facts(facts)[("M1", "B")]["spend_7d"] == 104.0  # still the creator's spend


def test_reads_inside_a_callers_transaction(db):
    _window_data(db)
    with db.begin() as conn:
        add_metric_row = {
            "merchant_id": "M1", "aweme_id": "A", "date": day(-1), "spend": 1.0,
            "impressions": 1, "clicks": 1,
        }  # fmt: skip
        upsert(conn, DailyMetric, [add_metric_row], METRIC_KEY)
        v = creator_facts(build_facts(conn, AS_OF))[("M1", "A")]
        assert v["spend_7d"] == 31.0  # sees the uncommitted row
        assert v["orders_7d"] is None  # that row has no orders
    assert gc.isenabled()


def test_unknown_merchant_and_bad_arguments(db):
    _window_data(db)
    add_grant(db, "G1", "M1", "A", starts_at=day(-3), ends_at=day(3))
    assert build_facts(db, AS_OF, merchant_id="NOPE").counts() == {
        "creator": 0,
        "grant": 0,
        "merchant": 0,
    }
    with pytest.raises(ValueError):
        build_facts(db, AS_OF, exclude_recent_days=-1)
    grant = build_facts(db, AS_OF, entities=("grant",))
    assert grant.counts() == {"creator": 0, "grant": 1, "merchant": 0}
    assert grant["grant"][0].entity_id == "G1" and grant["grant"][0].aweme_id == "A"
    with pytest.raises(KeyError):
        grant["campaign"]
