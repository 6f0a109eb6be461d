"""`qcrules actions`: the queue of suggested actions, applied, dismissed, held and undone
through the real CLI on a demo workspace, with the records and the audit log checked in
the SQLite file itself."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import date

import pytest

TODAY = date(2026, 11, 27)


@pytest.fixture
def ws(demo_copy):
    return demo_copy


def run(cli, ws, *args, ok=True):
    result = cli(*args, cwd=ws, env={"QCRULES_ACTOR": "tester"})
    if ok:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def evaluate(cli, ws) -> dict:
    result = cli("evaluate", "--as-of", TODAY.isoformat(), "--format", "json", cwd=ws)
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


def queue(cli, ws, *flags) -> list[dict]:
    return json.loads(run(cli, ws, "actions", "list", "--format", "json", *flags).stdout)


def item(items: list[dict], rule: str) -> dict:
    return next(i for i in items if i["rule"] == rule)


def row(ws, sql: str, *params):
    with sqlite3.connect(ws / "qcrules.db") as conn:
        conn.row_factory = sqlite3.Row
        found = conn.execute(sql, params).fetchone()
    return dict(found) if found else None


def test_the_queue_needs_a_stored_run(cli, ws):
    result = run(cli, ws, "actions", "list", ok=False)
    assert result.returncode == 2
    assert "no evaluation run is stored yet" in result.stderr
    assert "qcrules evaluate" in result.stderr


def test_the_queue_lists_every_suggested_action_of_the_last_run(cli, ws):
    report = evaluate(cli, ws)
    items = queue(cli, ws)
    with_actions = [f for f in report["findings"] if f["action"]["kind"]]
    assert {i["fingerprint"] for i in items} == {f["fingerprint"] for f in with_actions}
    assert all(i["state"] == "open" for i in items)
    text = run(cli, ws, "actions", "list").stdout
    first = item(items, "PRM001")
    assert first["id"] in text and "revoke the grant" in text
    assert "open" in text.splitlines()[-1]


def test_revoke_dry_run_then_apply_then_undo(cli, ws):
    evaluate(cli, ws)
    revoke = item(queue(cli, ws), "PRM001")
    grant = revoke["entity"]["id"]
    assert row(ws, "select status from grants where grant_id = ?", grant)["status"] == "active"

    dry = run(cli, ws, "actions", "apply", revoke["id"][:6], "--dry-run")
    assert "--dry-run" in dry.stdout and "active → revoked" in dry.stdout
    assert row(ws, "select status from grants where grant_id = ?", grant)["status"] == "active"

    done = run(cli, ws, "actions", "apply", revoke["id"], "--note", "done in 千川")
    assert "active → revoked" in done.stdout and "千川" in done.stdout  # the steps by hand
    assert row(ws, "select status from grants where grant_id = ?", grant)["status"] == "revoked"
    assert item(queue(cli, ws, "--all"), "PRM001")["state"] == "applied"
    assert "PRM001" not in {i["rule"] for i in queue(cli, ws)}
    log = json.loads(run(cli, ws, "actions", "log", "--format", "json").stdout)
    assert log[0]["kind"] == "apply:revoke_grant" and log[0]["actor"] == "tester"
    assert log[0]["note"] == "done in 千川"
    assert log[0]["changes"][0]["before"]["status"] == "active"
    assert log[0]["changes"][0]["after"]["status"] == "revoked"

    again = run(cli, ws, "actions", "apply", revoke["id"], ok=False)
    assert again.returncode == 2 and "is applied" in again.stderr

    # the next run no longer finds the self-operated grant active
    assert grant not in {
        f["entity"]["id"] for f in evaluate(cli, ws)["findings"] if f["rule"] == "PRM001"
    }

    undone = run(cli, ws, "actions", "undo")
    assert "revoked → active" in undone.stdout
    assert row(ws, "select status from grants where grant_id = ?", grant)["status"] == "active"
    log = json.loads(run(cli, ws, "actions", "log", "--format", "json").stdout)
    assert log[0]["kind"] == "undo" and log[0]["undoes"] == log[1]["id"] and log[1]["undone"]


def test_renew_shorten_and_pool_changes_follow_the_catalog(cli, ws):
    evaluate(cli, ws)
    items = queue(cli, ws)
    renew = next(i for i in items if i["action"]["kind"] == "renew_grant")
    old = renew["entity"]["id"]
    run(cli, ws, "actions", "apply", renew["id"])
    new = row(ws, "select * from grants where renewal_of = ?", old)
    assert new["status"] == "requested" and new["auth_type"] == "cooperative"
    assert new["scope"] != "all_works" and new["ends_at"] > new["starts_at"]

    shorten = next(i for i in items if i["action"]["kind"] == "shorten_grant")
    run(cli, ws, "actions", "apply", shorten["id"])
    proposed = row(
        ws, "select proposed_ends_at from grants where grant_id = ?", shorten["entity"]["id"]
    )
    assert proposed["proposed_ends_at"] is not None

    add = next(i for i in items if i["action"]["kind"] == "add_to_pool")
    run(cli, ws, "actions", "apply", add["id"])
    member = row(
        ws,
        "select status from pool where merchant_id = ? and aweme_id = ?",
        add["entity"]["merchant"],
        add["entity"]["id"],
    )
    assert member["status"] == "in_pool"

    task = next(i for i in items if i["action"]["kind"] == "collect_cooperation_code")
    done = run(cli, ws, "actions", "apply", task["id"], "--note", "code received")
    assert "recorded as done" in done.stdout
    assert item(queue(cli, ws, "--all"), task["rule"])["state"] == "applied"

    # undo takes them back newest first: the task, the pool, the proposal, the renewal
    for _ in range(4):
        run(cli, ws, "actions", "undo")
    assert row(ws, "select * from grants where renewal_of = ?", old) is None
    assert all(
        i["state"] == "open"
        for i in queue(cli, ws, "--all")
        if i["id"] in {renew["id"], shorten["id"], add["id"], task["id"]}
    )


def test_dismiss_needs_a_reason_and_lasts_across_runs(cli, ws):
    evaluate(cli, ws)
    target = item(queue(cli, ws), "SCR012")
    missing = run(cli, ws, "actions", "dismiss", target["id"], ok=False)
    assert missing.returncode == 2 and "--reason" in missing.stderr
    run(cli, ws, "actions", "dismiss", target["id"], "--reason", "already talking to them")
    evaluate(cli, ws)  # a new run finds it again; it stays dismissed
    states = {i["fingerprint"]: i["state"] for i in queue(cli, ws, "--all")}
    assert states[target["fingerprint"]] == "dismissed"
    run(cli, ws, "actions", "undo")
    states = {i["fingerprint"]: i["state"] for i in queue(cli, ws, "--all")}
    assert states[target["fingerprint"]] == "open"


def test_hold_an_entity_by_id_or_by_action_id(cli, ws):
    evaluate(cli, ws)
    revoke = item(queue(cli, ws), "PRM001")
    grant = revoke["entity"]["id"]
    run(cli, ws, "actions", "hold", grant, "--reason", "legal review", "--until", "2099-06-30")
    assert (
        row(ws, "select reason from holds where entity_id = ?", grant)["reason"] == "legal review"
    )
    assert item(queue(cli, ws, "--all"), "PRM001")["state"] == "held"
    refused = run(cli, ws, "actions", "apply", revoke["id"], ok=False)
    assert refused.returncode == 2 and "is held" in refused.stderr
    run(cli, ws, "actions", "undo")
    assert row(ws, "select * from holds where entity_id = ?", grant) is None

    by_action = run(cli, ws, "actions", "hold", revoke["id"], "--reason", "wait")
    assert grant in by_action.stdout


def test_a_held_action_stays_listed_as_held_after_the_next_run_and_opens_when_released(cli, ws):
    evaluate(cli, ws)
    revoke = item(queue(cli, ws), "PRM001")
    grant = revoke["entity"]["id"]
    run(cli, ws, "actions", "hold", grant, "--reason", "legal review")
    report = evaluate(cli, ws)  # a new run: the entity's findings carry the hold, no action
    [held] = [f for f in report["findings"] if f["fingerprint"] == revoke["fingerprint"]]
    assert held["action"] is None and held["hold"]["reason"] == "legal review"
    listed = item(queue(cli, ws, "--all"), "PRM001")
    assert listed["state"] == "held" and listed["action"]["kind"] == "revoke_grant"
    assert revoke["fingerprint"] not in {i["fingerprint"] for i in queue(cli, ws)}  # not open
    run(cli, ws, "actions", "undo")  # the hold released: the same run's action is open again
    assert item(queue(cli, ws), "PRM001")["state"] == "open"
    run(cli, ws, "actions", "apply", revoke["id"])
    assert row(ws, "select status from grants where grant_id = ?", grant)["status"] == "revoked"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("apply", "ab"), "too short"),
        (("apply", "ffffffff"), "no action ffffffff"),
        (("hold", "NO-SUCH", "--reason", "x"), "no grant, creator or merchant is called NO-SUCH"),
        (("hold", "M1", "--reason", "x", "--type", "grant"), "there is no grant M1"),
        (("undo", "999"), "there is no change 999"),
        (("dismiss", "ffffffff", "zzzzzzzz", "--reason", "x"), "no action ffffffff"),
        (("hold", "M1", "--reason", "x", "--until", "tomorrow"), "--until"),
        (("hold", "M1", "--reason", "x", "--until", "2020-01-01"), "already past"),
    ],
)
def test_bad_requests_say_what_is_wrong_and_change_nothing(cli, ws, args, message):
    evaluate(cli, ws)
    before = row(ws, "select count(*) as n from audit_log")["n"]
    result = run(cli, ws, "actions", *args, ok=False)
    assert result.returncode == 2
    assert message in result.stderr
    assert row(ws, "select count(*) as n from audit_log")["n"] == before


def test_undo_refuses_when_the_row_changed_since(cli, ws):
    evaluate(cli, ws)
    revoke = item(queue(cli, ws), "PRM001")
    run(cli, ws, "actions", "apply", revoke["id"])
    with sqlite3.connect(ws / "qcrules.db") as conn:  # someone re-imports the grant meanwhile
        conn.execute(
            "update grants set status = 'expired' where grant_id = ?", (revoke["entity"]["id"],)
        )
    result = run(cli, ws, "actions", "undo", ok=False)
    assert result.returncode == 2 and "changed again since" in result.stderr
    status = row(ws, "select status from grants where grant_id = ?", revoke["entity"]["id"])
    assert status["status"] == "expired"


def test_bulk_apply_by_filter_is_all_or_nothing(cli, ws):
    evaluate(cli, ws)
    items = queue(cli, ws)
    shortens = [i for i in items if i["action"]["kind"] == "shorten_grant"]
    assert len(shortens) >= 2, "the demo has several permanent or long grants"
    audit_rows = row(ws, "select count(*) as n from audit_log")["n"]

    # one of the selected set handled first: the bulk apply is refused and changes nothing
    first = shortens[0]
    run(cli, ws, "actions", "dismiss", first["id"], "--reason", "agreed with the creator")
    before = {
        i["entity"]["id"]: row(
            ws, "select ends_at from grants where grant_id = ?", i["entity"]["id"]
        )
        for i in shortens
    }
    refused = run(cli, ws, "actions", "apply", *[i["id"] for i in shortens], ok=False)
    assert refused.returncode == 2 and "is dismissed" in refused.stderr
    assert row(ws, "select count(*) as n from audit_log")["n"] == audit_rows + 1  # the dismiss
    for grant, was in before.items():
        assert row(ws, "select ends_at from grants where grant_id = ?", grant) == was

    # by filter: every open shorten_grant, in one transaction, one audit entry each
    done = run(cli, ws, "actions", "apply", "--kind", "shorten_grant", "--format", "json")
    outcomes = json.loads(done.stdout)
    assert isinstance(outcomes, list) and len(outcomes) == len(shortens) - 1
    assert {o["entity"]["id"] for o in outcomes} == {i["entity"]["id"] for i in shortens[1:]}
    assert all(o["audit_id"] for o in outcomes)
    states = {i["id"]: i["state"] for i in queue(cli, ws, "--all")}
    assert states[first["id"]] == "dismissed"
    assert all(states[i["id"]] == "applied" for i in shortens[1:])

    # a filter that selects one action still answers with a list; a rule prefix selects
    renews = [i for i in queue(cli, ws) if i["action"]["kind"] == "renew_grant"]
    one = renews[0]["entity"]["merchant"]
    picked = [i for i in renews if i["entity"]["merchant"] == one]
    dry = run(
        cli, ws, "actions", "apply", "--rule", renews[0]["rule"][:3].lower(), "--kind",
        "renew_grant", "--merchant", one, "--dry-run", "--format", "json",
    )  # fmt: skip
    assert isinstance(json.loads(dry.stdout), list)
    assert len(json.loads(dry.stdout)) == len(picked)

    nothing = run(cli, ws, "actions", "apply", "--kind", "shorten_grant", ok=False)
    assert nothing.returncode == 2 and "no open action matches" in nothing.stderr
    both = run(cli, ws, "actions", "apply", shortens[0]["id"], "--rule", "PRM002", ok=False)
    assert both.returncode == 2 and "not both" in both.stderr
    bad_level = run(cli, ws, "actions", "apply", "--level", "severe", ok=False)
    assert bad_level.returncode == 2 and "unknown level" in bad_level.stderr


def test_in_zh_a_refusal_names_the_action_state_in_chinese(cli, ws):
    """A zh user was told 「已是 dismissed」: the refusal speaks the state's zh label."""
    evaluate(cli, ws)
    items = queue(cli, ws)
    dismissed, applied = item(items, "SCR012"), item(items, "PRM001")
    run(cli, ws, "actions", "dismiss", dismissed["id"], "--reason", "谈过了")
    run(cli, ws, "actions", "apply", applied["id"])
    zh = {"QCRULES_ACTOR": "tester", "QCRULES_LANG": "zh"}

    refused = cli("actions", "apply", dismissed["id"], cwd=ws, env=zh)
    assert refused.returncode == 2
    assert "已忽略，不能执行" in refused.stderr
    assert "dismissed" not in refused.stderr

    again = cli("actions", "dismiss", applied["id"], "--reason", "x", cwd=ws, env=zh)
    assert again.returncode == 2
    assert "已执行，不能忽略" in again.stderr
    assert "applied" not in again.stderr

    other = next(
        i
        for i in items
        if i["entity"]["id"] not in {dismissed["entity"]["id"], applied["entity"]["id"]}
    )
    run(
        cli,
        ws,
        "actions",
        "hold",
        other["entity"]["id"],
        "--reason",
        "等法务",
        "--type",
        other["entity"]["type"],
    )
    assert {i["id"]: i["state"] for i in queue(cli, ws, "--all")}[other["id"]] == "held"
    on_hold = cli("actions", "apply", other["id"], cwd=ws, env=zh)
    assert on_hold.returncode == 2
    assert "暂停中，不能执行" in on_hold.stderr
    assert "held" not in on_hold.stderr

    # the queue's table names the states in Chinese too (its JSON keeps the states)
    listed = cli("actions", "list", "--all", cwd=ws, env={**zh, "COLUMNS": "400"})
    lines = {line.split()[0]: line.split()[1] for line in listed.stdout.splitlines()[1:-1]}
    assert lines[dismissed["id"]] == "已忽略" and lines[applied["id"]] == "已执行"
    assert lines[other["id"]] == "暂停中"


def test_in_zh_setting_a_pool_status_it_already_has_names_it_in_chinese(demo_copy):
    from qcrules import service
    from qcrules.errors import UsageError
    from qcrules.i18n import language
    from qcrules.workspace import Workspace

    workspace = Workspace.discover(demo_copy / "qcrules.toml")
    try:
        with sqlite3.connect(demo_copy / "qcrules.db") as conn:
            merchant, aweme = conn.execute(
                "select merchant_id, aweme_id from pool where status = 'excluded' limit 1"
            ).fetchone()
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("QCRULES_LANG", "zh")
            language.cache_clear()
            with pytest.raises(UsageError) as refused:
                service.set_pool_status(workspace, merchant, aweme, "excluded")
        assert "已排除" in str(refused.value) and "excluded" not in str(refused.value)
    finally:
        language.cache_clear()
        workspace.close()


def test_a_revoke_ends_the_grant_today_and_is_refused_once_the_grant_has_ended(cli, ws):
    evaluate(cli, ws)
    revokes = [i for i in queue(cli, ws) if i["action"]["kind"] == "revoke_grant"]
    first, second = revokes[0], revokes[1]
    grant = first["entity"]["id"]
    ends = row(ws, "select ends_at from grants where grant_id = ?", grant)["ends_at"]
    run(cli, ws, "actions", "apply", first["id"])
    assert row(ws, "select ends_at from grants where grant_id = ?", grant)["ends_at"] == (
        date.today().isoformat()
    )  # spend after today is PRM007's to find
    run(cli, ws, "actions", "undo")
    assert row(ws, "select ends_at from grants where grant_id = ?", grant)["ends_at"] == ends

    # the other grant lapsed and was marked so by hand: revoking it is out of date
    other = second["entity"]["id"]
    run(cli, ws, "grants", "mark", other, "expired")
    refused = run(cli, ws, "actions", "apply", second["id"], ok=False)
    assert refused.returncode == 2
    assert "already expired" in refused.stderr and "dismiss" in refused.stderr
    assert row(ws, "select status from grants where grant_id = ?", other)["status"] == "expired"


def test_a_renewal_without_the_creators_code_is_a_draft_and_needs_its_own_agreement(cli, ws):
    evaluate(cli, ws)
    renew = next(i for i in queue(cli, ws) if i["action"]["kind"] == "renew_grant")
    old = renew["entity"]["id"]
    with sqlite3.connect(ws / "qcrules.db") as conn:
        conn.execute("update grants set has_agreement = 1 where grant_id = ?", (old,))
        conn.execute(
            "update creators set cooperation_code = null where aweme_id = "
            "(select aweme_id from grants where grant_id = ?)",
            (old,),
        )
    run(cli, ws, "actions", "apply", renew["id"])
    new = row(ws, "select * from grants where renewal_of = ?", old)
    assert new["status"] == "draft" and not new["has_agreement"]
    result = cli("evaluate", "--no-store", "--format", "json", cwd=ws)  # as of today: it exists
    found = {
        f["rule"]
        for f in json.loads(result.stdout)["findings"]
        if f["entity"]["id"] == new["grant_id"]
    }
    assert "PRM011" in found  # a draft without the 合作码 cannot be sent (PRM009 once sent)


def test_a_renewal_that_overlaps_another_live_grant_is_refused(cli, ws):
    """The queue's renewal meets the check `grants request` makes: another live grant of
    the same merchant, creator and scope on some of its days would ask the creator twice."""
    evaluate(cli, ws)
    renew = next(i for i in queue(cli, ws) if i["action"]["kind"] == "renew_grant")
    old = row(ws, "select * from grants where grant_id = ?", renew["entity"]["id"])
    with sqlite3.connect(ws / "qcrules.db") as conn:
        conn.execute(
            "insert into grants (grant_id, merchant_id, aweme_id, auth_type, scope, video_id,"
            " status, requested_at, starts_at, ends_at, revoke_requested, has_agreement,"
            " created_at, updated_at) values ('G-OTHER', ?, ?, 'cooperative', ?, ?, 'requested',"
            " ?, ?, '2099-12-31', 0, 0, '2026-11-01', '2026-11-01')",
            (
                old["merchant_id"],
                old["aweme_id"],
                old["scope"] if old["scope"] != "all_works" else "single_video",
                old["video_id"],
                date.today().isoformat(),
                date.today().isoformat(),
            ),
        )
    refused = run(cli, ws, "actions", "apply", renew["id"], ok=False)
    assert refused.returncode == 2 and "G-OTHER" in refused.stderr
    assert "overlaps" in refused.stderr
    assert row(ws, "select * from grants where renewal_of = ?", old["grant_id"]) is None


def test_in_zh_outcomes_the_log_and_the_queue_name_tables_columns_and_states(cli, ws):
    """A zh operator read `grants G-1: status: active → revoked; ends_at: None → …` and
    `undone: grant:approved — grant G-1`: every line now says 授权, 授权状态, 已撤销, 空."""
    evaluate(cli, ws)
    zh = {"QCRULES_ACTOR": "tester", "QCRULES_LANG": "zh", "COLUMNS": "400"}
    revoke = item(queue(cli, ws), "PRM001")
    applied = cli("actions", "apply", revoke["id"], cwd=ws, env=zh)
    assert applied.returncode == 0, applied.stderr
    head, change = applied.stdout.splitlines()[:2]
    assert head.startswith("执行：解除授权 — 授权 ") and "grant" not in head
    assert "授权状态：生效中 → 已撤销" in change and "结束时间：" in change
    assert not re.search(r"grants|status|ends_at|active|revoked", change)
    undone = cli("actions", "undo", cwd=ws, env=zh)
    assert undone.stdout.startswith("已撤销：解除授权 — 授权 ")
    assert "授权状态：已撤销 → 生效中" in undone.stdout

    requested = next(
        g for g in json.loads(run(cli, ws, "grants", "list", "--format", "json").stdout)
        if g["status"] == "requested"
    )  # fmt: skip
    marked = cli("grants", "mark", requested["grant_id"], "rejected", cwd=ws, env=zh)
    assert "授权状态：已申请 → 已拒绝" in marked.stdout and "status" not in marked.stdout
    back = cli("actions", "undo", cwd=ws, env=zh)
    assert back.stdout.startswith("已撤销：授权标记为已拒绝 — 授权 ")

    log = cli("actions", "log", cwd=ws, env=zh).stdout
    assert "授权标记为已拒绝（已撤销）" in log and "grant:rejected" not in log
    assert "解除授权（已撤销）" in log and " grant " not in log
    listed = cli("actions", "list", cwd=ws, env=zh).stdout.splitlines()
    row = next(line for line in listed if line.startswith(revoke["id"]))
    assert row.split()[2] == "严重" and "授权 " in row


def test_in_english_the_change_lines_keep_the_stored_names(cli, ws):
    """English keeps the stored words (scripts and the README quote them)."""
    evaluate(cli, ws)
    revoke = item(queue(cli, ws), "PRM001")
    applied = run(cli, ws, "actions", "apply", revoke["id"])
    assert applied.stdout.startswith("applied: revoke_grant — grant ")
    assert "status: active → revoked" in applied.stdout


def test_undo_without_an_id_takes_back_your_own_change_not_a_colleagues(cli, ws):
    """alice applied, then bob; alice's `undo` took back bob's revoke. Each operator's undo
    now takes back their own latest change; with none of their own it names whose the
    latest is and how to take it back on purpose."""
    evaluate(cli, ws)
    items = queue(cli, ws)
    first, second = item(items, "PRM001"), item(items, "SCR012")
    alice, bob, carol = ({"QCRULES_ACTOR": name} for name in ("alice", "bob", "carol"))
    assert cli("actions", "apply", first["id"], cwd=ws, env=alice).returncode == 0
    assert cli("actions", "apply", second["id"], cwd=ws, env=bob).returncode == 0
    undone = cli("actions", "undo", "--format", "json", cwd=ws, env=alice)
    assert undone.returncode == 0, undone.stderr
    assert json.loads(undone.stdout)["entity"]["id"] == first["entity"]["id"]  # her own
    states = {i["id"]: i["state"] for i in queue(cli, ws, "--all")}
    assert states[first["id"]] == "open" and states[second["id"]] == "applied"  # bob's stays
    nobody = cli("actions", "undo", cwd=ws, env=carol)
    assert nobody.returncode == 2
    assert "carol has nothing to undo" in nobody.stderr and "made by bob" in nobody.stderr
    log = json.loads(cli("actions", "log", "--format", "json", cwd=ws).stdout)
    bobs = next(e["id"] for e in log if e["actor"] == "bob")
    assert f"qcrules actions undo {bobs}" in nobody.stderr
    on_purpose = cli("actions", "undo", str(bobs), cwd=ws, env=carol)
    assert on_purpose.returncode == 0, on_purpose.stderr


def test_a_narrowed_or_back_dated_stored_run_says_it_replaces_the_queue(cli, ws):
    """`evaluate --merchant M4` emptied everyone else's queue without a word; a stored run
    narrowed to a merchant, rules or packs, or dated in the past, now says so and how to
    look without replacing it. A whole run of today says nothing; --no-store nothing."""
    narrowed = cli("evaluate", "--merchant", "M1", "--fail-on", "never", cwd=ws)
    assert narrowed.returncode == 0
    assert "this run (--merchant M1) is stored: the action queue now holds" in narrowed.stderr
    assert "--no-store" in narrowed.stderr
    looked = cli("evaluate", "--merchant", "M1", "--no-store", "--fail-on", "never", cwd=ws)
    assert "action queue" not in looked.stderr
    past = cli("evaluate", "--as-of", "2026-11-20", "--fail-on", "never", cwd=ws)
    assert "this run (--as-of 2026-11-20) is stored" in past.stderr
    whole = cli("evaluate", "--fail-on", "never", cwd=ws)
    assert "action queue" not in whole.stderr


def test_dismissing_several_checks_every_id_before_it_dismisses_any(cli, ws):
    """`actions dismiss GOOD TYPO` dismissed the first, then failed on the second."""
    evaluate(cli, ws)
    good = item(queue(cli, ws), "PRM001")
    typo = run(cli, ws, "actions", "dismiss", good["id"], "zzzz9999", "--reason", "x", ok=False)
    assert typo.returncode == 2 and "zzzz9999" in typo.stderr
    assert {i["id"]: i["state"] for i in queue(cli, ws, "--all")}[good["id"]] == "open"
    # an undo of an undo is said as such
    run(cli, ws, "actions", "dismiss", good["id"], "--reason", "x")
    run(cli, ws, "actions", "undo")
    log = json.loads(run(cli, ws, "actions", "log", "--format", "json").stdout)
    again = run(cli, ws, "actions", "undo", str(log[0]["id"]), ok=False)
    assert "is itself an undo" in again.stderr
