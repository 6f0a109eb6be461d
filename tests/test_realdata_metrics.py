"""Rules that hold on real exports and a real morning: windows end at the newest day with data,
stale data is said, a rule that cannot see enough is listed, trivial spend never revokes, and
metrics of several 千川 accounts per creator-day are kept apart and summed — on SQLite and
PostgreSQL (the `db_url` fixture), through the importer and `evaluate` as a user runs them."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from alembic import command
from sqlalchemy import Date, bindparam, select, text

from helpers import baseline_schema, import_csv, write_csv
from qcrules.errors import ConfigError
from qcrules.evaluation import EvaluateOptions, evaluate
from qcrules.explain import explain
from qcrules.ingest import columns as C
from qcrules.ingest.importer import run_import
from qcrules.model import migrate, open_database
from qcrules.model.db import table
from qcrules.model.migrations import BASELINE, HEAD
from qcrules.model.tables import DailyMetric
from qcrules.workspace import Workspace, init_workspace

AS_OF = date(2026, 11, 27)  # a 9 a.m. run: 千川 has settled data up to yesterday


def day(offset: int) -> date:
    return AS_OF + timedelta(days=offset)


@pytest.fixture
def ws(db_url, tmp_path):
    """A workspace with merchant M1 (break-even ROI 2.0, industry CVR 2 %), creators A and B
    in its pool, and an active grant G-A on A (started 20 days ago)."""
    workspace = init_workspace(tmp_path / "ws", database_url=db_url)
    import_csv(
        workspace.db,
        "merchants",
        tmp_path / "m.csv",
        ["商家ID", "商家名称", "保本ROI", "行业转化率"],
        [["M1", "男装旗舰店", "2.0", "2%"], ["M2", "新店", "1.8", "2%"]],
    )
    import_csv(
        workspace.db,
        "creators",
        tmp_path / "c.csv",
        ["达人UID", "抖音号", "达人昵称"],
        [["A", "dy_a", "小王"], ["B", "dy_b", "老李"]],
    )
    import_csv(
        workspace.db,
        "pool",
        tmp_path / "p.csv",
        ["商家ID", "达人UID", "状态"],
        [["M1", "A", "in_pool"], ["M1", "B", "in_pool"]],
    )
    import_csv(
        workspace.db,
        "grants",
        tmp_path / "g.csv",
        [
            "授权ID",
            "商家ID",
            "达人UID",
            "授权类型",
            "授权范围",
            "授权状态",
            "开始时间",
            "结束时间",
        ],
        [["G-A", "M1", "A", "合作达人", "单视频", "授权生效", day(-20), day(10)]],
    )
    yield workspace
    workspace.close()


HEADER = ["日期", "商家ID", "达人UID", "消耗", "展示次数", "点击次数", "成交订单数", "成交金额"]


def good_day(offset: int, aweme: str = "A", spend: float = 500.0, roi: float = 2.6) -> list:
    """A healthy day: CTR 5 %, CVR 4 %, ROI above the break-even 2.0."""
    return [day(offset), "M1", aweme, spend, 20_000, 1_000, 40, round(spend * roi, 2)]


def run(workspace: Workspace, **kw) -> dict:
    return evaluate(workspace, EvaluateOptions(as_of=AS_OF, store=False, **kw)).report


def findings(report: dict, rule: str) -> list[dict]:
    return [f for f in report["findings"] if f["rule"] == rule]


def insufficient(report: dict, rule: str) -> list[dict]:
    return [i for i in report["insufficient_data"] if i["rule"] == rule]


# ---------------------------------------------------------------------------------------------
# windows end at the newest day with data


def test_yesterday_only_data_is_judged_up_to_yesterday(ws, tmp_path):
    """At 9 a.m. nothing of today is settled: the windows end yesterday, so the 1-day window
    is yesterday's delivery (not an empty today) and the run says so."""
    rows = [good_day(k) for k in range(-7, 0)]
    rows[-1] = [day(-1), "M1", "A", 800.0, 20_000, 5_200, 40, 2_080.0]  # CTR 26 % yesterday
    import_csv(ws.db, "metrics", tmp_path / "千川.csv", HEADER, rows)
    report = run(ws)
    assert report["run"]["data_through"] == day(-1).isoformat()
    assert report["run"]["window_ends"] == {"M1": day(-1).isoformat(), "M2": AS_OF.isoformat()}
    facts = evaluate(ws, EvaluateOptions(as_of=AS_OF, store=False)).facts
    grant = next(f.values for f in facts["grant"] if f.entity_id == "G-A")
    assert grant["spend_1d"] == 800.0 and grant["days_with_data"] == 7
    merchant = {f.entity_id: f.values for f in facts["merchant"]}
    assert merchant["M1"]["data_through"] == day(-1).isoformat()
    assert (
        merchant["M1"]["data_age_days"] == 1 and merchant["M1"]["window_end"] == day(-1).isoformat()
    )
    assert not findings(report, "QCR003")  # yesterday is as fresh as 千川 data gets
    # the merchant without any metrics is listed, never silently fresh
    assert [i["entity"]["id"] for i in insufficient(report, "QCR003")] == ["M2"]


def test_exclude_recent_days_still_overrides_the_end(ws, tmp_path):
    import_csv(ws.db, "metrics", tmp_path / "m.csv", HEADER, [good_day(k) for k in range(-9, 1)])
    config = ws.config.path
    config.write_text(
        config.read_text(encoding="utf-8") + "\n[params.monitoring]\nexclude_recent_days = 2\n",
        encoding="utf-8",
    )
    workspace = Workspace.discover(config)
    report = evaluate(workspace, EvaluateOptions(as_of=AS_OF, store=False)).report
    # the default packs end at today's data; the run lists the unshifted ends
    assert report["run"]["window_ends"]["M1"] == AS_OF.isoformat()
    facts = evaluate(workspace, EvaluateOptions(as_of=AS_OF, store=False, packs=["monitoring"]))
    grant = next(f.values for f in facts.facts["grant"] if f.entity_id == "G-A")
    assert grant["spend_1d"] == 500.0 and grant["spend_3d"] == 1_500.0
    assert facts.report["run"]["window_ends"]["M1"] == day(-2).isoformat()
    workspace.close()
    # every pack takes it, also one that does not declare it; a bad value is refused
    config.write_text(
        config.read_text(encoding="utf-8") + "\n[params.optimization]\nexclude_recent_days = 3\n",
        encoding="utf-8",
    )
    workspace = Workspace.discover(config)
    run = evaluate(workspace, EvaluateOptions(as_of=AS_OF, store=False, packs=["optimization"]))
    creator = next(f.values for f in run.facts["creator"] if f.entity_id == "A")
    assert (
        creator["spend_1d"] == 500.0
        and run.report["run"]["window_ends"]["M1"] == day(-3).isoformat()
    )
    workspace.close()
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "exclude_recent_days = 3", "exclude_recent_days = -1"
        ),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="between 0 and 30 days"):
        evaluate(Workspace.discover(config), EvaluateOptions(as_of=AS_OF, store=False))


def test_stale_metrics_warn_with_what_to_do(ws, tmp_path, cli):
    import_csv(ws.db, "metrics", tmp_path / "m.csv", HEADER, [good_day(k) for k in range(-12, -3)])
    report = run(ws)
    [stale] = findings(report, "QCR003")
    assert stale["level"] == "warn" and stale["entity"]["id"] == "M1"
    assert stale["action"]["kind"] == "import_metrics"
    assert stale["evidence"]["data_age_days"] == 4
    assert day(-4).isoformat() in stale["message"]
    # the windows end on the newest day there is, so the rules still judge what is known
    assert report["run"]["window_ends"]["M1"] == day(-4).isoformat()
    shown = cli("rule", "QCR003", env={"QCRULES_LANG": "en"})
    assert shown.returncode == 0, shown.stderr
    assert "stale-metrics" in shown.stdout and "import_metrics" in shown.stdout


def test_a_rule_that_cannot_see_enough_days_is_listed(ws, tmp_path):
    """A pool star with 4 days of data: OPT003 cannot judge 7 days, so it says so."""
    rows = [good_day(k, roi=4.0) for k in range(-4, 0)]
    import_csv(ws.db, "metrics", tmp_path / "m.csv", HEADER, rows)
    report = run(ws)
    assert not findings(report, "OPT003")
    notes = {i["entity"]["id"]: i for i in insufficient(report, "OPT003")}
    assert sorted(notes) == ["A", "B"]  # B, in the pool without any data, neither
    assert "days_with_data" in notes["A"]["guard"]
    rows = [good_day(k, roi=4.0) for k in range(-7, 0)]
    import_csv(ws.db, "metrics", tmp_path / "m2.csv", HEADER, rows)
    assert [f["entity"]["id"] for f in findings(run(ws), "OPT003")] == ["A"]


# ---------------------------------------------------------------------------------------------
# no revoke on trivial spend; rate rules need a floor


def test_three_trivial_days_after_a_good_week_do_not_revoke(ws, tmp_path):
    rows = [good_day(k) for k in range(-10, -3)]
    rows += [[day(k), "M1", "A", 3.0, 300, 15, 0, 1.5] for k in range(-3, 0)]  # ¥3, ROI 0.5
    import_csv(ws.db, "metrics", tmp_path / "m.csv", HEADER, rows)
    report = run(ws)
    assert not findings(report, "MON004")
    facts = evaluate(ws, EvaluateOptions(as_of=AS_OF, store=False)).facts
    grant = next(f.values for f in facts["grant"] if f.entity_id == "G-A")
    assert grant["roi_below_break_even_streak"] == 0


def test_three_meaningful_days_below_break_even_revoke_and_explain_shows_them(ws, tmp_path, cli):
    rows = [good_day(k) for k in range(-10, -4)]
    rows += [[day(-4), "M1", "A", 300.0, 12_000, 600, 20, 500.0]]  # ROI 1.67 below 2.0
    rows += [[day(-3), "M1", "A", 8.0, 400, 20, 0, 2.0]]  # trivial: skipped, not counted
    rows += [[day(k), "M1", "A", 300.0, 12_000, 600, 20, 450.0 + 10 * k] for k in (-2, -1)]
    import_csv(ws.db, "metrics", tmp_path / "m.csv", HEADER, rows)
    report = run(ws)
    [revoke] = findings(report, "MON004")
    assert (
        revoke["entity"]["id"] == "G-A" and revoke["evidence"]["roi_below_break_even_streak"] == 3
    )
    [why] = explain(ws, "MON004", "G-A", as_of=AS_OF)
    assert why.outcome == "fired" and why.window_end == day(-1)
    assert [(d["date"], d["verdict"]) for d in why.days] == [
        (day(-1).isoformat(), "below"),
        (day(-2).isoformat(), "below"),
        (day(-3).isoformat(), "skipped"),
        (day(-4).isoformat(), "below"),
        (day(-5).isoformat(), "ends"),
    ]
    assert why.days[0]["spend"] == 300.0 and why.days[0]["roi"] == pytest.approx(
        440 / 300, abs=1e-4
    )
    assert why.days[2]["spend"] == 8.0
    shown = cli("explain", "MON004", "G-A", "--as-of", AS_OF.isoformat(), cwd=ws.config.path.parent,
                env={"QCRULES_LANG": "en"})  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert (
        f"{day(-3).isoformat()}  spend ¥8.00  ROI 0.25  spend under the floor: skipped"
        in shown.stdout
    )
    assert (
        f"{day(-1).isoformat()}  spend ¥300.00  ROI 1.47  below break-even: counted" in shown.stdout
    )


def test_rate_rules_need_impressions_and_clicks(ws, tmp_path):
    """CTR 25 % on 2,100 impressions and CVR 1 % on 90 clicks are too little to judge:
    listed as insufficient data with the floor that failed, never a finding."""
    rows = [[day(k), "M1", "A", 60.0, 300, 13, 0, 150.0] for k in range(-7, 0)]
    import_csv(ws.db, "metrics", tmp_path / "m.csv", HEADER, rows)
    report = run(ws)
    for rule in ("MON001", "MON005"):
        assert not findings(report, rule)
        [note] = insufficient(report, rule)
        floor = "min_ctr_impressions" if rule == "MON001" else "min_clicks"
        assert floor in note["guard"] and note["entity"]["id"] == "G-A"
    rows = [[day(k), "M1", "A", 600.0, 3_000, 130, 0, 1_500.0] for k in range(-7, 0)]
    import_csv(ws.db, "metrics", tmp_path / "m2.csv", HEADER, rows)
    report = run(ws)
    assert findings(report, "MON005")  # 910 clicks, no orders: now it is judged


# ---------------------------------------------------------------------------------------------
# several 千川 accounts and plan rows per creator-day


@pytest.mark.parametrize(
    "header", ["千川账户ID", "账户ID", "advertiser_id", "广告账户ID", "广告账户"]
)
def test_account_headers_are_recognised(header):
    assert C.header_map(C.METRICS)[C.match_key(header)] == "account_id"


def test_two_accounts_per_creator_day_are_kept_apart_and_summed(ws, tmp_path):
    header = [
        "日期",
        "商家ID",
        "达人UID",
        "千川账户ID",
        "计划名称",
        "消耗",
        "展示次数",
        "点击次数",
        "成交金额",
    ]
    rows = []
    for k in range(-7, 0):
        rows.append([day(k), "M1", "A", "1001", "计划A", 200, 8_000, 400, 500])
        rows.append([day(k), "M1", "A", "1001", "计划B", 100, 2_000, 100, 250])  # same account
        rows.append([day(k), "M1", "A", "2002", "计划C", 300, 10_000, 500, 420])  # second account
    path = write_csv(tmp_path / "两个账户.csv", header, rows)
    result = run_import(ws.db, "metrics", [path])
    assert result.ok and result.files[0].inserted == 14
    assert any("21 rows summed into 14" in n for n in result.files[0].notes)

    def stored() -> list[tuple]:
        m = table(DailyMetric).c
        query = select(m.date, m.account_id, m.grant_id, m.spend, m.impressions, m.clicks, m.gmv)
        with ws.db.connect() as conn:
            return sorted(tuple(r) for r in conn.execute(query))

    before = stored()
    assert (day(-1), "1001", "", 300.0, 10_000, 500, 750.0) in before
    assert (day(-1), "2002", "", 300.0, 10_000, 500, 420.0) in before
    again = run_import(ws.db, "metrics", [path])  # the same export again: nothing doubles
    assert again.ok and again.files[0].inserted == 0 and again.files[0].updated == 14
    assert stored() == before

    facts = evaluate(ws, EvaluateOptions(as_of=AS_OF, store=False)).facts
    grant = next(f.values for f in facts["grant"] if f.entity_id == "G-A")
    creator = next(f.values for f in facts["creator"] if f.entity_id == "A")
    for values in (grant, creator):
        assert values["spend_1d"] == 600.0 and values["spend_7d"] == 4_200.0
        assert values["impressions_7d"] == 140_000 and values["days_with_data"] == 7
        assert values["roi_7d"] == pytest.approx(1_170 / 600)
    # each day's ROI is judged on its summed spend and GMV: 1170 / 600 = 1.95 < 2.0
    assert grant["roi_below_break_even_streak"] == 7


def test_the_same_days_in_another_export_layout_are_warned_about(ws, tmp_path):
    """A day first imported without the account column, then with it, is two rows that
    are summed: said when it happens. Separate exports of two accounts are not a clash."""
    rows = [good_day(k) for k in range(-3, 0)]
    import_csv(ws.db, "metrics", tmp_path / "plain.csv", HEADER, rows)
    header = [*HEADER, "千川账户ID"]
    first = run_import(
        ws.db, "metrics", [write_csv(tmp_path / "a.csv", header, [[*r, "1001"] for r in rows])]
    )
    assert first.ok
    [warning] = [w for w in first.files[0].warnings if "counts twice" in w]
    assert warning.startswith("3 stored metric rows") and "account none" in warning
    other = [good_day(k) for k in range(-6, -3)]  # days with account rows only
    for account in ("1001", "2002"):
        path = write_csv(tmp_path / f"{account}.csv", header, [[*r, account] for r in other])
        each = run_import(ws.db, "metrics", [path])
        assert each.ok and not [w for w in each.files[0].warnings if "counts twice" in w]
    again = run_import(ws.db, "metrics", [tmp_path / "a.csv"], dry_run=True)
    assert [w for w in again.files[0].warnings if "counts twice" in w]  # the plain rows remain


def test_metrics_key_migration_keeps_every_row(db_url, tmp_path):
    """A workspace at the baseline schema, with attributed and unattributed rows, upgrades:
    NULL grant ids become '', every row stays, and a second account's row then fits."""
    db = open_database(db_url, create=True, check=False)
    with db.write("test") as conn:
        config = baseline_schema(conn)
        conn.execute(
            text(
                "insert into merchants (merchant_id, name, break_even_roi, created_at, updated_at)"
                " values ('M1', 'x', 2.0, '2026-11-01', '2026-11-01')"
            )
        )
        conn.execute(
            text(
                "insert into creators (aweme_id, nickname, created_at, updated_at)"
                " values ('A', 'a', '2026-11-01', '2026-11-01')"
            )
        )
        for offset, grant in ((-2, None), (-1, "G-1")):
            conn.execute(
                text(
                    "insert into metrics (merchant_id, aweme_id, date, grant_id, spend,"
                    " impressions, clicks) values ('M1', 'A', :d, :g, 10, 100, 5)"
                ).bindparams(bindparam("d", type_=Date)),  # not sqlite3's deprecated adapter
                {"d": day(offset), "g": grant},
            )
    assert db.revision() == BASELINE
    result = migrate.upgrade(db)
    assert result.after == HEAD
    with db.engine.connect() as conn:
        got = sorted(
            tuple(r)
            for r in conn.execute(text("select date, grant_id, account_id, spend from metrics"))
        )
        version = conn.execute(
            text("select value from schema_meta where key = 'schema_version'")
        ).scalar()
    assert [(str(d)[:10], g, a, s) for d, g, a, s in got] == [
        (day(-2).isoformat(), "", "", 10.0),
        (day(-1).isoformat(), "G-1", "", 10.0),
    ]
    assert version == "2"
    with db.begin() as conn:  # the new key takes a second account's row of the same day
        conn.execute(
            text(
                "insert into metrics (merchant_id, aweme_id, date, account_id, spend,"
                " impressions, clicks) values ('M1', 'A', :d, '2002', 5, 50, 2)"
            ).bindparams(bindparam("d", type_=Date)),
            {"d": day(-2)},
        )
    with db.write("test") as conn:  # and going back would merge them: refused
        config.attributes["connection"] = conn
        with pytest.raises(RuntimeError, match="several metric rows"):
            command.downgrade(config, BASELINE)
    db.close()


# ---------------------------------------------------------------------------------------------
# the demo, as a user runs it


def test_demo_run_names_its_data_days_and_every_rule_fires(cli, demo_folder):
    as_of = "2026-11-27"
    result = cli("evaluate", "--as-of", as_of, "--format", "json", "--no-store", cwd=demo_folder)
    report = json.loads(result.stdout)
    assert report["run"]["data_through"] == "2026-11-26"
    ends = report["run"]["window_ends"]
    assert ends["M4"] == "2026-11-23" and {ends[m] for m in ("M1", "M2", "M3")} == {"2026-11-26"}
    [stale] = [f for f in report["findings"] if f["rule"] == "QCR003"]
    assert stale["entity"]["id"] == "M4"
    from qcrules.packs.registry import load_packs

    every = {r.id for p in load_packs(None).packs for r in p.rules}
    assert every <= {f["rule"] for f in report["findings"]}
    # the merchant whose exports lack 加购: its add-to-cart rule is listed, not passed
    lean = {i["entity"]["merchant"] for i in report["insufficient_data"] if i["rule"] == "MON006"}
    assert "M3" in lean
