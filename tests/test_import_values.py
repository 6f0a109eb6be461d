"""Cell parsers and the header map of `qcrules import`: every format the contract promises."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from qcrules.ingest.columns import (
    ENUM_ALIASES,
    ENUM_CANONICAL,
    KINDS,
    header_map,
    is_derived,
    match_key,
    normalize_header,
)
from qcrules.ingest.values import (
    enum_parser,
    parse_age_bands,
    parse_age_dist,
    parse_bool,
    parse_column,
    parse_date,
    parse_end_date,
    parse_id,
    parse_int,
    parse_list,
    parse_money,
    parse_ratio_column,
)
from qcrules.safety import mask_secret

ALIASES = [
    (kind.name, column.name, alias)
    for kind in KINDS.values()
    for column in kind.columns
    for alias in (column.name, *column.aliases)
]


@pytest.mark.parametrize(("kind", "column", "alias"), ALIASES)
def test_every_alias_maps_to_its_column(kind, column, alias):
    hmap = header_map(KINDS[kind])
    assert hmap[match_key(alias)] == column
    # also with the decorations real exports add
    assert hmap[match_key(f" {alias}（元）")] == column
    assert hmap[match_key(f"{alias.upper()} (%)")] == column


def test_contract_aliases_are_all_there():
    """The minimum list of contracts.md § Import files."""
    contract = {
        "creators": {
            "aweme_id": ["达人UID", "抖音UID", "达人id"],
            "aweme_show_id": ["抖音号"],
            "nickname": ["达人昵称", "昵称"],
            "fans_count": ["粉丝数"],
            "active_fan_ratio": ["活跃粉丝占比"],
            "completion_rate": ["完播率"],
            "interaction_rate": ["互动率"],
            "categories": ["主营类目", "类目"],
            "reputation_score": ["带货口碑"],
            "quote_price": ["报价"],
            "rebate_rate": ["返点", "返点比例"],
            "commission_rate": ["佣金率"],
            "cooperation_code": ["合作码", "达人合作码"],
        },
        "metrics": {
            "date": ["日期", "时间"],
            "spend": ["消耗", "花费", "整体消耗", "千川消耗"],
            "impressions": ["展示次数", "展现次数", "展示", "展现", "整体展示次数"],
            "clicks": ["点击次数", "点击", "整体点击次数"],
            "orders": ["成交订单数", "支付订单数", "整体成交订单数"],
            "gmv": ["成交金额", "支付金额", "整体成交金额", "GMV"],
            "conversions": ["转化数"],
            "add_to_cart": ["加购次数", "加购"],
        },
    }
    for kind, columns in contract.items():
        hmap = header_map(KINDS[kind])
        for column, aliases in columns.items():
            for alias in aliases:
                assert hmap[match_key(alias)] == column, (kind, alias)


def test_header_normalisation():
    assert normalize_header(" 整体消耗（元） ") == "整体消耗"
    assert normalize_header("完播率(%)") == "完播率"
    assert normalize_header("展现次数 (次)") == "展现次数"
    assert normalize_header("Fans Count") == "fanscount"
    assert match_key("fans_count") == match_key("Fans Count") == match_key("FANS-COUNT")
    hmap = header_map(KINDS["metrics"])
    assert hmap[match_key("整体成交金额（元）")] == "gmv"
    assert hmap[match_key("ＧＭＶ")] == "gmv"  # full-width letters


def test_plugin_aliases_extend_the_map():
    hmap = header_map(KINDS["metrics"], {"spend": ["投放花费"], "nope": ["x"]})
    assert hmap[match_key("投放花费")] == "spend"
    assert match_key("x") not in hmap


def test_derived_columns_are_recognised():
    for header in ("CTR", "整体点击率", "支付ROI", "整体支付ROI", "转化率", "cvr(%)"):
        assert is_derived(header), header
    assert not is_derived("整体消耗")


# --- numbers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("¥1,234.50", 1234.5),
        ("￥1,234.50", 1234.5),
        ("1,234.50元", 1234.5),
        ("1234.5", 1234.5),
        ("  88 ", 88.0),
        ("1.2万", 12000.0),
        (12.5, 12.5),
    ],
)
def test_money(text, expected):
    assert parse_money(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["abc", "1,2", "-5", "¥", "1.2.3"])
def test_money_rejects(text):
    with pytest.raises(ValueError):
        parse_money(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1,234", 1234), ("1.2万", 12000), ("3.5w", 35000), ("3.5W", 35000), ("12", 12), (7.0, 7)],
)
def test_int(text, expected):
    assert parse_int(text) == expected


@pytest.mark.parametrize(("text", "reason"), [("12.5", "whole"), ("abc", "not a number")])
def test_int_rejects(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_int(text)


def test_number_columns_fast_and_slow_paths_agree():
    column = KINDS["metrics"].by_name["impressions"]
    fast, errors, _ = parse_column(column, ["1", "2", "3"], True)
    assert (fast, errors) == ([1, 2, 3], [])
    slow, errors, _ = parse_column(column, ["1", "", "1,234", "2万", "x"], True)
    assert slow == [1, None, 1234, 20000, None]
    assert errors == [(4, "not a number")]
    money = KINDS["metrics"].by_name["spend"]
    values, errors, _ = parse_column(money, ["1.5", "nan", "-", "inf"], True)
    assert values[:3] == [1.5, None, None]
    assert errors and errors[0][0] == 3


def test_empty_is_missing_never_zero():
    for type_column in (
        KINDS["metrics"].by_name["orders"],
        KINDS["metrics"].by_name["gmv"],
        KINDS["creators"].by_name["completion_rate"],
        KINDS["creators"].by_name["accepts_ads"],
        KINDS["creators"].by_name["categories"],
        KINDS["creators"].by_name["nickname"],
    ):
        values, errors, _ = parse_column(type_column, ["", "  "], True)
        assert values == [None, None] and errors == [], type_column.name
        values, errors, _ = parse_column(type_column, [None], False)
        assert values == [None] and errors == [], type_column.name


# --- ratios ------------------------------------------------------------------------------------


def test_ratio_fractions_and_percent():
    values, errors, notes = parse_ratio_column(["0.65", "65%", "", "100%", "0"], True)
    assert values == [0.65, 0.65, None, 1.0, 0.0]
    assert errors == [] and notes == []


def test_ratio_column_on_the_hundred_scale():
    values, errors, notes = parse_ratio_column(["65", "35", "1", "0", ""], True)
    assert values[:4] == pytest.approx([0.65, 0.35, 0.01, 0.0])
    assert values[4] is None
    assert errors == [] and notes == ["0–100"]
    fast, errors, notes = parse_ratio_column(["65", "35.5"], True)
    assert fast == pytest.approx([0.65, 0.355]) and notes == ["0–100"]


def test_ratio_mixed_scales_name_the_odd_lines():
    values, errors, _ = parse_ratio_column(["65", "35", "0.4", "50"], True)
    assert [i for i, _ in errors] == [2]
    assert "mixes scales" in errors[0][1]
    assert values[0] == pytest.approx(0.65) and values[2] is None
    _, errors, _ = parse_ratio_column(["65%", "35%", "50"], True)
    assert [i for i, _ in errors] == [2]
    assert "this is a 0–100 number but the rest of the column has percentages" in errors[0][1]


def test_ratio_out_of_range():
    _, errors, _ = parse_ratio_column(["150%"], True)
    assert errors and "exceed" in errors[0][1]
    _, errors, _ = parse_ratio_column(["150", "50"], True)
    assert [i for i, _ in errors] == [0]
    _, errors, _ = parse_ratio_column(["-0.1"], True)
    assert errors and "negative" in errors[0][1]


def test_ratio_from_xlsx_numbers():
    values, errors, _ = parse_ratio_column([0.65, None, 0.3], False)
    assert values == [0.65, None, 0.3] and not errors


# --- booleans, lists, dates, enums, ids --------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["true", "TRUE", "yes", "Y", "y", "1", "是", "有", True, 1, 1.0, "1.0"]
)
def test_true(text):
    assert parse_bool(text) is True


@pytest.mark.parametrize("text", ["false", "no", "N", "n", "0", "否", "无", False, 0])
def test_false(text):
    assert parse_bool(text) is False


def test_bool_rejects():
    with pytest.raises(ValueError, match="yes/no"):
        parse_bool("maybe")


@pytest.mark.parametrize("sep", ["|", "、", ",", ";", "，", "；"])
def test_list_separators(sep):
    assert parse_list(f"男装{sep} 鞋靴 {sep}配饰") == ["男装", "鞋靴", "配饰"]


def test_list_edge_cases():
    assert parse_list("男装") == ["男装"]
    assert parse_list(" | ") is None


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-01",
        "2026/11/01",
        "2026.11.01",
        "2026/11/1",
        "2026-11-01 10:00:00",
        "2026/11/01 10:00",
        "2026-11-01T10:00:00",
        "2026年11月1日",
        "20261101",
        datetime(2026, 11, 1, 10, 0),
        date(2026, 11, 1),
        46327,  # an Excel serial day in an unformatted XLSX cell
    ],
)
def test_dates(text):
    assert parse_date(text) == date(2026, 11, 1)


@pytest.mark.parametrize(
    ("text", "reason"), [("2026-02-30", "no such date"), ("soon", "not a date")]
)
def test_bad_dates(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_date(text)


def test_end_dates_permanent():
    permanent = date(2099, 12, 31)  # the one mark of a permanent grant
    assert parse_end_date("2099-12-31") == permanent
    assert parse_end_date("2099-12-31 23:59:59") == permanent
    assert parse_end_date("3000-01-01") == permanent
    assert parse_end_date("永久") == permanent
    assert parse_end_date("不限") == permanent
    assert parse_end_date("2026-12-01") == date(2026, 12, 1)
    column = KINDS["grants"].by_name["ends_at"]
    values, errors, _ = parse_column(column, ["", "2099/12/31", "2026/12/01", "永久有效"], True)
    # an empty cell is an unknown end, not a permanent one
    assert values == [None, permanent, date(2026, 12, 1), permanent] and not errors


@pytest.mark.parametrize(
    ("enum", "alias", "canonical"),
    [
        (enum, alias, canonical)
        for enum, table in ENUM_ALIASES.items()
        for canonical, aliases in table.items()
        for alias in (canonical, *aliases)
    ],
)
def test_enum_aliases(enum, alias, canonical):
    assert enum_parser(enum)(alias) == canonical
    assert enum_parser(enum)(f" {alias.upper()} ") == canonical


def test_enum_required_spellings():
    """The spellings the brief names explicitly."""
    cases = {
        "auth_type": {
            "合作达人": "cooperative",
            "合作达人授权": "cooperative",
            "自营": "self_operated",
            "自运营": "self_operated",
            "自营授权": "self_operated",
            "官方": "official",
            "AWEME_COOPERATOR": "cooperative",
            "SELF": "self_operated",
            "OFFICIAL": "official",
        },
        "scope": {
            "单视频": "single_video",
            "直播间": "live_room",
            "所有作品": "all_works",
            "全部作品": "all_works",
            "BY_VIDEO": "single_video",
        },
        "channel": {
            "PC": "pc",
            "千川PC": "pc",
            "下单前": "mobile_pre_order",
            "下单时": "mobile_at_order",
            "QIANCHUAN": "pc",
            "AWEME": "mobile_pre_order",
        },
        "grant_status": {
            "草稿": "draft",
            "待达人确认": "requested",
            "申请中": "requested",
            "WAIT_BIND": "requested",
            "授权生效": "active",
            "生效中": "active",
            "EFFECTIVE": "active",
            "已过期": "expired",
            "授权失效": "expired",
            "EXPIRED": "expired",
            "已解除": "revoked",
            "已撤销": "revoked",
            "已拒绝": "rejected",
        },
        "pool_status": {
            "候选": "candidate",
            "入池": "in_pool",
            "在池": "in_pool",
            "排除": "excluded",
            "已排除": "excluded",
        },
        "gender": {"男": "male", "女": "female"},
    }
    for enum, table in cases.items():
        for alias, canonical in table.items():
            assert enum_parser(enum)(alias) == canonical, (enum, alias)
    assert enum_parser("gender")("不限") is None


def test_bad_enum_lists_the_allowed_values():
    with pytest.raises(ValueError) as info:
        enum_parser("auth_type")("朋友")
    for value in ENUM_CANONICAL["auth_type"]:
        assert value in str(info.value)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("71233112", "71233112"),
        ("71233112.0", "71233112"),
        (71233112, "71233112"),
        (71233112.0, "71233112"),
        ("'00123", "00123"),
        ('="71233112"', "71233112"),
        ("\t71233112", "71233112"),
        ("dy_abc", "dy_abc"),
    ],
)
def test_ids_stay_text(cell, expected):
    assert parse_id(cell) == expected


@pytest.mark.parametrize("cell", ["7.1233112E+07", 1.5, 2.0**60, "x" * 65])
def test_ids_rejected(cell):
    with pytest.raises(ValueError):
        parse_id(cell)


def test_age_distribution():
    assert parse_age_dist("18-23:0.1,24-30:0.3") == {"18-23": 0.1, "24-30": 0.3}
    assert parse_age_dist("18-23:10%;24-30:30%") == pytest.approx({"18-23": 0.1, "24-30": 0.3})
    assert parse_age_dist("18-23岁:10|24-30岁:30|50+:5") == pytest.approx(
        {"18-23": 0.1, "24-30": 0.3, "50+": 0.05}
    )
    assert parse_age_dist("18-23：0.1") == {"18-23": 0.1}  # full-width colon
    with pytest.raises(ValueError, match="band:share"):
        parse_age_dist("18-23 0.1")
    with pytest.raises(ValueError, match="more than 100%"):
        parse_age_dist("18-23:0.8,24-30:0.6")
    with pytest.raises(ValueError, match="18-23"):
        parse_age_dist("teens:0.5")


def test_age_bands():
    assert parse_age_bands("31-40,41-50") == ["31-40", "41-50"]
    assert parse_age_bands("31-40岁、50+") == ["31-40", "50+"]
    with pytest.raises(ValueError):
        parse_age_bands("young")


def test_mask_secret_last_four_only():
    assert mask_secret("abcdefgh") == "****efgh"
    assert mask_secret("  abcdefgh ") == "****efgh"
    assert mask_secret("abcd") == "****"
    assert mask_secret("abc") == "****"
    assert mask_secret("") == ""
    assert mask_secret(None) == ""
