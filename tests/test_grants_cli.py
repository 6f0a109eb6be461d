"""`qcrules grants list|request|mark` through the real CLI, on SQLite and PostgreSQL: the gate
rules refuse risky terms before anything is written, --accept-risk records why, --dry-run
writes nothing, a 合作码 makes a request (and is only ever shown masked), and every move along
the state machine is audited and undone with `qcrules actions undo`."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import create_engine, select, text

from qcrules import service
from qcrules.errors import UsageError
from qcrules.model.db import table
from qcrules.model.tables import Grant
from qcrules.workspace import Workspace, init_workspace

CODE = "HZ7Q-20261127-9931"  # a creator's 合作码: a credential

MERCHANTS = """merchant_id,name,break_even_roi,categories,target_gender
M1,型格男装旗舰店,1.8,男装,male
M2,悦颜美妆,2.0,美妆,female
"""
CREATORS = """aweme_id,aweme_show_id,nickname,fans_count,active_fan_ratio,completion_rate,fan_male_ratio,categories,accepts_ads,data_verified,real_name_verified,serious_violation,is_own_account,cooperation_code
1001,laowang_nz,型男老王,250000,0.72,0.41,0.8,男装,true,true,true,false,false,
1002,xiaoyu_fx,爱分享的小鱼,180000,0.68,0.38,0.7,男装,true,true,true,false,false,ZZ11-CODE-5678
1003,xinggeguanfang,型格先生官方旗舰号,90000,0.75,0.45,0.8,男装,true,true,true,false,true,
1004,shuazhang_01,刷量小号,500000,0.31,0.12,0.5,男装,true,false,true,false,false,
1005,weizhi_09,来历不明,30000,0.66,0.35,0.8,男装,true,true,true,false,,
"""


@pytest.fixture
def ws(db_url, tmp_path):
    """A workspace on the backend: two merchants and four creators in M1's pool."""
    folder = tmp_path / "ws"
    workspace = init_workspace(folder, database_url=db_url)
    (tmp_path / "merchants.csv").write_text(MERCHANTS, encoding="utf-8")
    (tmp_path / "creators.csv").write_text(CREATORS, encoding="utf-8")
    service.import_files(workspace, "merchants", [tmp_path / "merchants.csv"])
    service.import_files(workspace, "creators", [tmp_path / "creators.csv"], merchant="M1")
    workspace.close()
    engine = create_engine(db_url)
    yield Ws(folder, engine)
    engine.dispose()


class Ws:
    def __init__(self, folder, engine) -> None:
        self.folder, self.engine = folder, engine

    def rows(self, sql: str, **params) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(text(sql), params).mappings()]

    def grant(self, grant_id: str) -> dict:
        """The grant's row, with typed columns (dates as dates on both backends)."""
        grants = table(Grant)
        with self.engine.connect() as conn:
            (row,) = conn.execute(select(grants).where(grants.c.grant_id == grant_id)).mappings()
        return dict(row)

    def count(self, name: str) -> int:
        return self.rows(f"select count(*) as n from {name}")[0]["n"]


def run(cli, ws, *args, code=0):
    result = cli(*args, cwd=ws.folder, env={"QCRULES_ACTOR": "tester"})
    assert result.returncode == code, result.stdout + result.stderr
    return result


def request(cli, ws, *args, code=0, fmt="json"):
    result = run(
        cli, ws, "grants", "request", "--merchant", "M1", *args, "--format", fmt, code=code
    )
    return result, (json.loads(result.stdout) if fmt == "json" else None)


@pytest.mark.parametrize(
    ("args", "rule", "level"),
    [
        (["--creator", "1001", "--scope", "all_works"], "PRM004", "warn"),
        (["--creator", "1001", "--scope", "account"], "PRM004", "warn"),
        (["--creator", "1001", "--scope", "live_room", "--days", "45"], "PRM003", "warn"),
        (["--creator", "1001", "--scope", "live_room", "--until", "permanent"], "PRM002", "error"),
        (["--creator", "1001", "--scope", "live_room", "--until", "2099-12-31"], "PRM002", "error"),
        (
            ["--creator", "1001", "--scope", "live_room", "--auth-type", "self_operated"],
            "PRM001",
            "critical",
        ),
    ],
)
def test_each_risky_term_refuses_the_request_and_writes_nothing(cli, ws, args, rule, level):
    result, out = request(cli, ws, *args, "--code", CODE, code=1)
    assert out["refused"] is True and out["written"] is False
    assert [g["rule"] for g in out["gates"]] == [rule] and out["gates"][0]["level"] == level
    assert rule in result.stderr and out["gates"][0]["message"] in result.stderr
    assert "--accept-risk" in result.stderr
    assert ws.count("grants") == 0 and ws.count("audit_log") == 0
    # the code given was not stored either
    assert ws.rows("select cooperation_code from creators where aweme_id = '1001'") == [
        {"cooperation_code": None}
    ]


def test_several_risky_terms_are_all_named_in_one_refusal(cli, ws):
    result = run(
        cli, ws, "grants", "request", "--merchant", "M1", "--creator", "1001",
        "--scope", "all_works", "--days", "90", code=1,
    )  # fmt: skip
    assert "PRM003" in result.stderr and "PRM004" in result.stderr
    assert "Refused by the rules that judge the grant's terms" in result.stdout
    assert "Grant runs 90 days, longer than 30" in result.stdout
    assert ws.count("grants") == 0


def test_a_gate_that_cannot_judge_refuses_too(cli, ws):
    """Whose account 1005 is, nobody recorded: a self-operated grant on it is not waved
    through — PRM001 fails closed on an unknown owner and says how to mark one's own."""
    result, out = request(
        cli, ws, "--creator", "1005", "--scope", "live_room", "--auth-type", "self_operated",
        code=1,
    )  # fmt: skip
    assert [g["rule"] for g in out["gates"]] == ["PRM001"]
    assert "own_accounts" in out["gates"][0]["message"]
    assert "PRM001" in result.stderr and ws.count("grants") == 0
    _, fine = request(cli, ws, "--creator", "1005", "--scope", "live_room")  # 合作达人: judged
    assert fine["gates"] == [] and fine["written"] is True


def test_self_operated_on_the_merchants_own_account_passes(cli, ws):
    _, out = request(
        cli, ws, "--creator", "1003", "--scope", "live_room", "--auth-type", "self_operated"
    )
    assert out["refused"] is False and out["gates"] == [] and out["written"] is True
    assert ws.grant(out["grant"]["grant_id"])["auth_type"] == "self_operated"


def test_accept_risk_records_the_grant_and_the_reason_in_the_audit_log(cli, ws):
    reason = "品牌方指定全作品授权，已签补充协议"
    _, out = request(cli, ws, "--creator", "1002", "--scope", "all_works", "--accept-risk", reason)
    assert out["written"] is True and out["refused"] is False
    assert out["accepted_risk"] == reason and [g["rule"] for g in out["gates"]] == ["PRM004"]
    grant = ws.grant(out["grant"]["grant_id"])
    assert grant["scope"] == "all_works" and grant["status"] == "requested"
    assert reason in grant["note"] and "PRM004" in grant["note"]
    log = json.loads(run(cli, ws, "actions", "log", "--format", "json").stdout)
    assert log[0]["kind"] == "grant:request" and log[0]["note"] == reason
    assert log[0]["entity"]["id"] == grant["grant_id"] and log[0]["actor"] == "tester"
    # a reason is required
    result = run(
        cli, ws, "grants", "request", "--merchant", "M1", "--creator", "1002",
        "--scope", "all_works", "--accept-risk", "  ", code=2,
    )  # fmt: skip
    assert "--accept-risk needs a reason" in result.stderr
    assert ws.count("grants") == 1


def test_dry_run_judges_and_shows_but_writes_nothing(cli, ws):
    result, _ = request(
        cli, ws, "--creator", "1001", "--scope", "single_video", "--video", "7301",
        "--code", CODE, "--dry-run", fmt="table",
    )  # fmt: skip
    assert "--dry-run, nothing written" in result.stdout
    assert "Terms: pass" in result.stdout
    _, out = request(
        cli, ws, "--creator", "1001", "--scope", "live_room", "--code", CODE, "--dry-run"
    )
    assert (
        out["dry_run"] is True and out["written"] is False and out["grant"]["status"] == "requested"
    )
    # a refused dry run exits 1 like the real one, and an accepted one still writes nothing
    request(cli, ws, "--creator", "1001", "--scope", "all_works", "--dry-run", code=1)
    _, out = request(
        cli, ws, "--creator", "1001", "--scope", "all_works", "--dry-run", "--accept-risk", "ok"
    )
    assert out["accepted_risk"] == "ok" and out["written"] is False
    assert ws.count("grants") == 0 and ws.count("audit_log") == 0
    assert ws.rows("select cooperation_code from creators where aweme_id = '1001'") == [
        {"cooperation_code": None}
    ]


def test_without_a_code_a_draft_with_one_a_request_and_the_code_stays_masked(cli, ws):
    today = date.today()
    _, draft = request(cli, ws, "--creator", "1001", "--scope", "live_room")
    assert draft["grant"]["status"] == "draft" and draft["cooperation_code"] is None
    row = ws.grant(draft["grant"]["grant_id"])
    assert row["status"] == "draft" and row["requested_at"] is None
    assert row["auth_type"] == "cooperative" and row["channel"] == "pc"  # the safe defaults
    assert row["starts_at"] == today and row["ends_at"] == today + timedelta(days=15)
    # the to-do list: what stands between it and a clean request
    assert {t["rule"] for t in draft["todo"]} == {"PRM009", "PRM011"}
    assert all(not t["gate"] for t in draft["todo"])

    result, _ = request(
        cli, ws, "--creator", "1001", "--scope", "single_video", "--video", "7301",
        "--code", CODE, "--channel", "mobile_in_order", fmt="table",
    )  # fmt: skip
    assert "****9931" in result.stdout and "Recorded grant" in result.stdout
    (made_id,) = ws.rows("select grant_id from grants where status = 'requested'")
    made = ws.grant(made_id["grant_id"])
    assert made["requested_at"] == today and made["channel"] == "mobile_at_order"
    assert made["video_id"] == "7301"
    assert ws.rows("select cooperation_code from creators where aweme_id = '1001'") == [
        {"cooperation_code": CODE}
    ]
    # the steps of the 随心推 下单时 scenario, the creator's confirmation and the agreement
    assert "小店随心推" in result.stdout and "pop-up" in result.stdout
    assert f"qcrules grants mark {made['grant_id']} approved" in result.stdout
    assert f"qcrules agreement {made['grant_id']}" in result.stdout
    # a code already on the creator's record counts too
    _, known = request(cli, ws, "--creator", "1002", "--scope", "live_room")
    assert known["grant"]["status"] == "requested" and known["cooperation_code"] == "****5678"
    assert {t["rule"] for t in known["todo"]} == {"PRM009"}
    # the whole code appears in no output and no audit entry
    log = run(cli, ws, "actions", "log", "--format", "json").stdout
    listed = run(cli, ws, "grants", "list", "--format", "json").stdout
    assert CODE not in log + listed + result.stdout + result.stderr
    assert "ZZ11-CODE-5678" not in log + json.dumps(known)


def test_pc_steps_follow_the_guide(cli, ws):
    result, _ = request(
        cli, ws, "--creator", "1002", "--scope", "live_room", "--days", "30", fmt="table"
    )
    steps = result.stdout[result.stdout.index("Steps in 千川") :]
    for words in (
        "账户",
        "抖音号授权",
        "添加抖音号",
        "xiaoyu_fx",
        "****5678",
        "30 days",
        "发起授权",
    ):
        assert words in steps
    assert steps.index("添加抖音号") < steps.index("****5678") < steps.index("发起授权")
    result, _ = request(
        cli,
        ws,
        "--creator",
        "1001",  # not 1002 again: a second live room grant for the same days is refused
        "--scope",
        "live_room",
        "--channel",
        "mobile_pre_order",
        fmt="table",
    )
    assert "合作授权申请" in result.stdout and "搜索达人" in result.stdout


def test_creator_screening_findings_are_context_not_refusals(cli, ws):
    _, out = request(cli, ws, "--creator", "1004", "--scope", "live_room", "--code", CODE)
    assert out["written"] is True and out["gates"] == []
    context = {c["rule"] for c in out["context"]}
    assert {"SCR001", "SCR002", "SCR003"} <= context  # active fans, completion, unverified


def test_bad_requests_say_what_is_wrong_and_change_nothing(cli, ws):
    cases = [
        (["--merchant", "M3", "--creator", "1001", "--scope", "live_room"], "no merchant 'M3'"),
        (
            ["--merchant", "M1", "--creator", "9999", "--scope", "live_room"],
            "unknown creator '9999'",
        ),
        (
            ["--merchant", "M1", "--creator", "1001", "--scope", "live_room", "--days", "0"],
            "at least 1",
        ),
        (
            [
                "--merchant",
                "M1",
                "--creator",
                "1001",
                "--scope",
                "live_room",
                "--days",
                "15",
                "--until",
                "2030-01-01",
            ],
            "not both",
        ),
        (
            ["--merchant", "M1", "--creator", "1001", "--scope", "live_room", "--video", "7"],
            "--video",
        ),
        (
            [
                "--merchant",
                "M1",
                "--creator",
                "1001",
                "--scope",
                "live_room",
                "--until",
                "2020-01-01",
            ],
            "not after",
        ),
    ]
    for args, message in cases:
        result = run(cli, ws, "grants", "request", *args, code=2)
        assert message in result.stderr, (args, result.stderr)
    assert ws.count("grants") == 0 and ws.count("audit_log") == 0


def test_the_state_machine_moves_audits_and_undoes(cli, ws):
    _, out = request(cli, ws, "--creator", "1001", "--scope", "live_room", "--days", "15")
    grant_id = out["grant"]["grant_id"]
    # a draft cannot be requested without a 合作码
    result = run(cli, ws, "grants", "mark", grant_id, "requested", code=2)
    assert "has no 合作码" in result.stderr and "--code" in result.stderr
    assert ws.grant(grant_id)["status"] == "draft"
    # illegal moves name the allowed ones
    result = run(cli, ws, "grants", "mark", grant_id, "approved", code=2)
    assert "cannot move to approved" in result.stderr
    assert "allowed from here: requested, revoked" in result.stderr

    asked = date.today() - timedelta(days=2)
    run(cli, ws, "grants", "mark", grant_id, "requested", "--code", CODE, "--on", asked.isoformat())
    row = ws.grant(grant_id)
    assert row["status"] == "requested" and row["requested_at"] == asked
    confirmed = date.today() + timedelta(days=1)
    result = run(
        cli, ws, "grants", "mark", grant_id, "approved", "--on", confirmed.isoformat(),
        "--note", "达人已在抖音APP确认",
    )  # fmt: skip
    assert "requested → approved → active" in result.stdout
    row = ws.grant(grant_id)
    assert row["status"] == "active" and row["starts_at"] == confirmed
    assert row["ends_at"] == confirmed + timedelta(days=15)  # the term is kept
    result = run(cli, ws, "grants", "mark", grant_id, "requested", code=2)
    assert "allowed from here: revoked, expired" in result.stderr

    log = json.loads(run(cli, ws, "actions", "log", "--format", "json").stdout)
    assert [e["kind"] for e in log[:3]] == ["grant:approved", "grant:requested", "grant:request"]
    assert log[0]["note"] == "达人已在抖音APP确认"
    assert CODE not in json.dumps(log)

    # undo takes the approval back, then the request
    result = run(cli, ws, "actions", "undo")
    assert "active → requested" in result.stdout
    row = ws.grant(grant_id)
    assert row["status"] == "requested" and row["starts_at"] == date.today()
    run(cli, ws, "actions", "undo")
    assert ws.grant(grant_id)["status"] == "draft"
    # when it happened must fit the grant: no end before it started, no revoke in the future
    later = (date.today() + timedelta(days=3)).isoformat()
    for day, message in (("2001-01-01", "is before grant"), (later, "is after today")):
        result = run(cli, ws, "grants", "mark", grant_id, "revoked", "--on", day, code=2)
        assert message in result.stderr and ws.grant(grant_id)["status"] == "draft"
    run(cli, ws, "grants", "mark", grant_id, "revoked")
    result = run(cli, ws, "grants", "mark", grant_id, "requested", code=2)
    assert "revoked is final" in result.stderr
    same = run(cli, ws, "grants", "mark", grant_id, "revoked", code=2)
    assert f"grant {grant_id} is already revoked" in same.stderr
    run(cli, ws, "actions", "undo")  # the revocation
    run(cli, ws, "actions", "undo")  # the request itself: the grant is gone
    assert ws.rows("select grant_id from grants where grant_id = :g", g=grant_id) == []


def test_undo_refuses_when_the_grant_moved_since(cli, ws):
    _, out = request(cli, ws, "--creator", "1002", "--scope", "live_room")
    grant_id = out["grant"]["grant_id"]
    run(cli, ws, "grants", "mark", grant_id, "approved")
    audit = json.loads(run(cli, ws, "actions", "log", "--format", "json").stdout)
    first = audit[-1]["id"]  # the request
    result = run(cli, ws, "actions", "undo", str(first), code=2)
    assert "changed again since" in result.stderr
    assert ws.grant(grant_id)["status"] == "active"


def test_list_as_json_and_filtered(cli, ws):
    _, first = request(cli, ws, "--creator", "laowang_nz", "--scope", "live_room", "--days", "30")
    assert first["grant"]["aweme_id"] == "1001"  # the 抖音号 names the creator too
    _, out = request(cli, ws, "--creator", "1002", "--scope", "live_room", "--days", "10")
    grants = json.loads(run(cli, ws, "grants", "list", "--format", "json").stdout)
    assert len(grants) == 2
    for g in grants:
        assert {
            "grant_id", "merchant_id", "aweme_id", "status", "scope", "channel",
            "starts_at", "ends_at", "days_left",
        } <= set(g)  # fmt: skip
    second = next(g for g in grants if g["grant_id"] == out["grant"]["grant_id"])
    assert second["days_left"] == 10 and second["status"] == "requested"
    assert second["starts_at"] == date.today().isoformat()
    only = json.loads(run(cli, ws, "grants", "list", "--state", "draft", "--format", "json").stdout)
    assert [g["aweme_id"] for g in only] == ["1001"]
    assert (
        json.loads(run(cli, ws, "grants", "list", "--creator", "1002", "--format", "json").stdout)[
            0
        ]["grant_id"]
        == second["grant_id"]
    )
    assert (
        json.loads(run(cli, ws, "grants", "list", "--merchant", "M2", "--format", "json").stdout)
        == []
    )
    result = run(cli, ws, "grants", "list", "--merchant", "M9", code=2)
    assert "no merchant 'M9'" in result.stderr
    table = run(cli, ws, "grants", "list").stdout
    assert "型男老王" in table and "2 grant(s)" in table


def test_a_pack_of_ones_own_can_gate_requests(cli, ws):
    """gate = true is a documented rule key: a pack from a folder (or a plugin) gates too."""
    rules = ws.folder / "rules"
    rules.mkdir()
    (rules / "house.toml").write_text(
        """[pack]
id = "house"
version = "1.0.0"
entity = "grant"
title = { zh = "本公司规定", en = "House rules" }

[[rules]]
id = "HSE001"
name = "no-mobile-grants"
level = "warn"
when = 'channel != "pc"'
action = { kind = "review_grant" }
message = { zh = "本公司只在PC端发起授权", en = "We request grants on PC only" }
source = "house rules"
gate = true

[[rules]]
id = "HSE002"
name = "live-room-needs-script"
level = "warn"
when = 'scope == "live_room"'
action = { kind = "review_grant" }
message = { zh = "直播间授权需附讲解脚本", en = "Live-room grants need a talk script" }
source = "house rules"
""",
        encoding="utf-8",
    )
    config = ws.folder / "qcrules.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace("paths = []", 'paths = ["rules"]', 1),
        encoding="utf-8",
    )
    result = run(
        cli, ws, "grants", "request", "--merchant", "M1", "--creator", "1002",
        "--scope", "live_room", "--channel", "mobile_pre_order", code=1,
    )  # fmt: skip
    assert "HSE001" in result.stderr and "We request grants on PC only" in result.stderr
    _, out = request(cli, ws, "--creator", "1002", "--scope", "live_room")
    assert out["written"] is True
    assert "HSE002" in {t["rule"] for t in out["todo"]}  # not a gate: a to-do
    # a gate that is not true or false is a pack error, with file and line
    text_ = (
        (rules / "house.toml").read_text(encoding="utf-8").replace("gate = true", 'gate = "yes"')
    )
    (rules / "house.toml").write_text(text_, encoding="utf-8")
    result = run(cli, ws, "packs", "validate", code=4)
    assert "house.toml:" in result.stderr and "gate must be true or false" in result.stderr


def test_renewal_request_is_safe_and_linked(ws):
    workspace = Workspace.discover(ws.folder / "qcrules.toml")
    try:
        from qcrules.grants import GrantRequest

        first = service.request_grant(
            workspace, GrantRequest("M1", "1002", scope="all_works", days=20), accept_risk="x"
        )
        grant_id = first.grant["grant_id"]
        renewal = service.renewal_request(workspace, grant_id)
        assert renewal.scope == "single_video" and renewal.days == 20
        assert renewal.renewal_of == grant_id and renewal.auth_type == "cooperative"
        check = service.check_grant_request(workspace, renewal)
        assert check.gates == []
        starts = date.today() + timedelta(days=21)  # the day after the old one ends
        assert check.grant["starts_at"] == starts and check.grant["renewal_of"] == grant_id
    finally:
        workspace.close()


def test_an_account_level_request_is_judged_as_all_works_by_the_service(ws):
    """The TUI form asks the service directly: an account-level (抖音号授权) request is refused
    by PRM004 there as on the CLI, and accepted with a reason it is recorded as all works."""
    from qcrules.grants import GrantRequest

    workspace = Workspace.discover(ws.folder / "qcrules.toml")
    try:
        request = GrantRequest("M1", "1001", scope="account", days=15)
        assert [g.rule for g in service.check_grant_request(workspace, request).gates] == ["PRM004"]
        written = service.request_grant(workspace, request, accept_risk="whole account agreed")
        assert ws.grant(written.grant["grant_id"])["scope"] == "all_works"
    finally:
        workspace.close()


def test_a_grant_has_one_live_renewal_whoever_asks(cli, ws):
    """A second renewal of the same grant is refused (CLI request, and the queue's
    renew_grant); once the first is rejected, renewing again works."""
    _, out = request(cli, ws, "--creator", "1002", "--scope", "live_room", "--code", CODE)
    old = out["grant"]["grant_id"]
    _, first = request(cli, ws, "--creator", "1002", "--scope", "live_room", "--renewal-of", old)
    renewal = first["grant"]["grant_id"]
    before = ws.count("grants"), ws.count("audit_log")
    result = run(
        cli, ws, "grants", "request", "--merchant", "M1", "--creator", "1002",
        "--scope", "live_room", "--renewal-of", old, code=2,
    )  # fmt: skip
    assert f"grant {old} already has a renewal, {renewal} (requested)" in result.stderr
    assert (ws.count("grants"), ws.count("audit_log")) == before

    from qcrules.actions.queue import QueueItem, changes_for

    item = QueueItem(
        "f" * 24, "run", "PRM005", "renew", "permissions", "info", "grant", old, "M1", "1002",
        "renew it", "renew_grant", {}, {}, None,
    )  # fmt: skip
    with ws.engine.connect() as conn, pytest.raises(UsageError, match="already has a renewal"):
        changes_for(conn, item, date.today())

    run(cli, ws, "grants", "mark", renewal, "rejected")
    request(cli, ws, "--creator", "1002", "--scope", "live_room", "--renewal-of", old)


def test_a_new_cooperation_code_stays_on_the_creator_when_the_request_is_undone(cli, ws):
    """1002 had ZZ11-CODE-5678; a request with a new code replaces it (masked wherever shown).
    Undoing the request removes the grant and keeps the new code: a creator's code is its
    current one whatever became of the request (the old one no longer works). The undone
    grant's id is not given to the next request, so the log's entries stay its own."""
    code_of = "select cooperation_code from creators where aweme_id = '1002'"
    result, first = request(cli, ws, "--creator", "1002", "--scope", "live_room", "--code", CODE)
    assert ws.rows(code_of) == [{"cooperation_code": CODE}]
    log = run(cli, ws, "actions", "log", "--format", "json").stdout
    assert CODE not in result.stdout + log and "ZZ11-CODE-5678" not in result.stdout + log
    assert "****9931" in log and "****5678" in log
    entry = json.loads(log)[0]
    assert [c["table"] for c in entry["changes"]] == ["grants", "creators"]
    assert entry["changes"][1]["kept_on_undo"] is True
    run(cli, ws, "actions", "undo")
    assert ws.rows(code_of) == [{"cooperation_code": CODE}]
    assert ws.rows("select grant_id from grants") == []
    _, second = request(cli, ws, "--creator", "1002", "--scope", "live_room")
    assert second["grant"]["grant_id"] != first["grant"]["grant_id"]
    assert second["grant"]["status"] == "requested"  # the kept code sends it


def test_a_forms_check_session_judges_as_a_fresh_check_does(ws):
    """The form's live checks reuse one session (packs, the creator's merchant context): each
    answer equals a check made from nothing, for every creator and term tried."""
    from dataclasses import replace as changed

    from qcrules.grants import GrantRequest

    def verdicts(check):
        return [
            [(v.rule, v.level, v.message) for v in part]
            for part in (check.gates, check.todo, check.context)
        ]

    workspace = Workspace.discover(ws.folder / "qcrules.toml")
    try:
        session = service.grant_check_session()
        base = GrantRequest("M1", "1001", scope="live_room", days=15)
        for request in (
            base,
            changed(base, scope="all_works"),
            changed(base, days=45),
            changed(base, aweme_id="1005", auth_type="self_operated"),
            changed(base, code="AB12-CODE-0001"),
            base,
        ):
            live = service.check_grant_request(workspace, request, session=session)
            fresh = service.check_grant_request(workspace, request)
            assert verdicts(live) == verdicts(fresh), request
            assert live.grant == fresh.grant
        assert len(session.contexts) == 2  # one per creator tried
    finally:
        workspace.close()


def test_an_identical_second_request_is_refused_naming_the_first(cli, ws):
    """The same merchant, creator, type, scope and dates twice would ask the creator twice:
    the second is refused (exit 2) with the first one's id, and nothing is written."""
    _, first = request(cli, ws, "--creator", "1002", "--scope", "live_room", "--days", "30")
    grant_id = first["grant"]["grant_id"]
    assert first["written"] is True and first["grant"]["status"] == "requested"
    audit = ws.count("audit_log")

    again = run(
        cli, ws, "grants", "request", "--merchant", "M1", "--creator", "1002",
        "--scope", "live_room", "--days", "30", code=2,
    )  # fmt: skip
    assert f"grant {grant_id} (requested) already asks for this" in again.stderr
    assert f"follow up {grant_id}" in again.stderr
    dry = run(
        cli, ws, "grants", "request", "--merchant", "M1", "--creator", "1002",
        "--scope", "live_room", "--days", "30", "--dry-run", code=2,
    )  # fmt: skip
    assert grant_id in dry.stderr
    assert ws.count("grants") == 1 and ws.count("audit_log") == audit

    # another scope is another request; a draft is named with the way to send it
    request(cli, ws, "--creator", "1002", "--scope", "single_video", "--video", "7301")
    _, draft = request(cli, ws, "--creator", "1001", "--scope", "live_room")
    assert draft["grant"]["status"] == "draft"
    zh = cli(
        "grants", "request", "--merchant", "M1", "--creator", "1001", "--scope", "live_room",
        cwd=ws.folder, env={"QCRULES_LANG": "zh"},
    )  # fmt: skip
    assert zh.returncode == 2
    assert f"已有相同的授权 {draft['grant']['grant_id']}（草稿）" in zh.stderr
    assert f"qcrules grants mark {draft['grant']['grant_id']} requested" in zh.stderr
    # once the first is revoked, the same terms can be asked for again
    run(cli, ws, "grants", "mark", grant_id, "revoked")
    _, renewed = request(cli, ws, "--creator", "1002", "--scope", "live_room", "--days", "30")
    assert renewed["written"] is True and renewed["grant"]["grant_id"] != grant_id
    assert ws.count("grants") == 4


def import_grants(ws, tmp_path, rows: list[list]) -> None:
    path = tmp_path / "grants.csv"
    header = ["grant_id", "merchant_id", "aweme_id", "auth_type", "scope", "status",
              "requested_at", "starts_at", "ends_at"]  # fmt: skip
    path.write_text(
        "\n".join(",".join(str(c or "") for c in row) for row in [header, *rows]) + "\n",
        encoding="utf-8",
    )
    workspace = Workspace.discover(ws.folder / "qcrules.toml")
    try:
        assert service.import_files(workspace, "grants", [path]).ok
    finally:
        workspace.close()


def test_a_revoke_or_expiry_without_a_date_ends_the_grant_today(cli, ws, tmp_path):
    """`--on` defaults to today: the end moves to today, so spend after it is PRM007's to find
    (it kept the old end, and the spend of the days after a revoke went unseen)."""
    today = date.today()
    start, end = today - timedelta(days=10), today + timedelta(days=20)
    later = today + timedelta(days=5)
    import_grants(ws, tmp_path, [
        ["GA", "M1", "1001", "cooperative", "live_room", "active", "", start, end],
        ["GB", "M1", "1002", "cooperative", "live_room", "active", "", start, end],
        ["GC", "M1", "1003", "cooperative", "live_room", "requested", today, later, later + timedelta(days=15)],
    ])  # fmt: skip
    run(cli, ws, "grants", "mark", "GA", "revoked")
    run(cli, ws, "grants", "mark", "GB", "expired")
    assert ws.grant("GA")["ends_at"] == today and ws.grant("GB")["ends_at"] == today
    run(cli, ws, "grants", "mark", "GC", "revoked")  # before its scheduled start: ends there
    assert ws.grant("GC")["ends_at"] == later
    run(cli, ws, "actions", "undo")
    assert ws.grant("GC")["ends_at"] == later + timedelta(days=15)


def test_approving_a_grant_whose_end_has_passed_or_a_far_future_day_is_refused(cli, ws, tmp_path):
    today = date.today()
    import_grants(ws, tmp_path, [
        ["GR", "M1", "1001", "cooperative", "live_room", "requested", today - timedelta(days=20), "", today - timedelta(days=2)],
    ])  # fmt: skip
    result = run(cli, ws, "grants", "mark", "GR", "approved", code=2)
    assert "has passed" in result.stderr and "grants request" in result.stderr
    assert ws.grant("GR")["status"] == "requested"
    _, out = request(cli, ws, "--creator", "1002", "--scope", "live_room")
    grant_id = out["grant"]["grant_id"]
    far = (today + timedelta(days=30)).isoformat()
    result = run(cli, ws, "grants", "mark", grant_id, "approved", "--on", far, code=2)
    assert "is after today" in result.stderr
    row = ws.grant(grant_id)
    assert row["status"] == "requested" and row["starts_at"] == today


def test_grants_signed_records_the_agreement_and_closes_prm009(cli, ws):
    _, out = request(cli, ws, "--creator", "1002", "--scope", "live_room")
    grant_id = out["grant"]["grant_id"]

    def prm009() -> bool:
        result = cli(
            "evaluate", "--no-store", "--select", "PRM009", "--format", "json", cwd=ws.folder
        )
        return any(f["entity"]["id"] == grant_id for f in json.loads(result.stdout)["findings"])

    assert prm009()
    result = run(cli, ws, "grants", "signed", grant_id, "--note", "盖章版在共享盘")
    assert "agreement signed" in result.stdout
    assert ws.grant(grant_id)["has_agreement"] is True and not prm009()
    again = run(cli, ws, "grants", "signed", grant_id, code=2)
    assert "already has its agreement" in again.stderr
    log = json.loads(run(cli, ws, "actions", "log", "--format", "json").stdout)
    assert log[0]["kind"] == "grant:signed" and log[0]["note"] == "盖章版在共享盘"
    run(cli, ws, "actions", "undo")
    assert not ws.grant(grant_id)["has_agreement"] and prm009()
    missing = run(cli, ws, "grants", "signed", grant_id + "9", code=2)
    assert "there is no grant" in missing.stderr


def test_a_request_overlapping_a_live_grant_is_refused_naming_it(cli, ws):
    """Another length, another channel or another type for the same merchant, creator and
    scope on some of the same days would ask the creator twice: refused (exit 2) naming the
    live grant and how to follow it up or renew it; nothing is written. A renewal (it starts
    when the old one ends), another scope or video, and a grant that is no longer live do
    not count."""
    _, first = request(cli, ws, "--creator", "1001", "--scope", "live_room", "--code", CODE)
    grant_id = first["grant"]["grant_id"]
    before = ws.count("grants"), ws.count("audit_log")
    for extra in (
        ["--days", "30"],
        ["--channel", "mobile_pre_order", "--days", "14"],
        ["--days", "3", "--dry-run"],
    ):
        refused = run(
            cli, ws, "grants", "request", "--merchant", "M1", "--creator", "1001",
            "--scope", "live_room", *extra, code=2,
        )  # fmt: skip
        assert f"grant {grant_id} (requested, " in refused.stderr, extra
        assert "overlaps this request" in refused.stderr
        assert f"qcrules grants mark {grant_id} rejected|revoked" in refused.stderr
    assert (ws.count("grants"), ws.count("audit_log")) == before
    assert len(ws.rows("select grant_id from grants where aweme_id = '1001'")) == 1

    # once it is active, the way to a longer term is a renewal, which is not an overlap
    run(cli, ws, "grants", "mark", grant_id, "approved")
    refused = run(
        cli, ws, "grants", "request", "--merchant", "M1", "--creator", "1001",
        "--scope", "live_room", "--days", "30", code=2,
    )  # fmt: skip
    assert f"--renewal-of {grant_id}" in refused.stderr
    _, renewal = request(
        cli, ws, "--creator", "1001", "--scope", "live_room", "--renewal-of", grant_id
    )
    assert renewal["written"] is True
    # another scope, another video, another creator: other requests
    request(cli, ws, "--creator", "1001", "--scope", "single_video", "--video", "7301")
    request(cli, ws, "--creator", "1001", "--scope", "single_video", "--video", "7302")
    request(cli, ws, "--creator", "1002", "--scope", "live_room")
    # in zh the refusal names the state in Chinese (1001 has a 合作码 now: requested)
    zh = cli(
        "grants", "request", "--merchant", "M1", "--creator", "1001", "--scope",
        "single_video", "--video", "7301", "--days", "20", cwd=ws.folder,
        env={"QCRULES_LANG": "zh"},
    )  # fmt: skip
    assert zh.returncode == 2 and "（已申请，" in zh.stderr and "时间重叠" in zh.stderr
    # a revoked grant no longer blocks the same terms
    run(cli, ws, "grants", "mark", grant_id, "revoked")
    run(cli, ws, "grants", "mark", renewal["grant"]["grant_id"], "revoked")
    _, again = request(cli, ws, "--creator", "1001", "--scope", "live_room", "--days", "30")
    assert again["written"] is True


def test_a_creator_excluded_from_the_pool_is_refused_unless_the_risk_is_accepted(cli, ws):
    """The screening rules no longer judge an excluded creator (they would say to exclude it
    again), so the request itself says the merchant excluded it, with the note kept on the
    pool row or the reason given when it was excluded by hand: refused (exit 1, nothing
    written) unless --accept-risk gives a reason, which is kept on the grant."""
    (ws.folder / "pool.csv").write_text(
        "merchant_id,aweme_id,status,note\nM1,1004,excluded,刷量嫌疑\n", encoding="utf-8"
    )
    run(cli, ws, "import", "pool", "pool.csv")
    result, out = request(
        cli, ws, "--creator", "1004", "--scope", "live_room", "--code", CODE, "--dry-run",
        fmt="table", code=1,
    )  # fmt: skip
    assert "creator 1004 is excluded from M1's pool (note: 刷量嫌疑)" in result.stdout
    assert "Creator screening (context)" in result.stdout
    assert "the grant request is refused: creator 1004 is excluded from M1's pool" in (
        result.stderr
    )
    assert "put it back in M1's pool" in result.stderr and "--accept-risk" in result.stderr
    _, out = request(cli, ws, "--creator", "1004", "--scope", "live_room", "--code", CODE, code=1)
    assert out["refused"] is True and out["written"] is False and out["gates"] == []
    assert out["excluded"]["merchant_id"] == "M1" and out["excluded"]["note"] == "刷量嫌疑"
    assert ws.count("grants") == 0 and ws.count("audit_log") == 0
    zh = cli(
        "grants", "request", "--merchant", "M1", "--creator", "1004", "--scope", "live_room",
        cwd=ws.folder, env={"QCRULES_LANG": "zh"},
    )  # fmt: skip
    assert (
        zh.returncode == 1 and "达人 1004 已被商家 M1 排除出达人池（原因：刷量嫌疑）" in zh.stdout
    )

    # accepted with a reason: written, the reason and the exclusion on the grant
    _, out = request(
        cli, ws, "--creator", "1004", "--scope", "live_room", "--accept-risk", "老板同意试投一次"
    )
    assert out["written"] is True and out["accepted_risk"] == "老板同意试投一次"
    note = ws.grant(out["grant"]["grant_id"])["note"]
    assert "excluded from the pool" in note and "老板同意试投一次" in note

    # excluded by hand with a reason: the reason is the one shown; in another merchant's
    # pool (or none) the creator is not excluded
    workspace = Workspace.discover(ws.folder / "qcrules.toml")
    try:
        service.set_pool_status(workspace, "M1", "1001", "excluded", note="粉丝画像不符")
    finally:
        workspace.close()
    _, out = request(cli, ws, "--creator", "1001", "--scope", "live_room", "--dry-run", code=1)
    assert out["excluded"]["note"] == "粉丝画像不符"
    other = run(
        cli, ws, "grants", "request", "--merchant", "M2", "--creator", "1001", "--scope",
        "live_room", "--dry-run", "--format", "json",
    )  # fmt: skip
    assert json.loads(other.stdout)["excluded"] is None


def test_in_zh_the_request_mark_and_list_name_states_and_terms_in_chinese(cli, ws):
    """A zh user read 「将会记录授权 …（requested）」: the state words (and the list's type, scope
    and channel) are the zh words the TUI shows; en and the JSON keep the stored words."""

    def zh(*args):
        result = cli(*args, cwd=ws.folder, env={"QCRULES_LANG": "zh"})
        assert result.returncode == 0, result.stderr
        return result.stdout

    dry = zh("grants", "request", "--merchant", "M1", "--creator", "1002", "--scope",
             "live_room", "--dry-run")  # fmt: skip
    assert "（已申请）——--dry-run，未写入" in dry.splitlines()[0]
    draft = zh("grants", "request", "--merchant", "M1", "--creator", "1001", "--scope",
               "live_room")  # fmt: skip
    assert "（草稿，审计 #" in draft.splitlines()[0] and "draft" not in draft.splitlines()[0]
    grant_id = ws.rows("select grant_id from grants")[0]["grant_id"]
    marked = zh("grants", "mark", grant_id, "requested", "--code", CODE)
    assert f"授权 {grant_id}：草稿 → 已申请" in marked and "已拒绝、已撤销" in marked
    listed = zh("grants", "list")
    assert "合作达人授权" in listed and "直播间" in listed and "PC端" in listed
    assert "live_room" not in listed and "requested" not in listed
    english = run(cli, ws, "grants", "list").stdout
    assert "live_room" in english and "requested" in english


def test_the_agreement_command_a_request_prints_works_in_a_fresh_workspace(cli, ws):
    """`grants request` ends with `qcrules agreement <id> -o agreements/<id>.md`: run as
    printed in a workspace with no agreements/ folder yet, it writes the agreement there."""
    import re
    import shlex

    result, _ = request(cli, ws, "--creator", "1002", "--scope", "live_room", fmt="table")
    assert not (ws.folder / "agreements").exists()
    printed = re.search(r"qcrules (agreement \S+ -o \S+\.md)", result.stdout)
    assert printed, result.stdout
    done = run(cli, ws, *shlex.split(printed.group(1)))
    grant_id = shlex.split(printed.group(1))[1]
    written = ws.folder / "agreements" / f"{grant_id}.md"
    assert written.is_file(), done.stderr
    assert grant_id in written.read_text("utf-8") and "爱分享的小鱼" in written.read_text("utf-8")
    assert str(written.relative_to(ws.folder)) in done.stderr  # "wrote agreements/….md"


def test_grants_list_takes_a_creator_by_aweme_id_or_douyin_id(cli, ws):
    """`grants list --creator` takes what `grants request --creator` takes: a 抖音号 lists
    that creator's grants; a creator nobody has is an error, not "0 grant(s)"."""
    _, made = request(cli, ws, "--creator", "xiaoyu_fx", "--scope", "live_room")
    request(cli, ws, "--creator", "1001", "--scope", "live_room")
    grant_id = made["grant"]["grant_id"]
    by_uid = json.loads(
        run(cli, ws, "grants", "list", "--creator", "1002", "--format", "json").stdout
    )
    by_show = json.loads(
        run(cli, ws, "grants", "list", "--creator", "xiaoyu_fx", "--format", "json").stdout
    )
    assert [g["grant_id"] for g in by_show] == [g["grant_id"] for g in by_uid] == [grant_id]
    table = run(cli, ws, "grants", "list", "--creator", "xiaoyu_fx").stdout
    assert grant_id in table and "1 grant(s)" in table
    unknown = run(cli, ws, "grants", "list", "--creator", "xiaoyu_f", code=2)
    assert "unknown creator 'xiaoyu_f'" in unknown.stderr
    assert "did you mean xiaoyu_fx?" in unknown.stderr and "hint:" in unknown.stderr
    # a creator with no grants yet is a known creator: an empty list, as before
    none = run(cli, ws, "grants", "list", "--creator", "xinggeguanfang", "--format", "json")
    assert json.loads(none.stdout) == []


def test_the_list_tells_an_unknown_end_from_a_permanent_one(cli, ws):
    """An export without an end date was listed as "permanent" (the README: an unknown end
    is never permanent); 2099-12-31 is listed as permanent, a date as itself."""
    (ws.folder / "grants.csv").write_text(
        "授权ID,商家ID,达人UID,授权类型,授权范围,授权状态,开始时间,结束时间\n"
        "X-1,M1,1001,合作达人,直播间,授权生效,2026-11-01,\n"
        "X-2,M1,1002,合作达人,直播间,授权生效,2026-11-01,永久\n"
        "X-3,M1,1003,合作达人,直播间,授权生效,2026-11-01,2026-12-31\n",
        encoding="utf-8",
    )
    run(cli, ws, "import", "grants", str(ws.folder / "grants.csv"))
    listed = cli("grants", "list", cwd=ws.folder, env={"COLUMNS": "300"}).stdout.splitlines()
    end = {line.split()[0]: line for line in listed if line.startswith("X-")}
    assert " unknown " in end["X-1"] and "permanent" not in end["X-1"]
    assert " permanent " in end["X-2"] and "2099" not in end["X-2"]
    assert " 2026-12-31 " in end["X-3"]


def test_renewal_of_a_grant_that_cannot_be_renewed_is_refused(cli, ws):
    """Renewing a permanent grant (or one whose end is unknown) wrote a second live grant
    for the same days; a revoked or rejected one was renewed as if alive. Each is refused,
    naming why, and nothing is written; a term ending at 2099-12-31 or later too."""
    (ws.folder / "grants.csv").write_text(
        "授权ID,商家ID,达人UID,授权类型,授权范围,授权状态,开始时间,结束时间\n"
        "P-1,M1,1001,合作达人,直播间,授权生效,2026-11-01,永久\n"
        "U-1,M1,1002,合作达人,直播间,授权生效,2026-11-01,\n"
        "R-1,M1,1003,合作达人,直播间,已解除,2026-11-01,2026-11-20\n"
        "L-1,M1,1004,合作达人,直播间,授权生效,2026-11-01,2099-06-01\n",
        encoding="utf-8",
    )
    run(cli, ws, "import", "grants", str(ws.folder / "grants.csv"))
    before = json.loads(run(cli, ws, "grants", "list", "--format", "json").stdout)
    for creator, old, said in (
        ("1001", "P-1", "is permanent: it needs no renewal"),
        ("1002", "U-1", "has no known end"),
        ("1003", "R-1", "is revoked: it cannot be renewed"),
    ):
        refused, _ = request(
            cli, ws, "--creator", creator, "--scope", "live_room", "--renewal-of", old,
            code=2, fmt="table",
        )  # fmt: skip
        assert said in refused.stderr, refused.stderr
    far, _ = request(cli, ws, "--creator", "1004", "--scope", "live_room", "--renewal-of", "L-1",
                     "--days", "3650", "--accept-risk", "agreed", code=2, fmt="table")  # fmt: skip
    assert "is not before 2099-12-31" in far.stderr
    assert json.loads(run(cli, ws, "grants", "list", "--format", "json").stdout) == before


def test_a_cooperation_code_with_control_characters_is_refused_and_never_shown(cli, ws):
    code = "AB\x1b[2JCD1234"
    refused, _ = request(cli, ws, "--creator", "1001", "--scope", "live_room", "--code", code,
                         code=2, fmt="table")  # fmt: skip
    assert "is not a 合作码" in refused.stderr and "\x1b" not in refused.stderr
    assert "AB" not in refused.stderr  # masked: its last 4 characters only
    long, _ = request(cli, ws, "--creator", "1001", "--scope", "live_room", "--code", "X" * 65,
                      code=2, fmt="table")  # fmt: skip
    assert "over 64 characters" in long.stderr
