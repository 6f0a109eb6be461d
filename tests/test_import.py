"""`qcrules.ingest.run_import` on real files and real databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import random
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import select
from sqlmodel import SQLModel

from helpers import import_csv, ok, write_csv
from qcrules.errors import InputError, UsageError
from qcrules.ingest import run_import
from qcrules.model.tables import Creator, DailyMetric, Grant, Merchant, PoolMember


def write_xlsx(path: Path, header, rows, *, title: str | None = None) -> Path:
    book = Workbook()
    sheet = book.active
    if title:
        sheet.append([title])
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    book.save(path)
    return path


def fetch(db, model, **where) -> list[dict]:
    tbl = model.__table__
    query = select(tbl)
    for column, value in where.items():
        query = query.where(tbl.c[column] == value)
    with db.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def one(db, model, **where) -> dict:
    rows = fetch(db, model, **where)
    assert len(rows) == 1, rows
    return rows[0]


def dump(db, *, version: bool = True) -> dict[str, list]:
    """Every row of every table, for before/after comparisons; without the data version
    (`version=False`) where a write that changes nothing still renews it."""
    out = {}
    with db.connect() as conn:
        for name, tbl in sorted(SQLModel.metadata.tables.items()):
            rows = conn.execute(select(tbl))
            if name == "schema_meta" and not version:
                rows = [r for r in rows if r[0] != "data_version"]
            out[name] = sorted(repr(tuple(r)) for r in rows)
    return out


def failed(result):
    report = result.files[0]
    assert report.failed and not report.written
    return report


def reasons(report) -> str:
    return "\n".join(p.format(Path(report.path).name) for p in report.problems)


@pytest.fixture
def seeded(db, tmp_path):
    """Two merchants and three creators."""
    import_csv(
        db,
        "merchants",
        tmp_path / "m.csv",
        ["merchant_id", "name", "break_even_roi"],
        [["M1", "男装旗舰店", "1.8"], ["M2", "美妆店", "2.5"]],
    )
    import_csv(
        db,
        "creators",
        tmp_path / "c.csv",
        ["aweme_id", "aweme_show_id", "nickname"],
        [
            ["71233112", "dy001", "小王"],
            ["71233113", "dy002", "老李"],
            ["9001", "", "阿花"],
        ],
    )
    return db


# --- one file per kind, Chinese headers only, field by field -----------------------------------


def test_merchants_chinese_headers(db, tmp_path):
    path = write_csv(
        tmp_path / "商家.csv",
        [
            "商家ID",
            "商家名称",
            "千川账户ID",
            "店铺ID",
            "保本ROI",
            "目标性别",
            "目标年龄段",
            "经营类目",
            "行业转化率（%）",
            "投放目标",
            "上次权限审计",
        ],
        [
            [
                "M1",
                "男装旗舰店",
                "1700000000000001",
                "88001",
                "1.8",
                "男",
                "31-40,41-50",
                "男装|鞋靴",
                "3.5%",
                "成交",
                "2026/10/01 09:30",
            ]
        ],
    )
    report = ok(run_import(db, "merchants", [path]))
    assert (report.inserted, report.updated, report.rows) == (1, 0, 1)
    row = one(db, Merchant, merchant_id="M1")
    assert row["name"] == "男装旗舰店"
    assert row["advertiser_id"] == "1700000000000001"
    assert row["shop_id"] == "88001"
    assert row["break_even_roi"] == 1.8
    assert row["target_gender"] == "male"
    assert row["target_age_bands"] == ["31-40", "41-50"]
    assert row["categories"] == ["男装", "鞋靴"]
    assert row["industry_cvr"] == pytest.approx(0.035)
    assert row["goal"] == "成交"
    assert row["last_permission_audit"] == date(2026, 10, 1)


def test_creators_chinese_headers(db, tmp_path):
    header = [
        "达人UID",
        "抖音号",
        "达人昵称",
        "粉丝数",
        "活跃粉丝占比",
        "完播率(%)",
        "互动率",
        "男性粉丝占比",
        "粉丝年龄分布",
        "主营类目",
        "带货口碑",
        "报价(元)",
        "近30天平均成交额",
        "返点",
        "佣金率",
        "接受投流",
        "接受改脚本",
        "托管授权",
        "数据已核实",
        "实名认证",
        "严重违规",
        "合作码",
        "自有账号",
        "数据来源",
        "简介",
        "18-23岁粉丝比例",
    ]
    row = [
        "71233112",
        "dy001",
        "小王穿搭",
        "1.2万",
        "65%",
        "35",
        "0.052",
        "80%",
        "18-23:0.1,24-30:0.3,31-40:0.4",
        "男装、鞋靴",
        "4.8",
        "¥1,500.00",
        "3.5w",
        "20%",
        "0.15",
        "是",
        "否",
        "有",
        "yes",
        "Y",
        "无",
        "abcd1234",
        "0",
        "蝉妈妈",
        "穿搭分享",
        "10%",
    ]
    report = ok(run_import(db, "creators", [write_csv(tmp_path / "达人.csv", header, [row])]))
    assert report.extra_columns == ["简介", "18-23岁粉丝比例"]
    got = one(db, Creator, aweme_id="71233112")
    expected = {
        "aweme_show_id": "dy001",
        "nickname": "小王穿搭",
        "fans_count": 12000,
        "active_fan_ratio": 0.65,
        "completion_rate": 0.35,
        "interaction_rate": 0.052,
        "fan_male_ratio": 0.8,
        "fan_age_dist": {"18-23": 0.1, "24-30": 0.3, "31-40": 0.4},
        "categories": ["男装", "鞋靴"],
        "reputation_score": 4.8,
        "quote_price": 1500.0,
        "avg_gmv_30d": 35000.0,
        "rebate_rate": 0.2,
        "commission_rate": 0.15,
        "accepts_ads": True,
        "accepts_script_changes": False,
        "hosted_auth_enabled": True,
        "data_verified": True,
        "real_name_verified": True,
        "serious_violation": False,
        "cooperation_code": "abcd1234",
        "is_own_account": False,
        "data_source": "蝉妈妈",
        "extra": {"简介": "穿搭分享", "18-23岁粉丝比例": "10%"},
    }
    for field, value in expected.items():
        assert (
            got[field] == pytest.approx(value) if isinstance(value, float) else got[field] == value
        ), field


def test_pool_chinese_headers(seeded, tmp_path):
    path = write_csv(
        tmp_path / "达人池.csv",
        ["商家ID", "达人UID", "状态", "加入时间", "备注"],
        [["M1", "71233112", "入池", "2026.11.01", "主推"], ["M1", "71233113", "已排除", "", ""]],
    )
    report = ok(run_import(seeded, "pool", [path]))
    assert (report.inserted, report.updated) == (2, 0)
    first = one(seeded, PoolMember, aweme_id="71233112")
    assert (first["merchant_id"], first["status"], first["added_at"], first["note"]) == (
        "M1",
        "in_pool",
        date(2026, 11, 1),
        "主推",
    )
    second = one(seeded, PoolMember, aweme_id="71233113")
    assert (second["status"], second["added_at"], second["note"]) == ("excluded", None, None)


def test_grants_chinese_headers(seeded, tmp_path):
    header = [
        "授权ID",
        "商家ID",
        "达人UID",
        "授权类型",
        "授权范围",
        "视频ID",
        "投放渠道",
        "授权状态",
        "申请时间",
        "开始时间",
        "结束时间",
        "解除授权申请",
        "已签协议",
    ]
    rows = [
        ["G-1", "M1", "71233112", "合作达人", "单视频", "7400000000000000001", "千川PC", "授权生效",
         "2026/11/01 10:00:00", "2026-11-02", "2026-12-01 23:59:59", "否", "是"],
        ["G-2", "M1", "71233113", "自营", "所有作品", "", "下单前", "待达人确认",
         "2026-11-03", "", "2099-12-31", "", ""],
        ["G-3", "M2", "9001", "AWEME_COOPERATOR", "BY_VIDEO", "", "QIANCHUAN", "EXPIRED",
         "", "2026-10-01", "", "1", "0"],
    ]  # fmt: skip
    report = ok(run_import(seeded, "grants", [write_csv(tmp_path / "授权.csv", header, rows)]))
    assert report.inserted == 3
    g1 = one(seeded, Grant, grant_id="G-1")
    assert g1 | {"created_at": None, "updated_at": None} == g1 | {
        "merchant_id": "M1",
        "aweme_id": "71233112",
        "auth_type": "cooperative",
        "scope": "single_video",
        "video_id": "7400000000000000001",
        "channel": "pc",
        "status": "active",
        "requested_at": date(2026, 11, 1),
        "starts_at": date(2026, 11, 2),
        "ends_at": date(2026, 12, 1),
        "revoke_requested": False,
        "has_agreement": True,
        "created_at": None,
        "updated_at": None,
    }
    g2 = one(seeded, Grant, grant_id="G-2")
    assert (g2["auth_type"], g2["scope"], g2["channel"], g2["status"]) == (
        "self_operated",
        "all_works",
        "mobile_pre_order",
        "requested",
    )
    assert g2["ends_at"] == date(2099, 12, 31)  # permanent, stored as the platform writes it
    assert g2["video_id"] is None and g2["revoke_requested"] is None
    g3 = one(seeded, Grant, grant_id="G-3")
    assert (g3["auth_type"], g3["scope"], g3["status"], g3["ends_at"]) == (
        "cooperative",
        "single_video",
        "expired",
        None,  # an empty end date is unknown, not permanent
    )
    assert g3["revoke_requested"] is True and g3["has_agreement"] is False


def test_metrics_chinese_headers(seeded, tmp_path):
    import_csv(
        seeded,
        "grants",
        tmp_path / "g.csv",
        ["grant_id", "merchant_id", "aweme_id", "auth_type", "scope", "status"],
        [["G-1", "M1", "71233112", "cooperative", "live_room", "active"]],
    )
    header = [
        "日期",
        "商家ID",
        "达人UID",
        "授权ID",
        "整体消耗(元)",
        "整体展示次数",
        "整体点击次数",
        "整体成交订单数",
        "整体成交金额(元)",
        "转化数",
        "加购次数",
        "成交老粉占比",
        "整体点击率",
        "整体支付ROI",
        "计划名称",
    ]
    rows = [
        ["2026/11/01", "M1", "71233112", "G-1", "¥1,234.50", "1.2万", "480", "12", "3,456.00元",
         "10", "30", "40%", "4.0%", "2.8", "计划A"],
        ["2026-11-02 00:00:00", "M1", "71233112", "", "100", "5000", "50", "", "", "", "", "",
         "1%", "0", ""],
    ]  # fmt: skip
    report = ok(run_import(seeded, "metrics", [write_csv(tmp_path / "千川.csv", header, rows)]))
    assert report.inserted == 2
    assert report.ignored_columns == ["整体点击率", "整体支付ROI"]
    assert any("derives them from the raw counts" in n for n in report.notes)
    day1 = one(seeded, DailyMetric, date=date(2026, 11, 1))
    assert day1 | {"id": None} == {
        "id": None,
        "merchant_id": "M1",
        "aweme_id": "71233112",
        "date": date(2026, 11, 1),
        "grant_id": "G-1",
        "account_id": "",
        "spend": 1234.5,
        "impressions": 12000,
        "clicks": 480,
        "orders": 12,
        "gmv": 3456.0,
        "conversions": 10,
        "add_to_cart": 30,
        "old_fan_order_ratio": 0.4,
        "extra": {"计划名称": "计划A"},
    }
    day2 = one(seeded, DailyMetric, date=date(2026, 11, 2))
    # empty cells are missing data, never zero (no grant is '', part of the row's key)
    assert (day2["orders"], day2["gmv"], day2["grant_id"], day2["old_fan_order_ratio"]) == (
        None,
        None,
        "",
        None,
    )
    assert day2["extra"] is None


# --- encodings and formats ---------------------------------------------------------------------

CREATOR_HEADER = ["达人UID", "达人昵称", "粉丝数", "主营类目"]
CREATOR_ROWS = [["71233112", "小王穿搭", "1,234", "男装；鞋靴"], ["71233113", "老李", "", "美妆"]]


@pytest.mark.parametrize(
    ("encoding", "delimiter", "expect_format"),
    [
        ("utf-8", ",", "csv (utf-8)"),
        ("utf-8-sig", ",", "csv (utf-8-sig)"),
        ("gb18030", ",", "csv (gb18030)"),
        ("utf-8", "\t", "csv (utf-8, tab)"),
        ("utf-16", "\t", "csv (utf-16, tab)"),
    ],
)
def test_encodings(db, tmp_path, encoding, delimiter, expect_format):
    path = write_csv(
        tmp_path / "c.csv", CREATOR_HEADER, CREATOR_ROWS, encoding=encoding, delimiter=delimiter
    )
    report = ok(run_import(db, "creators", [path]))
    assert report.format == expect_format
    assert one(db, Creator, aweme_id="71233112")["nickname"] == "小王穿搭"
    assert one(db, Creator, aweme_id="71233112")["categories"] == ["男装", "鞋靴"]
    assert one(db, Creator, aweme_id="71233113")["fans_count"] is None


def test_xlsx(seeded, tmp_path):
    path = write_xlsx(
        tmp_path / "metrics.xlsx",
        ["日期", "商家ID", "达人UID", "消耗", "展示次数", "点击次数", "GMV", "成交老粉占比"],
        [
            [datetime(2026, 11, 1, 0, 0), "M1", 71233112, 12.5, 1000, 30, None, 0.35],
            [datetime(2026, 11, 2, 0, 0), "M1", 71233112.0, "¥20", "1,000", 31, 99, None],
            [date(2026, 11, 3), "M1", "71233113", 0, 0, 0, 0, 0],
        ],
        title="千川 日报 2026-11",  # a title line above the header
    )
    report = ok(run_import(seeded, "metrics", [path]))
    assert report.format == "xlsx" and report.inserted == 3
    rows = {(r["aweme_id"], r["date"]): r for r in fetch(seeded, DailyMetric)}
    assert set(rows) == {
        ("71233112", date(2026, 11, 1)),
        ("71233112", date(2026, 11, 2)),
        ("71233113", date(2026, 11, 3)),
    }
    assert rows["71233112", date(2026, 11, 1)]["gmv"] is None
    assert rows["71233112", date(2026, 11, 2)]["spend"] == 20.0
    assert rows["71233112", date(2026, 11, 1)]["old_fan_order_ratio"] == 0.35
    assert rows["71233113", date(2026, 11, 3)]["spend"] == 0.0  # a real zero stays zero


def test_xlsx_errors_use_spreadsheet_lines(seeded, tmp_path):
    path = write_xlsx(
        tmp_path / "bad.xlsx",
        ["日期", "商家ID", "达人UID", "消耗", "展示次数", "点击次数"],
        [
            [date(2026, 11, 1), "M1", "71233112", 1, 10, 1],
            [date(2026, 11, 2), "M1", 7.1e7, "x", 10, 1],
        ],
    )
    report = failed(run_import(seeded, "metrics", [path]))
    text = reasons(report)
    assert "bad.xlsx:3: 消耗 = 'x': not a number" in text


def test_totals_line_and_title_are_skipped(seeded, tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(
        "千川 达人日报 导出时间 2026-11-03\n"
        "日期,商家ID,达人UID,消耗,展示次数,点击次数\n"
        "2026-11-01,M1,71233112,10,100,5\n"
        "\n"
        "2026-11-02,M1,71233112,20,200,6\n"
        "合计,,,30,300,11\n",
        encoding="utf-8",
    )
    report = ok(run_import(seeded, "metrics", [path]))
    assert report.rows == 2 and report.inserted == 2
    assert any("totals line 6" in n for n in report.notes)


# --- values end to end -------------------------------------------------------------------------


def test_value_formats(db, tmp_path):
    header = ["aweme_id", "nickname", "fans_count", "completion_rate", "quote_price", "accepts_ads",
              "categories", "fan_age_dist", "commission_rate"]  # fmt: skip
    rows = [
        ["1", "a", "3.5w", "35", "¥1,234.50", "是", "a|b", "18-23:10%,24-30:30%", "0.2"],
        ["2", "b", "1.2万", "42.5", "1,234.50元", "否", "a、b", "18-23:0.1", "15%"],
        ["3", "c", "", "", "", "", "", "", ""],
        ["4", "d", "1,234", "0", "￥8", "true", "a,b;c", "", "0"],
    ]
    import_csv(db, "creators", tmp_path / "c.csv", header, rows)
    got = {r["aweme_id"]: r for r in fetch(db, Creator)}
    assert [got[k]["fans_count"] for k in "1234"] == [35000, 12000, None, 1234]
    assert [got[k]["completion_rate"] for k in "1234"] == pytest.approx([0.35, 0.425, None, 0.0])
    assert [got[k]["quote_price"] for k in "1234"] == [1234.5, 1234.5, None, 8.0]
    assert [got[k]["accepts_ads"] for k in "1234"] == [True, False, None, True]
    assert [got[k]["categories"] for k in "1234"] == [["a", "b"], ["a", "b"], None, ["a", "b", "c"]]
    assert got["1"]["fan_age_dist"] == pytest.approx({"18-23": 0.1, "24-30": 0.3})
    assert [got[k]["commission_rate"] for k in "1234"] == pytest.approx([0.2, 0.15, None, 0.0])


# --- errors ------------------------------------------------------------------------------------


def test_missing_required_column(db, tmp_path):
    path = write_csv(tmp_path / "c.csv", ["达人UID", "达人名字", "粉丝数"], [["1", "x", "2"]])
    report = failed(run_import(db, "creators", [path]))
    text = reasons(report)
    assert "c.csv:1: required column 'nickname' is missing" in text
    assert "达人昵称" in text  # the accepted names
    assert "headers found: 达人UID, 达人名字, 粉丝数" in text
    assert "did you mean '达人名字'?" in text
    assert fetch(db, Creator) == []


def test_missing_merchant_column_hints_at_option(seeded, tmp_path):
    path = write_csv(tmp_path / "m.csv", ["日期", "达人UID", "消耗", "展示", "点击"], [])
    ok(run_import(seeded, "metrics", [path], merchant="M1"))  # --merchant supplies it
    report = failed(run_import(seeded, "metrics", [path]))  # two merchants: no default
    assert "--merchant" in reasons(report)


@pytest.mark.parametrize(
    ("header", "cell", "message"),
    [
        ("粉丝数", "lots", "粉丝数 = 'lots': not a number"),
        ("粉丝数", "12.5", "粉丝数 = '12.5': not a whole number"),
        ("完播率", "150%", "完播率 = '150%': a share cannot exceed 100%"),
        ("接受投流", "maybe", "接受投流 = 'maybe': not a yes/no value"),
        ("粉丝年龄分布", "18-23 0.1", "粉丝年龄分布 = '18-23 0.1': '18-23 0.1' is not band:share"),
        ("达人昵称", "", "达人昵称 = '': required, but empty"),
        ("达人UID", "7.1233112E+07", "达人UID = '7.1233112E+07': the spreadsheet turned this id"),
    ],
)
def test_bad_values(db, tmp_path, header, cell, message):
    row = {"达人UID": "71233112", "达人昵称": "小王", header: cell}
    path = write_csv(tmp_path / "c.csv", list(row), [list(row.values())])
    report = failed(run_import(db, "creators", [path]))
    assert f"c.csv:2: {message}" in reasons(report)


def test_bad_enum_and_date(seeded, tmp_path):
    header = [
        "授权ID",
        "商家ID",
        "达人UID",
        "授权类型",
        "授权范围",
        "授权状态",
        "开始时间",
        "结束时间",
    ]
    rows = [
        ["G-1", "M1", "71233112", "朋友", "单视频", "生效中", "2026-11-01", "2026-11-30"],
        ["G-2", "M1", "71233112", "合作达人", "单视频", "生效中", "next week", ""],
        ["G-3", "M1", "71233112", "合作达人", "单视频", "生效中", "2026-11-10", "2026-11-01"],
    ]
    report = failed(run_import(seeded, "grants", [write_csv(tmp_path / "g.csv", header, rows)]))
    text = reasons(report)
    assert (
        "g.csv:2: 授权类型 = '朋友': not an allowed value (use one of cooperative, self_operated, official"
        in text
    )
    assert "g.csv:3: 开始时间 = 'next week': not a date" in text
    assert "g.csv:4: 结束时间 = '2026-11-01': ends before it starts" in text
    assert report.rejected == 3


def test_unknown_references(seeded, tmp_path):
    header = ["商家ID", "达人UID", "状态"]
    rows = [["M01", "71233112", "候选"], ["M1", "555", "候选"], ["M1", "dy002", "候选"]]
    report = failed(run_import(seeded, "pool", [write_csv(tmp_path / "p.csv", header, rows)]))
    text = reasons(report)
    assert (
        "p.csv:2: 商家ID = 'M01': unknown merchant (not in the database); did you mean 'M1'?"
        in text
    )
    assert (
        "p.csv:3: 达人UID = '555': unknown creator (not in the database); import creators first"
        in text
    )
    # a 抖音号 where the UID belongs is matched to its creator (71233113), not an error
    assert "p.csv:4" not in text
    assert any("matched to a creator by 抖音号" in note for note in report.notes)


def test_unknown_grant_in_metrics(seeded, tmp_path):
    header = ["日期", "商家ID", "达人UID", "授权ID", "消耗", "展示", "点击"]
    rows = [["2026-11-01", "M1", "71233112", "G-404", "1", "10", "1"]]
    report = failed(run_import(seeded, "metrics", [write_csv(tmp_path / "m.csv", header, rows)]))
    assert "m.csv:2: 授权ID = 'G-404': unknown grant" in reasons(report)


def test_more_clicks_than_impressions(seeded, tmp_path):
    header = ["日期", "商家ID", "达人UID", "消耗", "展示", "点击"]
    rows = [["2026-11-01", "M1", "71233112", "1", "10", "11"]]
    report = failed(run_import(seeded, "metrics", [write_csv(tmp_path / "m.csv", header, rows)]))
    assert "m.csv:2: 点击 = '11': more clicks than impressions (10)" in reasons(report)


def test_duplicate_keys_list_both_lines(seeded, tmp_path):
    header = ["商家ID", "达人UID", "状态"]
    rows = [
        ["M1", "71233112", "in_pool"],
        ["M1", "71233113", "in_pool"],
        ["M1", "71233112", "excluded"],
    ]
    report = failed(run_import(seeded, "pool", [write_csv(tmp_path / "p.csv", header, rows)]))
    assert "p.csv:4: duplicate key (merchant_id=M1, aweme_id=71233112): also on line 2" in reasons(
        report
    )


def test_metric_rows_of_one_creator_day_are_summed_not_rejected(seeded, tmp_path):
    """Several plan rows of one creator-day (the same key) are one stored row, their sum."""
    header = ["日期", "商家ID", "达人UID", "消耗", "展示", "点击", "计划名称"]
    rows = [
        ["2026-11-01", "M1", "71233112", "1", "10", "1", "计划A"],
        ["2026-11-02", "M1", "71233112", "1", "10", "1", "计划A"],
        ["2026/11/01", "M1", "71233112", "2", "20", "2", "计划B"],
    ]
    report = ok(run_import(seeded, "metrics", [write_csv(tmp_path / "m.csv", header, rows)]))
    assert report.inserted == 2 and any("3 rows summed into 2" in n for n in report.notes)
    day1 = one(seeded, DailyMetric, date=date(2026, 11, 1))
    assert (day1["spend"], day1["impressions"], day1["clicks"]) == (3.0, 30, 3)
    assert day1["extra"] is None  # the plan names differ: neither is the day's


def test_duplicate_column_meaning(db, tmp_path):
    path = write_csv(tmp_path / "c.csv", ["达人UID", "昵称", "达人昵称"], [["1", "a", "b"]])
    report = failed(run_import(db, "creators", [path]))
    assert "昵称" in reasons(report) and "means nickname" in reasons(report)


def test_mixed_ratio_scales(db, tmp_path):
    header = ["达人UID", "达人昵称", "完播率"]
    rows = [["1", "a", "35"], ["2", "b", "42"], ["3", "c", "0.4"], ["4", "d", "50"]]
    report = failed(run_import(db, "creators", [write_csv(tmp_path / "c.csv", header, rows)]))
    text = reasons(report)
    assert "c.csv:4: 完播率 = '0.4': mixes scales" in text
    assert report.rejected == 1


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "no such file"),
        ("empty.csv", b"", "the file is empty"),
        ("binary.csv", b"\x00\x01\x02\x03" * 10, "a binary file"),
        ("broken.xlsx", b"PK\x03\x04 not really a zip", "not a valid XLSX"),
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "legacy .xls"),
        ("garbage.csv", bytes(range(0x80, 0x100)) * 3, "neither UTF-8 nor GB18030"),
    ],
)
def test_unreadable_files(db, tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    report = failed(run_import(db, "creators", [path]))
    assert message in reasons(report)
    shown = [p.format(report.path) for p in report.problems]  # as the CLI prints them
    assert shown and all(
        line.startswith(f"{path}: ") and line.count(str(path)) == 1 for line in shown
    )


def test_unknown_kind(db, tmp_path):
    with pytest.raises(UsageError, match="unknown import kind 'creator'; did you mean 'creators'"):
        run_import(db, "creator", [tmp_path / "x.csv"])


def test_unknown_columns_warn_or_go_to_extra(seeded, tmp_path):
    path = write_csv(
        tmp_path / "m.csv",
        ["商家ID", "商家名称", "保本ROI", "备注说明", "nmae"],
        [["M1", "a", "2", "x", "y"]],
    )
    report = ok(run_import(seeded, "merchants", [path]))
    assert report.ignored_columns == ["备注说明", "nmae"]
    assert any("ignored unknown columns: 备注说明, nmae" in w for w in report.warnings)
    assert any("did you mean 'name'" in w for w in report.warnings)


def test_cooperation_codes_never_shown(db, tmp_path):
    header = ["达人UID", "达人昵称", "合作码", "粉丝数"]
    rows = [["1", "a", "SECRETCODE99", "x"], ["1", "a", "SECRETCODE99", "1"]]
    path = write_csv(tmp_path / "c.csv", header, rows)
    report = failed(run_import(db, "creators", [path]))
    assert "SECRETCODE99" not in reasons(report)
    rejects = tmp_path / "r.csv"
    run_import(db, "creators", [path], skip_invalid=True, rejects=rejects)
    text = rejects.read_text(encoding="utf-8-sig")
    assert "SECRETCODE99" not in text and "****DE99" in text
    # the rejects file fixed and imported back: its hidden code is refused, never stored
    rejects.write_text(text.replace(",x,", ",1,"), encoding="utf-8-sig")
    again = failed(run_import(db, "creators", [rejects]))
    assert {p.line for p in again.problems if p.column == "合作码"} == {2, 3}
    assert "copy the whole code from the original file" in reasons(again)


# --- atomicity, idempotency, partial updates --------------------------------------------------


def test_one_bad_row_changes_nothing(seeded, tmp_path):
    import_csv(
        seeded,
        "metrics",
        tmp_path / "ok.csv",
        ["日期", "商家ID", "达人UID", "消耗", "展示", "点击"],
        [["2026-11-01", "M1", "71233112", "1", "10", "1"]],
    )
    before = dump(seeded)
    rows = [[f"2026-11-{d:02d}", "M1", "71233112", "5", "100", "3"] for d in range(1, 29)]
    rows[20][3] = "oops"
    path = write_csv(
        tmp_path / "m.csv", ["日期", "商家ID", "达人UID", "消耗", "展示", "点击"], rows
    )
    report = failed(run_import(seeded, "metrics", [path]))
    assert report.rejected == 1 and report.inserted == 0
    assert dump(seeded) == before
    # creators with --merchant: neither creators nor pool rows appear
    path = write_csv(
        tmp_path / "c.csv", ["达人UID", "达人昵称", "粉丝数"], [["5", "a", "1"], ["6", "b", "x"]]
    )
    failed(run_import(seeded, "creators", [path], merchant="M1"))
    assert dump(seeded) == before


def test_reimport_updates_in_place(seeded, tmp_path):
    header = ["日期", "商家ID", "达人UID", "消耗", "展示", "点击"]
    rows = [[f"2026-11-{d:02d}", "M1", "71233112", "5", "100", "3"] for d in range(1, 11)]
    path = write_csv(tmp_path / "m.csv", header, rows)
    first = ok(run_import(seeded, "metrics", [path]))
    assert (first.inserted, first.updated) == (10, 0)
    snapshot = dump(seeded, version=False)
    second = ok(run_import(seeded, "metrics", [path]))
    assert (second.inserted, second.updated) == (0, 10)
    assert dump(seeded, version=False) == snapshot
    rows[0][3] = "7.5"
    rows.append(["2026-11-30", "M1", "71233112", "1", "10", "1"])
    third = ok(run_import(seeded, "metrics", [write_csv(tmp_path / "m2.csv", header, rows)]))
    assert (third.inserted, third.updated) == (1, 10)
    assert len(fetch(seeded, DailyMetric)) == 11
    assert one(seeded, DailyMetric, date=date(2026, 11, 1))["spend"] == 7.5


def test_reimport_creators_and_merchants_counts(seeded, tmp_path):
    path = write_csv(
        tmp_path / "m.csv", ["merchant_id", "name", "break_even_roi"], [["M1", "新名字", "2.0"]]
    )
    report = ok(run_import(seeded, "merchants", [path]))
    assert (report.inserted, report.updated) == (0, 1)
    assert one(seeded, Merchant, merchant_id="M1")["name"] == "新名字"
    assert len(fetch(seeded, Merchant)) == 2


def test_partial_columns_do_not_erase(db, tmp_path):
    full = write_csv(
        tmp_path / "full.csv",
        ["达人UID", "达人昵称", "合作码", "粉丝数", "简介"],
        [["1", "小王", "abcd1234", "100", "穿搭"]],
    )
    ok(run_import(db, "creators", [full]))
    partial = write_csv(
        tmp_path / "partial.csv",
        ["达人UID", "达人昵称", "完播率", "近30天直播数"],
        [["1", "小王2", "0.4", "12"]],
    )
    report = ok(run_import(db, "creators", [partial]))
    assert report.updated == 1
    row = one(db, Creator, aweme_id="1")
    assert row["cooperation_code"] == "abcd1234"
    assert row["fans_count"] == 100
    assert row["nickname"] == "小王2" and row["completion_rate"] == 0.4
    assert row["extra"] == {"简介": "穿搭", "近30天直播数": "12"}  # extras are merged
    import_csv(db, "creators", tmp_path / "bare.csv", ["达人UID", "达人昵称"], [["1", "x"]])
    assert one(db, Creator, aweme_id="1")["extra"] == {"简介": "穿搭", "近30天直播数": "12"}


def test_an_empty_creator_cell_keeps_what_is_stored(db, tmp_path):
    """A later export that lacks a creator's 合作码, quote or fan data (an empty cell) keeps
    the stored value; one that brings a new value replaces it; a new creator gets NULL."""
    header = ["达人UID", "达人昵称", "合作码", "报价", "粉丝数", "严重违规"]
    ok(run_import(db, "creators", [write_csv(tmp_path / "a.csv", header, [
        ["1", "小王", "abcd1234", "5000", "100", "是"],
        ["2", "小李", "efgh5678", "3000", "200", "否"],
    ])]))  # fmt: skip
    report = ok(run_import(db, "creators", [write_csv(tmp_path / "b.csv", header, [
        ["1", "小王", "", "", "", ""],
        ["2", "小李2", "zzzz9999", "", "250", ""],
        ["3", "小张", "", "", "", ""],
    ])]))  # fmt: skip
    assert (report.inserted, report.updated) == (1, 2)
    first, second, third = (one(db, Creator, aweme_id=a) for a in ("1", "2", "3"))
    assert (first["cooperation_code"], first["quote_price"], first["fans_count"]) == (
        "abcd1234",
        5000,
        100,
    )
    assert first["serious_violation"] is True  # a blank never clears a known violation
    assert (second["nickname"], second["cooperation_code"], second["fans_count"]) == (
        "小李2",
        "zzzz9999",
        250,
    )
    assert second["quote_price"] == 3000 and second["serious_violation"] is False
    assert third["cooperation_code"] is None and third["fans_count"] is None


def test_bulk_write_paths_agree(db, tmp_path, monkeypatch):
    """PostgreSQL switches to COPY for big writes; force it on small files and compare."""
    from qcrules.ingest import writer

    def scenario(folder: Path) -> dict:
        folder.mkdir()
        import_csv(
            db,
            "merchants",
            folder / "m.csv",
            ["merchant_id", "name", "break_even_roi", "categories"],
            [["M1", "a", "2", "x|y"]],
        )
        first = write_csv(folder / "c1.csv", ["达人UID", "达人昵称", "合作码", "粉丝年龄分布", "简介"],
                          [["1", "a", "code1234", "18-23:0.5", "x"], ["2", "b", "", "", ""]])  # fmt: skip
        second = write_csv(
            folder / "c2.csv",
            ["达人UID", "达人昵称", "是否带货"],
            [["1", "a2", "是"], ["3", "c", ""]],
        )
        ok(run_import(db, "creators", [first], merchant="M1"))
        report = ok(run_import(db, "creators", [second], merchant="M1"))
        assert (report.inserted, report.updated) == (1, 1)
        assert report.pool == {"merchant": "M1", "added": 1, "kept": 1}
        metrics = write_csv(folder / "x.csv", ["日期", "达人UID", "消耗", "展示", "点击", "计划"],
                            [["2026-11-01", "1", "1.5", "10", "1", "p"], ["2026-11-01", "2", "2", "20", "2", ""]])  # fmt: skip
        ok(run_import(db, "metrics", [metrics], merchant="M1"))
        report = ok(run_import(db, "metrics", [metrics], merchant="M1"))
        assert (report.inserted, report.updated) == (0, 2)
        out = {}
        for name, model in (
            ("creators", Creator),
            ("pool", PoolMember),
            ("metrics", DailyMetric),
            ("merchants", Merchant),
        ):
            out[name] = sorted(
                repr({k: v for k, v in r.items() if k not in ("id", "created_at", "updated_at")})
                for r in fetch(db, model)
            )
        with db.begin() as conn:
            for model in (DailyMetric, PoolMember, Creator, Merchant):
                conn.execute(model.__table__.delete())
        return out

    plain = scenario(tmp_path / "plain")
    monkeypatch.setattr(writer, "COPY_THRESHOLD", 1)
    bulk = scenario(tmp_path / "bulk")
    assert plain == bulk
    creator = next(r for r in plain["creators"] if "'aweme_id': '1'" in r)
    assert "'cooperation_code': 'code1234'" in creator
    assert "'extra': {'简介': 'x', '是否带货': '是'}" in creator
    assert "'fan_age_dist': {'18-23': 0.5}" in creator


# --- --merchant and the pool -----------------------------------------------------------------


def test_creators_join_the_pool_as_candidates(seeded, tmp_path):
    with seeded.begin() as conn:
        conn.execute(
            PoolMember.__table__.insert().values(
                merchant_id="M1",
                aweme_id="71233112",
                status="in_pool",
                updated_at=datetime.now().astimezone(),
            )
        )
    path = write_csv(
        tmp_path / "c.csv", ["达人UID", "达人昵称"], [["71233112", "小王"], ["777", "新人"]]
    )
    report = ok(run_import(seeded, "creators", [path], merchant="M1"))
    assert report.pool == {"merchant": "M1", "added": 1, "kept": 1}
    pool = {r["aweme_id"]: r["status"] for r in fetch(seeded, PoolMember, merchant_id="M1")}
    assert pool == {"71233112": "in_pool", "777": "candidate"}  # existing status kept
    assert fetch(seeded, PoolMember, merchant_id="M2") == []


def test_single_merchant_is_the_default(db, tmp_path):
    import_csv(
        db,
        "merchants",
        tmp_path / "m.csv",
        ["merchant_id", "name", "break_even_roi"],
        [["ONLY", "a", "2"]],
    )
    report = ok(
        run_import(
            db, "creators", [write_csv(tmp_path / "c.csv", ["达人UID", "达人昵称"], [["1", "a"]])]
        )
    )
    assert report.pool == {"merchant": "ONLY", "added": 1, "kept": 0}
    metrics = write_csv(
        tmp_path / "x.csv",
        ["日期", "达人UID", "消耗", "展示", "点击"],
        [["2026-11-01", "1", "1", "9", "1"]],
    )
    ok(run_import(db, "metrics", [metrics]))
    assert one(db, DailyMetric, aweme_id="1")["merchant_id"] == "ONLY"


def test_unknown_merchant_option(seeded, tmp_path):
    path = write_csv(tmp_path / "c.csv", ["达人UID", "达人昵称"], [["1", "a"]])
    with pytest.raises(UsageError, match="unknown merchant 'M11'; did you mean 'M1'"):
        run_import(seeded, "creators", [path], merchant="M11")


def test_merchant_option_conflicts_with_file(seeded, tmp_path):
    header = ["日期", "商家ID", "达人UID", "消耗", "展示", "点击"]
    rows = [
        ["2026-11-01", "M2", "71233112", "1", "10", "1"],
        ["2026-11-02", "", "71233112", "1", "10", "1"],
    ]
    report = failed(
        run_import(seeded, "metrics", [write_csv(tmp_path / "m.csv", header, rows)], merchant="M1")
    )
    assert "m.csv:2: 商家ID = 'M2': differs from --merchant M1" in reasons(report)
    assert report.rejected == 1  # the empty cell took M1


# --- --skip-invalid, --dry-run, several files ------------------------------------------------


def test_skip_invalid_writes_rejects(seeded, tmp_path):
    header = ["日期", "商家ID", "达人UID", "消耗", "展示", "点击"]
    rows = [
        ["2026-11-01", "M1", "71233112", "1", "10", "1"],
        ["2026-11-02", "M1", "71233112", "bad", "10", "1"],
        ["2026-11-03", "M1", "nobody", "1", "10", "1"],
        ["2026-11-04", "M1", "71233112", "1", "10", "1"],
    ]
    path = write_csv(tmp_path / "m.csv", header, rows)
    report = ok(run_import(seeded, "metrics", [path], skip_invalid=True))
    assert (report.inserted, report.rejected) == (2, 2)
    assert report.rejects_path == str(tmp_path / "m.csv.rejects.csv")
    raw = (tmp_path / "m.csv.rejects.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel opens it as UTF-8
    rejected = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert rejected[0] == [*header, "line", "reason"]
    # a digit-only id is written after a tab, so Excel keeps it as text (safety.spreadsheet_id)
    assert rejected[1][:6] == ["2026-11-02", "M1", "\t71233112", "bad", "10", "1"]
    assert rejected[1][6] == "3"
    assert "消耗: not a number" in rejected[1][7]
    assert rejected[2][6] == "4" and "unknown creator" in rejected[2][7]
    assert {r["date"] for r in fetch(seeded, DailyMetric)} == {date(2026, 11, 1), date(2026, 11, 4)}


def test_dry_run_writes_nothing(seeded, tmp_path):
    header = ["日期", "商家ID", "达人UID", "消耗", "展示", "点击"]
    import_csv(
        seeded,
        "metrics",
        tmp_path / "a.csv",
        header,
        [["2026-11-01", "M1", "71233112", "1", "10", "1"]],
    )
    before = dump(seeded)
    rows = [
        ["2026-11-01", "M1", "71233112", "2", "10", "1"],
        ["2026-11-02", "M1", "71233112", "2", "10", "1"],
    ]
    report = ok(
        run_import(seeded, "metrics", [write_csv(tmp_path / "b.csv", header, rows)], dry_run=True)
    )
    assert report.dry_run and not report.written
    assert (report.inserted, report.updated) == (1, 1)
    assert dump(seeded) == before
    creators = write_csv(
        tmp_path / "c.csv", ["达人UID", "达人昵称"], [["71233112", "x"], ["42", "y"]]
    )
    report = ok(run_import(seeded, "creators", [creators], merchant="M1", dry_run=True))
    assert (report.inserted, report.updated) == (1, 1)
    assert report.pool == {"merchant": "M1", "added": 2, "kept": 0}
    assert dump(seeded) == before


def test_several_files_each_its_own_transaction(seeded, tmp_path):
    header = ["日期", "商家ID", "达人UID", "消耗", "展示", "点击"]
    good = write_csv(
        tmp_path / "good.csv", header, [["2026-11-01", "M1", "71233112", "1", "10", "1"]]
    )
    bad = write_csv(
        tmp_path / "bad.csv", header, [["2026-11-02", "M1", "71233112", "x", "10", "1"]]
    )
    result = run_import(seeded, "metrics", [bad, good])
    assert not result.ok
    assert [f.failed for f in result.files] == [True, False]
    assert [r["date"] for r in fetch(seeded, DailyMetric)] == [date(2026, 11, 1)]


# --- size ------------------------------------------------------------------------------------


def test_hundred_thousand_metric_rows(db, db_url, tmp_path):
    if not db_url.startswith("sqlite"):
        pytest.skip("the size test runs on SQLite")
    creators = [[str(70_000_000 + i), f"达人{i}"] for i in range(1000)]
    import_csv(
        db,
        "merchants",
        tmp_path / "m.csv",
        ["merchant_id", "name", "break_even_roi"],
        [["M1", "a", "2"]],
    )
    import_csv(db, "creators", tmp_path / "c.csv", ["aweme_id", "nickname"], creators)
    rng = random.Random(7)
    start = date(2026, 1, 1)
    rows = []
    for aweme, _ in creators:
        for day in range(100):
            shown = rng.randint(100, 50_000)
            rows.append([(start + timedelta(days=day)).isoformat(), "M1", aweme,
                         f"{rng.random() * 500:.2f}", shown, rng.randint(0, shown // 10),
                         rng.randint(0, 9), f"{rng.random() * 900:.2f}"])  # fmt: skip
    path = write_csv(
        tmp_path / "metrics.csv",
        [
            "日期",
            "商家ID",
            "达人UID",
            "整体消耗",
            "整体展示次数",
            "整体点击次数",
            "整体成交订单数",
            "整体成交金额",
        ],
        rows,
    )
    report = ok(run_import(db, "metrics", [path]))
    assert (report.rows, report.inserted) == (100_000, 100_000)
    with db.connect() as conn:
        assert (
            conn.execute(select(DailyMetric.__table__.c.id).order_by(None)).all().__len__()
            == 100_000
        )
    assert report.seconds < 30  # a few seconds in practice; generous for slow CI machines
    again = ok(run_import(db, "metrics", [path]))
    assert (again.inserted, again.updated) == (0, 100_000)


def test_api_helpers(seeded, tmp_path):
    """`raise_for_errors` for API callers, progress phases, JSON-ready reports."""
    header = ["日期", "商家ID", "达人UID", "消耗", "展示", "点击"]
    good = write_csv(tmp_path / "g.csv", header, [["2026-11-01", "M1", "71233112", "1", "10", "1"]])
    bad = write_csv(tmp_path / "b.csv", header, [["2026-11-02", "M1", "71233112", "x", "10", "1"]])
    phases = []
    result = run_import(
        seeded, "metrics", [good, bad], progress=lambda f, phase, done, total: phases.append(phase)
    )
    assert {"read", "check", "write"} <= set(phases)
    with pytest.raises(InputError) as info:
        result.raise_for_errors()
    assert "b.csv:2: 消耗 = 'x': not a number" in str(info.value)
    assert [path for path, _ in info.value.problems] == [str(bad)]
    data = result.to_dict()
    assert data["ok"] is False and [f["ok"] for f in data["files"]] == [True, False]
    assert data["files"][1]["problems"][0]["line"] == 2


def test_rejects_file_cannot_be_written(seeded, tmp_path):
    header = ["日期", "商家ID", "达人UID", "消耗", "展示", "点击"]
    bad = write_csv(tmp_path / "b.csv", header, [["2026-11-02", "M1", "71233112", "x", "10", "1"]])
    before = dump(seeded)
    target = tmp_path / "no" / "such" / "folder.csv"
    report = failed(run_import(seeded, "metrics", [bad], skip_invalid=True, rejects=target))
    assert "cannot write the rejects file" in reasons(report)
    assert dump(seeded) == before
