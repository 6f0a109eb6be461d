"""Rules that hold on data shaped like real 千川 / 蝉妈妈 exports (issue 11): files without the
columns the demo fills in, pools where a percentile can lie, grants without end dates, a
morning's renewal — each case imported through the real importer and judged by the real
engine, on SQLite and PostgreSQL (the `db_url` fixture)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from qcrules import service
from qcrules.evaluation import EvaluateOptions
from qcrules.model import Grant, open_database
from qcrules.model.db import table
from qcrules.workspace import Workspace, init_workspace

AS_OF = date(2026, 11, 27)
PERMANENT = date(2099, 12, 31)

MERCHANTS = "商家ID,商家名称,保本ROI,目标性别,目标年龄段,经营类目,行业转化率\nM1,男装旗舰店,2.0,男,31-40|41-50,男装,1%\n"
# a 蝉妈妈-like creators export: no 自有账号 column, a 抖音号 beside the UID
CREATOR_HEADER = (
    "达人UID,抖音号,达人昵称,粉丝数,活跃粉丝占比,完播率,男性粉丝占比,粉丝年龄分布,主营类目,"
    "报价,近30天平均成交额,返点,接受投流,接受脚本修改,数据已核实,实名认证,严重违规,托管授权,合作码"
)
HEALTHY = {
    "fans": "12万",
    "active": "70%",
    "completion": "40%",
    "male": "90%",
    "ages": "31-40:0.5|41-50:0.4|24-30:0.1",
    "cats": "男装",
    "quote": "2000",
    "gmv30": "10000",
    "rebate": "25%",
    "ads": "是",
    "script": "是",
    "verified": "是",
    "realname": "是",
    "violation": "否",
    "hosted": "否",
    "code": "CODE1234",
}


def day(offset: int) -> date:
    return AS_OF + timedelta(days=offset)


def creator_row(aweme: str, **over: str) -> str:
    v = {**HEALTHY, **over}
    return ",".join(
        [
            aweme,
            f"dy_{aweme}",
            f"达人{aweme}",
            *(
                v[k]
                for k in (
                    "fans",
                    "active",
                    "completion",
                    "male",
                    "ages",
                    "cats",
                    "quote",
                    "gmv30",
                    "rebate",
                    "ads",
                    "script",
                    "verified",
                    "realname",
                    "violation",
                    "hosted",
                    "code",
                )
            ),
        ]
    )


@pytest.fixture
def ws(db_url, tmp_path) -> Workspace:
    init_workspace(tmp_path / "ws", database_url=db_url).close()
    workspace = Workspace.discover(tmp_path / "ws" / "qcrules.toml")
    yield workspace
    workspace.close()


def load(ws: Workspace, kind: str, content: str, name: str | None = None) -> None:
    path = ws.root / (name or f"{kind}.csv")
    path.write_text(content, encoding="utf-8")
    result = service.import_files(ws, kind, [path])
    assert result.ok, [p.format(path.name) for f in result.files for p in f.problems]


def setup(ws: Workspace, creators: dict[str, dict[str, str]], pool: str = "in_pool") -> None:
    load(ws, "merchants", MERCHANTS)
    rows = [CREATOR_HEADER, *(creator_row(a, **over) for a, over in creators.items())]
    load(ws, "creators", "\n".join(rows) + "\n")
    load(
        ws,
        "pool",
        "商家ID,达人UID,状态\n" + "".join(f"M1,{a},{pool}\n" for a in creators),
    )


def metrics(ws: Workspace, per_creator: dict[str, tuple[float, int, int, float]]) -> None:
    """Seven days (as_of-6 … as_of) per creator: spend, impressions, clicks, gmv a day."""
    rows = ["日期,商家ID,达人UID,消耗,展示次数,点击次数,成交订单数,成交金额,加购次数"]
    for aweme, (spend, shows, clicks, gmv) in per_creator.items():
        for offset in range(-6, 1):
            rows.append(f"{day(offset)},M1,{aweme},{spend},{shows},{clicks},10,{gmv},20")
    load(ws, "metrics", "\n".join(rows) + "\n")


def evaluate(ws: Workspace, **options: Any) -> dict:
    return service.evaluate(ws, EvaluateOptions(as_of=AS_OF, store=False, **options)).report


def fired(report: dict) -> dict[tuple[str, str], dict]:
    return {(f["rule"], f["entity"]["id"]): f for f in report["findings"]}


def undecided(report: dict) -> set[tuple[str, str]]:
    return {(i["rule"], i["entity"]["id"]) for i in report["insufficient_data"]}


def config_append(ws: Workspace, text_: str) -> Workspace:
    path = ws.config.path
    assert path is not None
    path.write_text(path.read_text(encoding="utf-8") + text_, encoding="utf-8")
    return Workspace.discover(path)


# ---------------------------------------------------------------------------------------------
# 2. fail closed on unknown ownership


GRANTS_HEADER = "授权ID,商家ID,达人UID,授权类型,授权范围,授权状态,开始时间,结束时间\n"


def test_self_operated_grant_with_no_ownership_column_is_critical(ws):
    setup(ws, {"1001": {}, "1002": {}})
    load(
        ws,
        "grants",
        GRANTS_HEADER
        + f"G1,M1,1001,自运营,直播间,授权生效,{day(-5)},{day(10)}\n"
        + f"G2,M1,1002,合作达人,直播间,授权生效,{day(-5)},{day(10)}\n",
    )
    got = fired(evaluate(ws))
    assert got[("PRM001", "G1")]["level"] == "critical"
    assert got[("PRM001", "G1")]["action"]["kind"] == "revoke_grant"
    assert ("PRM001", "G2") not in got
    # listed as the merchant's own account (by 抖音号): a 自营授权 is fine there
    own = config_append(ws, '\n[merchant.M1]\nown_accounts = ["dy_1001"]\n')
    try:
        assert ("PRM001", "G1") not in fired(evaluate(own))
    finally:
        own.close()


# ---------------------------------------------------------------------------------------------
# 4. OPT001 never removes a profitable creator


def _pool_of(ws: Workspace, bottom_roi_gmv: float, peers: int = 6) -> None:
    """`peers` healthy creators (ROI 3.0–4.0, CTR 5–8 %), and BOT with CTR 1 % whose daily
    GMV on ¥1,000 spend is `bottom_roi_gmv` (break-even is ROI 2.0)."""
    names = [f"P{i}" for i in range(peers)]
    setup(ws, {**{n: {} for n in names}, "BOT": {}})
    data = {n: (1000.0, 10000, 500 + 50 * i, 3000.0 + 200 * i) for i, n in enumerate(names)}
    data["BOT"] = (1000.0, 10000, 100, bottom_roi_gmv)
    metrics(ws, data)


def test_profitable_bottom_fifth_creator_is_kept(ws):
    _pool_of(ws, bottom_roi_gmv=2500.0)  # ROI 2.5: bottom of the pool, but profitable
    report = evaluate(ws, packs=["optimization"])
    assert ("OPT001", "BOT") not in fired(report)
    assert ("OPT001", "BOT") not in undecided(report)


def test_losing_bottom_fifth_creator_is_removed(ws):
    _pool_of(ws, bottom_roi_gmv=1500.0)  # ROI 1.5 < break-even 2.0
    got = fired(evaluate(ws, packs=["optimization"]))
    assert got[("OPT001", "BOT")]["action"]["kind"] == "remove_from_pool"
    assert got[("OPT001", "BOT")]["evidence"]["pool.peer_count"] == 6
    assert not [k for k in got if k[0] == "OPT001" and k[1] != "BOT"]


def test_opt001_needs_enough_peers_and_the_creator_is_not_its_own_yardstick(ws):
    # four peers besides BOT: fewer than min_pool_peers (5), so no verdict on percentiles
    _pool_of(ws, bottom_roi_gmv=1500.0, peers=4)
    report = evaluate(ws, packs=["optimization"])
    assert ("OPT001", "BOT") not in fired(report)
    assert ("OPT001", "BOT") in undecided(report)  # listed, never silently quiet
    # with min_pool_peers = 4 it fires: BOT is judged against the four others only
    # (with itself in, its own values would drag the 20th percentile down to it)
    lower = config_append(ws, "\n[params.optimization]\nmin_pool_peers = 4\n")
    try:
        got = fired(evaluate(lower, packs=["optimization"]))
        assert got[("OPT001", "BOT")]["evidence"]["pool.peer_count"] == 4
    finally:
        lower.close()


# ---------------------------------------------------------------------------------------------
# 5. screening consistency: SCR003 + SCR012, PRM010


def test_unverified_creator_is_never_qualified(ws):
    setup(
        ws,
        {"OK": {}, "UNVER": {"verified": "否"}, "WRONGCAT": {"cats": "美妆"}},
        pool="candidate",
    )
    got = fired(evaluate(ws, packs=["screening"]))
    assert ("SCR012", "OK") in got
    assert ("SCR003", "UNVER") in got and ("SCR012", "UNVER") not in got
    assert ("SCR005", "WRONGCAT") in got and ("SCR012", "WRONGCAT") not in got


def test_hosted_direct_promotion_only_for_a_creator_passing_screening(ws):
    setup(ws, {"H1": {"hosted": "是"}, "H2": {"hosted": "是", "verified": "否"}})
    got = fired(evaluate(ws, packs=["permissions"]))
    assert got[("PRM010", "H1")]["action"]["kind"] == "direct_promote"
    assert ("PRM010", "H2") not in got


# ---------------------------------------------------------------------------------------------
# 6. PRM011 judges drafts


def test_missing_cooperation_code_is_a_warning_on_drafts_only(ws):
    setup(ws, {"1001": {"code": ""}, "1002": {"code": ""}})
    load(
        ws,
        "grants",
        GRANTS_HEADER
        + f"G1,M1,1001,合作达人,单视频,草稿,{day(0)},{day(29)}\n"
        + f"G2,M1,1002,合作达人,单视频,待达人确认,{day(0)},{day(29)}\n",
    )
    got = fired(evaluate(ws, packs=["permissions"]))
    assert got[("PRM011", "G1")]["level"] == "warn"
    assert ("PRM011", "G2") not in got  # 千川 sent it, so the code was there


# ---------------------------------------------------------------------------------------------
# 7. grant dates


def test_a_grants_file_without_an_end_date_leaves_it_unknown(ws):
    setup(ws, {"1001": {}, "1002": {}})
    load(
        ws,
        "grants",
        "授权ID,商家ID,达人UID,授权类型,授权范围,授权状态,开始时间\n"
        f"G1,M1,1001,合作达人,单视频,授权生效,{day(-5)}\n",
        name="no_end.csv",
    )
    load(ws, "grants", GRANTS_HEADER + f"G2,M1,1002,合作达人,单视频,授权生效,{day(-5)},永久\n")
    with ws.db.connect() as conn:
        ends = dict(conn.execute(select(table(Grant).c.grant_id, table(Grant).c.ends_at)).all())
    assert ends == {"G1": None, "G2": PERMANENT}
    report = evaluate(ws, packs=["permissions"])
    got = fired(report)
    assert ("PRM002", "G1") not in got and ("PRM002", "G2") in got
    # an unknown end is said, not silently passed
    assert ("PRM003", "G1") in undecided(report)


def test_an_earlier_workspace_keeps_its_permanent_grants_permanent(db_url):
    """NULL meant permanent before; the upgrade writes 2099-12-31 so PRM002 still fires."""
    from alembic import command

    from qcrules.model import migrate

    db = open_database(db_url, create=True, check=False)
    config = migrate.alembic_config()
    with db.write("test") as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001_baseline")
        for sql in (
            "insert into merchants (merchant_id, name, break_even_roi, created_at, updated_at)"
            " values ('M1', 'm', 2.0, '2026-11-01', '2026-11-01')",
            "insert into creators (aweme_id, nickname, created_at, updated_at)"
            " values ('A', 'a', '2026-11-01', '2026-11-01')",
            "insert into grants (grant_id, merchant_id, aweme_id, auth_type, scope, status,"
            " starts_at, ends_at, created_at, updated_at) values"
            " ('G-perm', 'M1', 'A', 'cooperative', 'live_room', 'active', '2026-11-01', NULL,"
            " '2026-11-01', '2026-11-01'),"
            " ('G-30', 'M1', 'A', 'cooperative', 'live_room', 'active', '2026-11-01',"
            " '2026-11-30', '2026-11-01', '2026-11-01')",
        ):
            conn.execute(text(sql))
    migrate.upgrade(db)
    with db.connect() as conn:
        ends = dict(conn.execute(text("select grant_id, ends_at from grants")).all())
    ends = {
        k: v if isinstance(v, date) else date.fromisoformat(str(v)[:10]) for k, v in ends.items()
    }
    assert ends == {"G-perm": PERMANENT, "G-30": date(2026, 11, 30)}
    db.close()


# ---------------------------------------------------------------------------------------------
# 8. renewals


def _expiring(ws: Workspace, ends_in: int, duration: int = 30) -> None:
    setup(ws, {"1001": {}})
    start = day(ends_in - duration + 1)
    load(
        ws,
        "grants",
        GRANTS_HEADER + f"G1,M1,1001,合作达人,单视频,授权生效,{start},{day(ends_in)}\n",
    )
    metrics(ws, {"1001": (1000.0, 10000, 500, 3000.0)})  # ROI 3.0 ≥ break-even 2.0


def test_renew_once_and_never_twice(ws):
    _expiring(ws, ends_in=5)  # inside the 7-day window
    service.evaluate(ws, EvaluateOptions(as_of=AS_OF))
    queue = [i for i in service.action_queue(ws) if i.rule == "PRM005"]
    assert len(queue) == 1 and queue[0].kind == "renew_grant"
    service.apply_action(ws, queue[0].ref, today=AS_OF)
    report = evaluate(ws, packs=["permissions"])
    assert not [k for k in fired(report) if k[0] in ("PRM005", "PRM006") and k[1] == "G1"]


def test_renewal_beats_shortening_a_long_grant_about_to_end(ws):
    _expiring(ws, ends_in=3, duration=90)
    got = fired(evaluate(ws, packs=["permissions"]))
    assert ("PRM005", "G1") in got and ("PRM003", "G1") not in got


def test_expiring_today_reads_today(ws, monkeypatch):
    monkeypatch.setenv("QCRULES_LANG", "zh")
    from qcrules.i18n import language

    language.cache_clear()
    try:
        _expiring(ws, ends_in=0)
        message = fired(evaluate(ws, packs=["permissions"], lang="zh"))[("PRM005", "G1")]["message"]
    finally:
        language.cache_clear()
    assert message.startswith("今天到期") and "0 天" not in message


def test_direct_promotion_says_the_backend_decides(ws, monkeypatch):
    monkeypatch.setenv("QCRULES_LANG", "zh")
    setup(ws, {"H1": {"hosted": "是"}})
    message = fired(evaluate(ws, packs=["permissions"], lang="zh"))[("PRM010", "H1")]["message"]
    assert "以千川后台显示为准" in message


# ---------------------------------------------------------------------------------------------
# 10. numbers a 投手 can read


def test_a_ratio_never_prints_like_the_threshold_it_misses(ws):
    setup(ws, {"1001": {"active": "59.6%"}}, pool="candidate")
    got = fired(evaluate(ws, packs=["screening"], lang="en"))
    message = got[("SCR001", "1001")]["message"]
    assert "59.6%" in message and "60%" in message


# ---------------------------------------------------------------------------------------------
# 9. import as exports come: 抖音号授权, multi-valued 授权类型, creators by 抖音号


def test_account_scope_multi_valued_auth_type_and_creators_by_handle(ws):
    setup(ws, {"1001": {}, "1002": {}, "1003": {}})
    # a 千川 grants export names creators by 抖音号 only
    load(
        ws,
        "grants",
        "授权ID,商家ID,抖音号,授权类型,授权范围,授权状态,开始时间,结束时间\n"
        f"G1,M1,dy_1001,合作达人,抖音号授权,授权生效,{day(-5)},{day(20)}\n"
        f'G2,M1,dy_1002,"自运营,合作达人",抖音号授权,授权生效,{day(-5)},{day(20)}\n'
        f"G3,M1,dy_1003,合作达人,所有作品,授权生效,{day(-5)},{day(20)}\n",
    )
    with ws.db.connect() as conn:
        g = table(Grant)
        rows = {
            r.grant_id: (r.aweme_id, r.auth_type, r.scope)
            for r in conn.execute(select(g.c.grant_id, g.c.aweme_id, g.c.auth_type, g.c.scope))
        }
    assert rows == {
        "G1": ("1001", "cooperative", "account"),
        "G2": ("1002", "self_operated", "account"),  # the riskiest of the two is kept
        "G3": ("1003", "cooperative", "all_works"),
    }
    # the UID column holding 抖音号 is matched too
    load(
        ws,
        "metrics",
        f"日期,商家ID,达人UID,消耗,展示次数,点击次数\n{day(-1)},M1,dy_1001,100,1000,30\n",
    )
    with ws.db.connect() as conn:
        assert conn.execute(text("select aweme_id from metrics")).scalar_one() == "1001"
    got = fired(evaluate(ws, packs=["permissions"]))
    assert ("PRM004", "G1") not in got  # 抖音号授权 is not 所有作品
    assert ("PRM004", "G3") in got
    assert got[("PRM001", "G2")]["level"] == "critical"


def test_an_unknown_handle_is_a_clear_error_naming_the_line(ws):
    setup(ws, {"1001": {}})
    path = ws.root / "grants.csv"
    path.write_text(
        "授权ID,商家ID,抖音号,授权类型,授权范围,授权状态\nG1,M1,dy_nobody,合作达人,单视频,草稿\n",
        encoding="utf-8",
    )
    result = service.import_files(ws, "grants", [path])
    assert not result.ok
    problems = [p.format("grants.csv") for f in result.files for p in f.problems]
    assert any("grants.csv:2" in p and "dy_nobody" in p and "抖音号" in p for p in problems)
    with ws.db.connect() as conn:
        assert conn.execute(text("select count(*) from grants")).scalar_one() == 0


# ---------------------------------------------------------------------------------------------
# 7 + 10. actions a 投手 can carry out


def test_shortening_never_proposes_a_past_date_and_says_what_qianchuan_needs(ws):
    setup(ws, {"1001": {}})
    # a 90-day grant that started 60 days ago: 30 days from its start is long past
    load(
        ws,
        "grants",
        GRANTS_HEADER + f"G1,M1,1001,合作达人,单视频,授权生效,{day(-60)},{day(29)}\n",
    )
    report = service.evaluate(ws, EvaluateOptions(as_of=AS_OF, lang="zh")).report
    finding = fired(report)[("PRM003", "G1")]
    assert set(finding["action"]["steps"]) == {"pc", "mobile"}
    item = next(i for i in service.action_queue(ws) if i.rule == "PRM003")
    outcome = service.apply_action(ws, item.ref, today=AS_OF, dry_run=True)
    proposed = date.fromisoformat(outcome.changes[0].after["proposed_ends_at"])
    assert AS_OF < proposed <= day(29)
    assert "解除授权" in outcome.steps or "Revoke" in outcome.steps


def test_every_action_kind_has_its_click_path():
    from qcrules.actions.kinds import BUILTIN_ACTIONS, steps_for

    for kind in BUILTIN_ACTIONS:
        for lang in ("zh", "en"):
            steps = steps_for(kind, lang)
            assert steps and set(steps) <= {"pc", "mobile", "all"}, kind
            assert all(text.strip() for text in steps.values()), kind
    # where PC and 随心推 differ, both are given
    assert set(steps_for("revoke_grant", "zh")) == {"pc", "mobile"}
    assert "小店随心推" in steps_for("revoke_grant", "zh")["mobile"]


def test_zh_table_is_chinese_and_names_creators_by_handle(ws, cli):
    setup(ws, {"1001": {}})
    load(
        ws,
        "grants",
        GRANTS_HEADER + f"G1,M1,1001,自运营,直播间,授权生效,{day(-5)},{day(10)}\n",
    )

    def evaluate_prm001(*options: str, **env: str):
        """`qcrules evaluate --select PRM001` on this workspace, as a user types it."""
        args = ("evaluate", "--as-of", AS_OF.isoformat(), "--no-store", "--select", "PRM001")
        return cli(
            *args,
            *options,
            cwd=ws.root,
            env={**env, "QCRULES_DATABASE_URL": ws.config.database_url},
        )

    result = evaluate_prm001(QCRULES_LANG="zh")
    out = result.stdout
    assert "严重" in out and "critical" not in out
    assert "授权 G1 @M1" in out and "达人1001（抖音号 dy_1001）" in out
    assert "解除授权" in out and "小店随心推" in out  # the action and its click paths
    assert "发现：1 严重，0 错误，0 警告，0 提示" in out
    js = evaluate_prm001("--format", "json")
    import json

    finding = json.loads(js.stdout)["findings"][0]
    assert finding["entity"]["handle"] == "dy_1001"
    assert set(finding["action"]["steps"]) == {"pc", "mobile"}


# ---------------------------------------------------------------------------------------------
# 11. the agreement


def test_agreement_never_contradicts_itself_and_states_the_rights(ws):
    setup(ws, {"1001": {}, "1002": {}, "1003": {}})
    load(
        ws,
        "grants",
        GRANTS_HEADER
        + f"G1,M1,1001,合作达人,单视频,授权生效,{day(-5)},永久\n"
        + f"G3,M1,1003,合作达人,单视频,授权生效,{day(-5)},{day(24)}\n",
    )
    load(
        ws,
        "grants",
        "授权ID,商家ID,达人UID,授权类型,授权范围,授权状态,开始时间\n"
        f"G2,M1,1002,合作达人,单视频,授权生效,{day(-5)}\n",
        name="undated.csv",
    )
    with_settlement = config_append(ws, '\n[merchant.M1]\nsettlement = "月结，次月10日前结清"\n')
    try:
        texts = {g: service.agreement(with_settlement, g).text for g in ("G1", "G2", "G3")}
    finally:
        with_settlement.close()
    assert "不设永久授权" not in texts["G1"] and "长期有效" in texts["G1"]
    assert "以千川后台显示为准" in texts["G2"] and "永久" not in texts["G2"]
    assert f"{day(-5)} 至 {day(24)}（29 天）" in texts["G3"]
    for text_ in texts.values():
        assert "无权登录或操作乙方账号" in text_ and "发布" in text_
        assert "月结，次月10日前结清" in text_


# ---------------------------------------------------------------------------------------------
# an export without GMV: the ROI streak is unknown, not zero


@pytest.mark.parametrize("gmv_cell", ["", "-", None], ids=["empty", "dash", "no-column"])
def test_mon004_says_insufficient_data_when_the_export_lacks_gmv(ws, gmv_cell):
    """A 千川 export without 成交金额 (or with `-` in it) gave roi_below_break_even_streak 0, so
    MON004 went silent on a grant losing money every day; the streak is unknown, MON004 lists
    the grant under insufficient data, and explain says why, day by day."""
    setup(ws, {"1001": {}})
    load(
        ws, "grants", GRANTS_HEADER + f"G1,M1,1001,合作达人,直播间,授权生效,{day(-20)},{day(10)}\n"
    )
    header = "日期,商家ID,达人UID,消耗,展示次数,点击次数" + (
        "" if gmv_cell is None else ",成交金额"
    )
    rows = [header]
    for offset in range(-6, 0):  # yesterday is the last day, as exports are
        cells = f"{day(offset)},M1,1001,800,40000,1200"
        rows.append(cells if gmv_cell is None else f"{cells},{gmv_cell}")
    load(ws, "metrics", "\n".join(rows) + "\n")
    report = evaluate(ws, packs=["monitoring"])
    assert ("MON004", "G1") not in fired(report)
    assert ("MON004", "G1") in undecided(report)
    (why,) = [i for i in report["insufficient_data"] if i["rule"] == "MON004"]
    assert "roi_below_break_even_streak" in why["missing"]
    (explained,) = service.explain(ws, "MON004", "G1", as_of=AS_OF)
    assert [d["verdict"] for d in explained.days] == ["unknown"]
    # every backtest day reads it the same way (the rolling builder's own streak)
    days = service.backtest(ws, day(-2), AS_OF, packs=["monitoring"]).days
    assert days and all(d.by_rule.get("MON004", 0) == 0 for d in days)


def test_a_day_without_gmv_older_than_the_streak_leaves_it_known(ws):
    """Three days below break-even counted back from yesterday, then an older day without
    GMV: the streak is at least 3, which is what MON004 asks — it fires; the older day is
    shown as unknown."""
    setup(ws, {"1001": {}})
    load(
        ws, "grants", GRANTS_HEADER + f"G1,M1,1001,合作达人,直播间,授权生效,{day(-20)},{day(10)}\n"
    )
    rows = ["日期,商家ID,达人UID,消耗,展示次数,点击次数,成交金额"]
    rows.append(f"{day(-6)},M1,1001,800,40000,1200,5000")  # above break-even: ends it
    rows.append(f"{day(-5)},M1,1001,800,40000,1200,5000")
    rows.append(f"{day(-4)},M1,1001,800,40000,1200,-")
    for offset in (-3, -2, -1):
        rows.append(f"{day(offset)},M1,1001,800,40000,1200,1000")  # ROI 1.25 < 2.0
    load(ws, "metrics", "\n".join(rows) + "\n")
    report = evaluate(ws, packs=["monitoring"])
    assert ("MON004", "G1") not in undecided(report), report["insufficient_data"]
    assert ("MON004", "G1") in fired(report)
    (explained,) = service.explain(ws, "MON004", "G1", as_of=AS_OF)
    assert [d["verdict"] for d in explained.days] == ["below", "below", "below", "unknown"]


def test_grants_of_a_merchant_without_any_metrics_are_not_called_idle(ws):
    """Grants and creators imported, no 千川 export yet: PRM014 said "no spend in 7 days"
    of every active grant. With no metric rows at all the windows are unknown, so PRM014
    says insufficient data (QCR003 already says the merchant has no metrics); after the
    first export it judges spend again."""
    setup(ws, {"1001": {}, "1002": {}})
    load(
        ws, "grants", GRANTS_HEADER + f"G1,M1,1001,合作达人,直播间,授权生效,{day(-20)},{day(10)}\n"
    )
    report = evaluate(ws, packs=["permissions"])
    assert ("PRM014", "G1") not in fired(report)
    assert ("PRM014", "G1") in undecided(report)
    load(
        ws,
        "metrics",
        "日期,商家ID,达人UID,消耗,展示次数,点击次数,成交金额\n"
        f"{day(-1)},M1,1002,100,1000,10,300\n",  # another creator spent; G1 did not
    )
    assert ("PRM014", "G1") in fired(evaluate(ws, packs=["permissions"]))


def test_an_active_grant_without_a_start_date_owns_its_creators_rows(ws):
    """A grants export without 开始时间 and a 千川 export without 授权ID: every row went to no
    grant, so every monitoring rule said "insufficient data" on 14 days of data. A grant
    that ran with no date known owns its pair's rows until a dated grant starts."""
    setup(ws, {"1001": {}, "1002": {}})
    load(
        ws,
        "grants",
        "授权ID,商家ID,达人UID,授权类型,授权范围,授权状态,结束时间\n"
        f"G1,M1,1001,合作达人,直播间,授权生效,{day(20)}\n"
        f"G2,M1,1002,合作达人,直播间,已过期,{day(-30)}\n"  # an old grant, then a dated one
        f"G3,M1,1002,合作达人,直播间,授权生效,{day(20)}\n",
        name="grants_nostart.csv",
    )
    load(
        ws,
        "grants",
        "授权ID,商家ID,达人UID,授权类型,授权范围,授权状态,开始时间,结束时间\n"
        f"G3,M1,1002,合作达人,直播间,授权生效,{day(-10)},{day(20)}\n",
        name="g3.csv",
    )
    rows = ["日期,商家ID,达人UID,消耗,展示次数,点击次数,成交金额"]
    for offset in range(-14, 0):  # ROI 1.0 against break-even 2.0, CTR 25 %
        rows += [f"{day(offset)},M1,{a},1000,4000,1000,1000" for a in ("1001", "1002")]
    load(ws, "metrics", "\n".join(rows) + "\n")
    report = evaluate(ws, packs=["monitoring"])
    got = fired(report)
    assert ("MON001", "G1") in got and ("MON004", "G1") in got
    # only the rules needing columns this export lacks (orders, add-to-cart) are undecided
    assert {u[0] for u in undecided(report) if u[1] == "G1"} <= {"MON005", "MON006"}
    # G2 (no start) owned 1002's rows until G3 started; G3 owns them from its start
    assert ("MON004", "G3") in got and ("MON001", "G3") in got
    g3 = next(f for f in service.evaluate(ws, EvaluateOptions(as_of=AS_OF, store=False,
              packs=["monitoring"])).facts["grant"] if f.entity_id == "G3")  # fmt: skip
    assert g3.values["spend_7d"] == 7000.0
