"""Contract tests: the real CLI in a subprocess, on a workspace imported from files."""

from __future__ import annotations

import json
import sqlite3
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from pathlib import Path

import pytest

from conftest import ENGINE

AS_OF = date(2026, 11, 27)
LEVELS = {"critical", "error", "warn", "info"}


def day(offset: int) -> str:
    return (AS_OF + timedelta(days=offset)).isoformat()


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """M1 with four creators and four grants, imported through `qcrules import`."""
    from conftest import run_cli

    ws = tmp_path_factory.mktemp("ws")
    assert run_cli("init", str(ws)).returncode == 0
    files = ws / "files"
    files.mkdir()
    write(
        files / "merchants.csv",
        "merchant_id,name,break_even_roi,target_gender,target_age_bands,categories,industry_cvr,"
        "last_permission_audit\n"
        f"M1,男装旗舰店,1.8,male,31-40|41-50,男装,0.02,{day(-2)}\n",
    )
    write(
        files / "creators.csv",
        "达人UID,达人昵称,粉丝数,活跃粉丝占比,完播率,fan_male_ratio,fan_age_dist,主营类目,返点,"
        "accepts_ads,accepts_script_changes,data_verified,real_name_verified,serious_violation,"
        "合作码,is_own_account\n"
        "1001,穿搭阿杰,12万,65%,35%,0.85,31-40:0.5|41-50:0.4|24-30:0.1,男装,25%,是,是,是,是,否,AB12CD34,否\n"
        "1002,刷量小号,8000,40%,35%,0.8,31-40:0.6|41-50:0.3|24-30:0.1,男装,25%,是,是,是,是,否,EF56GH78,否\n"
        "1003,品牌自播号,5万,70%,40%,0.9,31-40:0.5|41-50:0.4|24-30:0.1,男装,25%,是,是,是,是,否,IJ90KL12,是\n"
        "1004,型男老王,3万,70%,40%,0.9,31-40:0.5|41-50:0.4|24-30:0.1,男装,25%,是,是,是,是,否,MN34OP56,否\n",
    )
    write(
        files / "pool.csv",
        "merchant_id,aweme_id,status\nM1,1001,in_pool\nM1,1002,in_pool\nM1,1003,in_pool\n"
        "M1,1004,in_pool\n",
    )
    write(
        files / "grants.csv",
        "授权ID,商家ID,达人UID,授权类型,授权范围,授权状态,开始时间,结束时间,has_agreement\n"
        f"G1,M1,1001,合作达人,单视频,授权生效,{day(-20)},{day(10)},是\n"
        f"G2,M1,1002,自营,直播间,授权生效,{day(-5)},{day(25)},是\n"
        f"G3,M1,1003,合作达人,所有作品,授权生效,{day(-5)},2099-12-31,是\n"
        f"G4,M1,1004,合作达人,单视频,授权生效,{day(-20)},{day(10)},是\n",
    )
    rows = ["日期,商家ID,达人UID,授权ID,消耗,展示次数,点击次数,成交订单数,成交金额,加购次数"]
    for offset in range(-9, 1):
        rows.append(f"{day(offset)},M1,1001,G1,1000,20000,1000,40,2500,60")
        # G4: ROI below break-even, falling, every day
        rows.append(f"{day(offset)},M1,1004,G4,1000,20000,1000,30,{1500 - offset * 50},60")
    write(files / "metrics.csv", "\n".join(rows) + "\n")
    for kind in ("merchants", "creators", "pool", "grants", "metrics"):
        result = run_cli("import", kind, str(files / f"{kind}.csv"), cwd=ws)
        assert result.returncode == 0, result.stderr
    return ws


def evaluate(cli, ws, *args):
    return cli("evaluate", "--as-of", AS_OF.isoformat(), *args, cwd=ws)


def evaluate_json(cli, ws, *args):
    result = evaluate(cli, ws, "--format", "json", "--no-store", *args)
    assert result.returncode in (0, 1), result.stderr
    return result, json.loads(result.stdout)


def test_json_report_has_the_promised_fields(cli, workspace):
    result, report = evaluate_json(cli, workspace)
    assert result.returncode == 1  # a critical finding (PRM001) is at or above `error`
    assert report["qcrules_version"] == "0.1.0"
    run = report["run"]
    assert {"id", "as_of", "started_at", "duration_ms", "packs", "engine"} <= set(run)
    assert run["as_of"] == "2026-11-27" and run["engine"] == ENGINE
    assert {p["id"] for p in run["packs"]} == {
        "screening",
        "permissions",
        "monitoring",
        "optimization",
        "qcrules",
    }
    assert all(p["origin"] == "builtin" and p["version"] == "1.0.0" for p in run["packs"])
    summary = report["summary"]
    assert summary["entities"] == {"creator": 4, "grant": 4, "merchant": 1}
    assert set(summary["findings"]) == LEVELS
    assert sum(summary["findings"].values()) == len(report["findings"])
    for key in ("waived", "insufficient_data", "superseded"):
        assert isinstance(summary[key], int)
    for finding in report["findings"]:
        assert {
            "rule",
            "name",
            "pack",
            "level",
            "entity",
            "message",
            "action",
            "evidence",
            "fingerprint",
            "source",
        } <= set(finding)
        assert finding["level"] in LEVELS
    by_rule = {(f["rule"], f["entity"]["id"]): f for f in report["findings"]}
    prm001 = by_rule[("PRM001", "G2")]
    assert prm001["level"] == "critical" and prm001["action"]["kind"] == "revoke_grant"
    assert prm001["entity"] == {
        "type": "grant",
        "id": "G2",
        "merchant": "M1",
        "creator": "1002",
        "name": "刷量小号",
    }
    assert prm001["evidence"]["auth_type"] == "self_operated"
    assert prm001["source"].startswith("seed 二.1")
    mon004 = by_rule[("MON004", "G4")]
    assert mon004["evidence"]["roi_below_break_even_streak"] >= 3
    assert mon004["evidence"]["params.roi_streak_days"] == 3
    assert "ROI" in mon004["message"]
    scr001 = by_rule[("SCR001", "1002")]
    assert scr001["entity"]["type"] == "creator" and scr001["evidence"]["active_fan_ratio"] == 0.4
    assert ("PRM001", "G3") not in by_rule  # own account: self-operated is allowed there
    assert ("MON004", "G1") not in by_rule  # a healthy grant


def test_conflicting_actions_are_superseded_not_dropped(cli, workspace):
    _, report = evaluate_json(cli, workspace)
    g3 = [f for f in report["findings"] if f["entity"]["id"] == "G3"]
    rules = {f["rule"]: f for f in g3}
    assert {"PRM002", "PRM004"} <= set(rules)  # permanent and all-works
    losers = [f for f in g3 if f.get("superseded_by")]
    assert len(losers) == 1 and report["summary"]["superseded"] >= 1


def test_fingerprints_are_stable_across_runs(cli, workspace):
    _, first = evaluate_json(cli, workspace)
    _, second = evaluate_json(cli, workspace)
    assert [f["fingerprint"] for f in first["findings"]] == [
        f["fingerprint"] for f in second["findings"]
    ]
    assert first["run"]["id"] != second["run"]["id"]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ((), 1),
        (("--fail-on", "never"), 0),
        (("--exit-zero",), 0),
        (("--fail-on", "critical", "--ignore", "PRM001"), 0),
        (("--fail-on", "info", "--select", "SCR012"), 0),
        (("--fail-on", "warn", "--select", "SCR001"), 1),
    ],
)
def test_exit_codes(cli, workspace, args, code):
    result = evaluate(cli, workspace, "--no-store", "--format", "json", *args)
    assert result.returncode == code, result.stderr


def test_select_ignore_and_pack(cli, workspace):
    _, report = evaluate_json(cli, workspace, "--select", "PRM")
    assert report["findings"] and all(f["rule"].startswith("PRM") for f in report["findings"])
    _, report = evaluate_json(cli, workspace, "--ignore", "PRM", "--ignore", "SCR")
    assert all(f["rule"][:3] in ("MON", "OPT") for f in report["findings"])
    _, report = evaluate_json(cli, workspace, "--pack", "monitoring")
    assert [p["id"] for p in report["run"]["packs"]] == ["monitoring"]
    assert {f["rule"] for f in report["findings"]} <= {f"MON00{i}" for i in range(1, 7)}
    # comma-separated, as ruff takes them: the same as the flag given twice
    _, twice = evaluate_json(cli, workspace, "--select", "PRM", "--select", "MON004")
    _, comma = evaluate_json(cli, workspace, "--select", "PRM,MON004")
    assert comma["findings"] == twice["findings"] and twice["findings"]
    assert {f["rule"][:3] for f in comma["findings"]} == {"PRM", "MON"}
    _, packs = evaluate_json(cli, workspace, "--pack", "monitoring, permissions")
    assert [p["id"] for p in packs["run"]["packs"]] == ["monitoring", "permissions"]


def test_as_of_in_the_past_ends_the_windows_there(cli, workspace):
    _, report = evaluate_json(cli, workspace, "--pack", "monitoring")
    assert any(f["rule"] == "MON004" for f in report["findings"])
    result = cli(
        "evaluate",
        "--as-of",
        day(-12),
        "--pack",
        "monitoring",
        "--format",
        "json",
        "--no-store",
        cwd=workspace,
    )
    past = json.loads(result.stdout)
    assert past["run"]["as_of"] == day(-12)
    assert not past["findings"]  # no metrics yet then: the guard holds every rule back
    assert {i["rule"] for i in past["insufficient_data"]} == {f"MON00{i}" for i in range(1, 7)}
    assert all("guard" in i for i in past["insufficient_data"])


def test_usage_errors_exit_2(cli, workspace, tmp_path):
    cases = [
        (("--pack", "monitorin"), "did you mean 'monitoring'"),
        (("--select", "XYZ9"), "no rule matches"),
        (("--merchant", "M9"), "unknown merchant"),
        (("--baseline", str(tmp_path / "missing.json")), "does not exist"),
        (("--format", "yaml"), "unknown format"),
    ]
    for args, message in cases:
        result = evaluate(cli, workspace, "--no-store", *args)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert result.stdout == ""
    bad_date = cli("evaluate", "--as-of", "27/11/2026x", cwd=workspace)
    assert bad_date.returncode == 2 and "not a date" in bad_date.stderr


def test_baseline_counts_only_new_findings(cli, workspace, tmp_path):
    baseline = tmp_path / "baseline.json"
    first = evaluate(cli, workspace, "--no-store", "--format", "json", "--output", str(baseline))
    assert first.returncode == 1 and first.stdout == ""
    count = len(json.loads(baseline.read_text(encoding="utf-8"))["findings"])
    result, report = evaluate_json(cli, workspace, "--baseline", str(baseline))
    assert result.returncode == 0
    assert report["findings"] == [] and report["summary"]["baseline_hidden"] == count


def test_runs_and_findings_are_stored_unless_no_store(cli, workspace):
    db = workspace / "qcrules.db"

    def counts():
        with sqlite3.connect(db) as conn:
            return (
                conn.execute("select count(*) from runs").fetchone()[0],
                conn.execute("select count(*) from findings").fetchone()[0],
            )

    before = counts()
    evaluate(cli, workspace, "--no-store", "--format", "json")
    assert counts() == before
    result = evaluate(cli, workspace, "--format", "json")
    report = json.loads(result.stdout)
    runs, findings = counts()
    assert runs == before[0] + 1 and findings == before[1] + len(report["findings"])
    with sqlite3.connect(db) as conn:
        engine, packs, params = conn.execute(
            "select engine, packs, params from runs where run_id = ?", (report["run"]["id"],)
        ).fetchone()
    assert engine == ENGINE
    assert {p["id"] for p in json.loads(packs)} == {
        "screening",
        "permissions",
        "monitoring",
        "optimization",
        "qcrules",
    }
    assert json.loads(params)["monitoring"]["roi_streak_days"] == 3


def test_junit_is_xml_with_a_case_per_rule_and_entity(cli, workspace):
    result = evaluate(cli, workspace, "--no-store", "--format", "junit")
    root = ET.fromstring(result.stdout)
    _, report = evaluate_json(cli, workspace)
    assert root.tag == "testsuites"
    cases = root.findall(".//testcase")
    failures = root.findall(".//testcase/failure")
    assert int(root.get("tests")) == len(cases) == report["summary"]["checks"]["checks"]
    assert int(root.get("failures")) == len(failures) == len(report["findings"])
    assert {s.get("name") for s in root.findall("testsuite")} == {
        "screening",
        "permissions",
        "monitoring",
        "optimization",
        "qcrules",
    }


def test_sarif_is_structurally_valid(cli, workspace):
    result = evaluate(cli, workspace, "--no-store", "--format", "sarif")
    sarif = json.loads(result.stdout)
    assert sarif["version"] == "2.1.0" and "$schema" in sarif
    run = sarif["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "qcrules" and driver["version"] == "0.1.0"
    rule_ids = [r["id"] for r in driver["rules"]]
    assert len(rule_ids) == len(set(rule_ids)) == 38
    for rule in driver["rules"]:
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
        assert rule["shortDescription"]["text"]
    assert run["results"]
    for item in run["results"]:
        assert item["ruleId"] in rule_ids
        assert driver["rules"][item["ruleIndex"]]["id"] == item["ruleId"]
        assert item["level"] in ("error", "warning", "note")
        assert item["message"]["text"]
        assert item["partialFingerprints"]["qcrules/v1"]
        assert item["locations"][0]["logicalLocations"][0]["kind"] in (
            "grant",
            "creator",
            "merchant",
        )
    assert run["invocations"][0]["exitCode"] == 1


def test_github_markdown_jsonl_and_table(cli, workspace):
    github = evaluate(cli, workspace, "--no-store", "--format", "github").stdout.splitlines()
    assert github and all(
        line.startswith(("::error ", "::warning ", "::notice ")) for line in github
    )
    assert any(line.startswith("::error title=PRM001") for line in github)
    markdown = evaluate(cli, workspace, "--no-store", "--format", "markdown").stdout
    assert markdown.startswith("## qcrules") and "| critical | 1 |" in markdown
    lines = evaluate(cli, workspace, "--no-store", "--format", "jsonl").stdout.splitlines()
    _, report = evaluate_json(cli, workspace)
    assert [json.loads(line)["fingerprint"] for line in lines] == [
        f["fingerprint"] for f in report["findings"]
    ]
    table = evaluate(cli, workspace, "--no-store").stdout
    assert "PRM001 self-operated-grant" in table and "revoke_grant" in table
    assert "Findings: 1 critical" in table


def test_waivers_expired_and_unused(cli, workspace):
    config = workspace / "qcrules.toml"
    original = config.read_text(encoding="utf-8")
    try:
        config.write_text(
            original
            + (
                '\n[[waivers]]\nrule = "PRM004"\nentity = "G3"\nreason = "全作品 agreed in contract"\n'
                "expires = 2026-12-31\n"
                '\n[[waivers]]\nrule = "SCR001"\nentity = "1002"\nreason = "trial"\nexpires = 2026-11-01\n'
                '\n[[waivers]]\nrule = "MON"\nentity = "G9"\nreason = "old"\nexpires = 2027-01-31\n'
            ),
            encoding="utf-8",
        )
        _, report = evaluate_json(cli, workspace)
    finally:
        config.write_text(original, encoding="utf-8")
    assert [(w["rule"], w["entity"]["id"], w["expires"]) for w in report["waived"]] == [
        ("PRM004", "G3", "2026-12-31")
    ]
    assert report["summary"]["waived"] == 1
    rules = {(f["rule"], f["entity"]["id"]): f for f in report["findings"]}
    assert ("PRM004", "G3") not in rules
    assert ("SCR001", "1002") in rules  # the expired waiver no longer waives
    expired = rules[("QCR001", "SCR001:1002")]
    assert expired["level"] == "warn" and "expired" in expired["message"]
    unused = rules[("QCR002", "MON:G9")]
    assert unused["level"] == "info" and "matched no finding" in unused["message"]


def test_invalid_pack_in_a_pack_folder_exits_4(cli, workspace):
    config = workspace / "qcrules.toml"
    original = config.read_text(encoding="utf-8")
    folder = workspace / "team-packs"
    folder.mkdir(exist_ok=True)
    write(
        folder / "team.toml",
        '[pack]\nid = "team"\nversion = "1.0.0"\nentity = "grant"\n\n[[rules]]\nid = "TEM001"\n'
        'name = "x"\nlevel = "warn"\nwhen = "roi_7 < 1"\naction = { kind = "review_grant" }\n'
        'message = "x"\nsource = "team"\n',
    )
    try:
        config.write_text(
            original.replace("paths = []", 'paths = ["team-packs"]'), encoding="utf-8"
        )
        result = evaluate(cli, workspace, "--no-store")
    finally:
        config.write_text(original, encoding="utf-8")
    assert result.returncode == 4
    assert "team.toml:10:" in result.stderr and "roi_7d" in result.stderr
    assert result.stdout == ""


def test_an_excluded_creator_with_a_grant_is_not_told_to_be_excluded_again(cli, tmp_path):
    """Screening judges an excluded creator that still has a grant; its weak base data and
    platform risk used to suggest `exclude_creator` (SCR001, SCR002, SCR011) once more."""
    ws = tmp_path / "ws"
    assert cli("init", str(ws)).returncode == 0
    write(
        ws / "merchants.csv",
        "merchant_id,name,break_even_roi,categories\nM1,男装旗舰店,1.8,男装\n",
    )
    write(
        ws / "creators.csv",
        "达人UID,达人昵称,活跃粉丝占比,完播率,主营类目,data_verified,real_name_verified,"
        "serious_violation\n"
        "2001,已排除的达人,40%,20%,男装,否,否,是\n"
        "2002,候选达人,40%,20%,男装,否,否,是\n",
    )
    write(
        ws / "pool.csv",
        "merchant_id,aweme_id,status\nM1,2001,excluded\nM1,2002,candidate\n",
    )
    write(
        ws / "grants.csv",
        "授权ID,商家ID,达人UID,授权类型,授权范围,授权状态,开始时间,结束时间\n"
        f"G1,M1,2001,合作达人,单视频,授权生效,{day(-5)},{day(10)}\n",
    )
    for kind in ("merchants", "creators", "pool", "grants"):
        result = cli("import", kind, str(ws / f"{kind}.csv"), cwd=ws)
        assert result.returncode == 0, result.stderr

    _, report = evaluate_json(cli, ws)
    exclusions = {
        (f["rule"], f["entity"]["id"])
        for f in report["findings"]
        if f["action"] and f["action"]["kind"] == "exclude_creator"
    }
    assert exclusions == {("SCR001", "2002"), ("SCR002", "2002"), ("SCR011", "2002")}
    judged = {(f["rule"], f["entity"]["id"]) for f in report["findings"]}
    assert ("SCR003", "2001") in judged, "the excluded creator with a grant is still screened"
    listed = {(i["rule"], i["entity"]["id"]) for i in report["insufficient_data"]}
    assert not {r for r, e in listed if e == "2001"} & {"SCR001", "SCR002", "SCR011"}
