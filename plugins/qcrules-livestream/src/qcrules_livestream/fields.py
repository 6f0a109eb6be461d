"""Live-room fact fields, computed per batch of grant facts with one set-based query."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from qcrules.model.db import table
from qcrules.model.tables import DailyMetric

EXTRA_COUNTS = ("live_watch_ucnt", "live_watch_cnt", "live_pay_ucnt")


def _window_sums(facts: list[Any], context: dict[str, Any]) -> dict[tuple[str, str], dict]:
    """7-day sums of the live columns per (merchant, creator), cached on the context."""
    cache = context.setdefault("_livestream_sums", {})
    key = id(facts)
    if key in cache:
        return cache[key]
    # each merchant's windows end at its own newest metric day (older hosts: one end for all)
    ends = context.get("window_ends") or {}
    pairs = {(f.merchant_id, f.aweme_id) for f in facts}
    merchants = sorted({m for m, _ in pairs})
    end_of = {mid: ends.get(mid, context["window_end"]) for mid in merchants}
    if not end_of:
        return {}
    start_of = {mid: end - timedelta(days=6) for mid, end in end_of.items()}
    m = table(DailyMetric).c
    sums: dict[tuple[str, str], dict] = {}
    query = select(
        m.merchant_id, m.aweme_id, m.date, m.orders, m.gmv, m.old_fan_order_ratio, m.extra
    ).where(
        m.date >= min(start_of.values()),
        m.date <= max(end_of.values()),
        m.merchant_id.in_(merchants),
    )
    with context["db"].connect() as conn:
        for row in conn.execute(query):
            pair = (row.merchant_id, row.aweme_id)
            if pair not in pairs or not start_of[pair[0]] <= row.date <= end_of[pair[0]]:
                continue
            extra = row.extra or {}
            acc = sums.setdefault(
                pair,
                {
                    "gmv": 0.0,
                    "orders": 0,
                    "old_fan_orders": 0.0,
                    "ratio_orders": 0,
                    **dict.fromkeys(EXTRA_COUNTS, None),
                },
            )
            acc["gmv"] += row.gmv or 0.0
            if row.orders and row.old_fan_order_ratio is not None:
                acc["old_fan_orders"] += row.orders * row.old_fan_order_ratio
                acc["ratio_orders"] += row.orders
            for column in EXTRA_COUNTS:
                value = extra.get(column)
                if value is not None:
                    acc[column] = (acc[column] or 0) + int(value)
    cache[key] = sums
    return sums


def _per_fact(compute):
    def run(facts, context):
        sums = _window_sums(facts, context)
        return [compute(sums.get((f.merchant_id, f.aweme_id))) for f in facts]

    return run


def _count(column):
    return lambda acc: None if acc is None else acc[column]


def _gpm(acc):
    if acc is None or not acc["live_watch_cnt"]:
        return None
    return acc["gmv"] / acc["live_watch_cnt"] * 1000


def _watch_pay(acc):
    if acc is None or not acc["live_watch_ucnt"] or acc["live_pay_ucnt"] is None:
        return None
    return acc["live_pay_ucnt"] / acc["live_watch_ucnt"]


def _old_fans(acc):
    if acc is None or not acc["ratio_orders"]:
        return None
    return acc["old_fan_orders"] / acc["ratio_orders"]


FIELDS = [
    (
        "live_watch_ucnt_7d",
        "integer",
        "live-room viewers over 7 days (电商罗盘 直播间观看人数)",
        "近7天直播间观看人数",
        "people",
        _per_fact(_count("live_watch_ucnt")),
    ),
    (
        "live_watch_cnt_7d",
        "integer",
        "live-room views over 7 days (直播间观看次数)",
        "近7天直播间观看次数",
        "views",
        _per_fact(_count("live_watch_cnt")),
    ),
    (
        "live_pay_ucnt_7d",
        "integer",
        "buyers in the live room over 7 days (成交人数)",
        "近7天直播间成交人数",
        "people",
        _per_fact(_count("live_pay_ucnt")),
    ),
    (
        "live_gpm_7d",
        "number",
        "GMV per thousand views over 7 days (千次观看成交金额, GPM)",
        "近7天千次观看成交金额",
        "CNY",
        _per_fact(_gpm),
    ),
    (
        "live_watch_pay_rate_7d",
        "number",
        "buyers / viewers over 7 days (观看-成交转化率)",
        "近7天观看-成交转化率",
        "ratio",
        _per_fact(_watch_pay),
    ),
    (
        "live_old_fan_pay_ratio_7d",
        "number",
        "share of 7-day orders from old fans (成交老粉占比)",
        "近7天成交老粉占比",
        "ratio",
        _per_fact(_old_fans),
    ),
]
