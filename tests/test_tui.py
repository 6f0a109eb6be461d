"""The Textual UI on a real demo workspace, driven as an operator drives it (`run_test`),
plus one snapshot of the findings screen and the `qcrules tui` / `qcrules demo` entry points."""

from __future__ import annotations

import io
import shutil
import sqlite3
from datetime import date

import pytest
from rich.console import Console
from textual.widgets import DataTable, Input, Sparkline, Static

from conftest import settle_app
from qcrules import service
from qcrules.evaluation import EvaluateOptions
from qcrules.i18n import language
from qcrules.tui import QcrulesApp
from qcrules.tui.screens import ConfirmChange
from qcrules.tui.widgets.creators import CreatorsTab
from qcrules.tui.widgets.findings import FindingsTab
from qcrules.tui.widgets.paged import PAGE
from qcrules.workspace import Workspace, init_workspace

TODAY = date(2026, 11, 27)
SIZE = (160, 45)

pytestmark = pytest.mark.usefixtures("english")  # conftest: English labels in every test


def text_of(app: QcrulesApp, selector: str) -> str:
    """What a Static shows, as plain text (tables included)."""
    console = Console(width=200, file=io.StringIO(), record=True)
    console.print(app.query_one(selector, Static).content)
    return console.export_text()


async def evaluated(app: QcrulesApp, pilot) -> None:
    await settle_app(app, pilot)


def rules_in_table(app: QcrulesApp) -> list[str]:
    table = app.query_one("#findings-table", DataTable)
    return [str(table.get_row_at(i)[1]) for i in range(table.row_count)]


async def test_the_findings_table_shows_every_finding_of_the_run(workspace):
    options = EvaluateOptions(as_of=TODAY, store=False, fail_on="never")
    expected = service.evaluate(workspace, options).report["findings"]
    app = QcrulesApp(workspace, as_of=TODAY, store=False)
    async with app.run_test(size=SIZE) as pilot:
        await evaluated(app, pilot)
        assert rules_in_table(app) == [f["rule"] for f in expected]
        assert len(expected) > 20
        # the first finding is the most severe, and its detail is shown
        detail = text_of(app, "#detail")
        first = expected[0]
        assert first["level"] == "critical"
        assert first["rule"] in detail and first["entity"]["id"] in detail
        assert first["source"] in detail
        for name in first["evidence"]:
            assert name in detail


async def test_the_dashboard_counts_levels_packs_and_waiting_actions(workspace):
    app = QcrulesApp(workspace, as_of=TODAY, store=False)
    async with app.run_test(size=SIZE) as pilot:
        await evaluated(app, pilot)
        await pilot.press("d")
        await pilot.pause()
        summary = app.report.summary
        levels = text_of(app, "#levels")
        for level, count in summary["findings"].items():
            assert level in levels and str(count) in levels
        packs = text_of(app, "#by-pack")
        assert {"monitoring", "permissions", "screening", "optimization"} <= set(packs.split())
        queue = text_of(app, "#queue")
        assert "revoke the grant" in queue  # the demo's self-operated grant
        info = text_of(app, "#run-info")
        assert "as of 2026-11-27" in info and app.report.run.engine in info
        soon = [
            f.entity_id
            for f in app.grant_facts
            if f.values["status"] == "active"
            and f.values["days_to_expiry"] is not None
            and 0 <= f.values["days_to_expiry"] <= 7
            and not f.values["is_permanent"]
        ]
        expiring = text_of(app, "#expiring")
        assert f"Grants expiring this week ({len(soon)})" in expiring and len(soon) >= 2
        assert all(grant in expiring for grant in soon[:12])


async def test_the_findings_filter_finds_by_action_words_name_and_merchant(workspace):
    """What an operator types: the action as the table says it, a creator's nickname, a
    merchant id, in any case."""
    app = QcrulesApp(workspace, as_of=TODAY, store=False)
    async with app.run_test(size=SIZE) as pilot:
        await evaluated(app, pilot)
        findings = app.report.findings
        nickname = next(f.subject.name for f in findings if f.subject.name)
        revoking = [f for f in findings if f.action and f.action.kind == "revoke_grant"]
        for typed, expected in (
            ("REVOKE THE GRANT", revoking),
            (nickname, [f for f in findings if nickname in (f.subject.name or "")]),
            ("m2", [f for f in findings if "m2" in str(f.subject.merchant).casefold()]),
        ):
            app.query_one("#filter", Input).value = typed
            await pilot.pause()
            shown = app.query_one(FindingsTab).shown
            assert expected and {id(f) for f in expected} <= {id(f) for f in shown}, typed
            assert len(shown) < len(findings)


async def test_filter_by_text_and_level(workspace):
    app = QcrulesApp(workspace, as_of=TODAY, store=False)
    async with app.run_test(size=SIZE) as pilot:
        await evaluated(app, pilot)
        everything = rules_in_table(app)
        await pilot.press("slash", *"MON004")
        await pilot.pause()
        assert rules_in_table(app) == ["MON004"]
        await pilot.press("enter")  # back to the table: keys are commands again
        assert app.focused is app.query_one("#findings-table")
        await pilot.press("escape")
        await pilot.pause()
        assert app.query_one("#filter", Input).value == ""
        assert rules_in_table(app) == everything
        await pilot.press("l")  # all → critical
        await pilot.pause()
        levels = {f.level for f in app.query_one(FindingsTab).shown}
        assert levels == {"critical"} and len(app.query_one(FindingsTab).shown) == len(
            rules_in_table(app)
        )
        await pilot.press("l")  # critical → error
        await pilot.pause()
        assert {f.level for f in app.query_one(FindingsTab).shown} == {"error"}
        assert "error" in text_of(app, "#level-filter")


async def test_a_filter_that_matches_nothing_says_so(workspace):
    app = QcrulesApp(workspace, as_of=TODAY, store=False)
    async with app.run_test(size=SIZE) as pilot:
        await evaluated(app, pilot)
        await pilot.press("slash", *"no-such-thing")
        await pilot.pause()
        assert app.query_one("#findings-table", DataTable).row_count == 0
        assert "No findings match" in text_of(app, "#detail")
        await pilot.press("enter", "e")  # explain with nothing selected: a warning, no crash
        await pilot.pause()
        assert app.query_one(FindingsTab).explanation is None


async def test_the_detail_goes_below_the_table_under_120_columns_and_back_beside_it(workspace):
    """A terminal made narrow while the app runs (a split pane, a laptop screen): the key
    columns keep the whole width and the detail moves below; widened again, it comes back."""
    app = QcrulesApp(workspace, as_of=TODAY, store=False)
    async with app.run_test(size=SIZE) as pilot:
        await evaluated(app, pilot)
        table, detail = app.query_one("#findings-table"), app.query_one("#detail-scroll")
        assert detail.region.x > table.region.x  # beside
        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        assert detail.region.y > table.region.y and detail.region.x == table.region.x  # below
        assert table.region.width >= 98
        await pilot.press("c")  # resized again while another tab is in view
        await pilot.resize_terminal(160, 45)
        await pilot.press("f")
        await pilot.pause()
        assert detail.region.x > table.region.x and detail.region.y == table.region.y


async def test_moving_the_cursor_shows_that_finding_and_e_explains_it(workspace):
    app = QcrulesApp(workspace, as_of=TODAY, store=False)
    async with app.run_test(size=SIZE) as pilot:
        await evaluated(app, pilot)
        await pilot.press("down", "down")
        await pilot.pause()
        finding = app.selected()
        assert finding is app.query_one(FindingsTab).shown[2]
        detail = text_of(app, "#detail")
        assert finding.rule in detail and finding.message[:30] in detail
        await pilot.press("e")
        await app.workers.wait_for_complete()
        await pilot.pause()
        detail = text_of(app, "#detail")
        assert f"{finding.rule} {finding.name}" in detail
        assert "FIRED" in detail and "condition:" in detail


async def test_clicking_a_header_sorts_by_that_column(workspace):
    app = QcrulesApp(workspace, as_of=TODAY, store=False)
    async with app.run_test(size=SIZE) as pilot:
        await evaluated(app, pilot)
        table = app.query_one("#findings-table", DataTable)
        table.post_message(DataTable.HeaderSelected(table, table.columns["rule"].key, 1, None))
        await pilot.pause()
        rules = rules_in_table(app)
        assert rules == sorted(rules) and rules != [f.rule for f in app.report.findings]


async def test_evaluate_now_records_a_run_and_draws_the_history(demo_folder, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(demo_folder, folder)
    workspace = Workspace.discover(folder / "qcrules.toml")
    try:
        before = len(service.recent_runs(workspace))
        app = QcrulesApp(workspace, as_of=TODAY)
        async with app.run_test(size=SIZE) as pilot:
            await evaluated(app, pilot)
            first = app.report.run.id
            await pilot.press("r")
            await evaluated(app, pilot)
            assert app.report.run.id != first
            history = app.query_one("#history", Sparkline)
            assert len(history.data) == before + 2 and history.display
            title = str(app.query_one("#history-title", Static).render())
            assert (
                f"(last {before + 2}: " in title and f"latest {len(app.report.findings)})" in title
            )
        assert len(service.recent_runs(workspace)) == before + 2
    finally:
        workspace.close()


async def test_a_broken_workspace_is_shown_not_crashed(tmp_path):
    workspace = init_workspace(tmp_path / "broken")
    (tmp_path / "broken" / "rules").mkdir()
    (tmp_path / "broken" / "rules" / "bad.toml").write_text("[pack\nid = 1\n", encoding="utf-8")
    config = tmp_path / "broken" / "qcrules.toml"
    text = config.read_text(encoding="utf-8")
    assert "paths = []" in text
    config.write_text(text.replace("paths = []", 'paths = ["rules"]', 1), encoding="utf-8")
    workspace.close()
    workspace = Workspace.discover(tmp_path / "broken" / "qcrules.toml")
    try:
        app = QcrulesApp(workspace, as_of=TODAY, store=False)
        async with app.run_test(size=SIZE) as pilot:
            await evaluated(app, pilot)
            assert app.report is None
            info = text_of(app, "#run-info")
            assert "bad.toml" in info
            assert app.query_one("#findings-table", DataTable).loading is False
    finally:
        workspace.close()


async def test_labels_follow_the_language(workspace, monkeypatch):
    monkeypatch.setenv("QCRULES_LANG", "zh")
    language.cache_clear()
    app = QcrulesApp(workspace, as_of=TODAY, store=False)
    async with app.run_test(size=SIZE) as pilot:
        await evaluated(app, pilot)
        table = app.query_one("#findings-table", DataTable)
        headers = [str(column.label) for column in table.columns.values()]
        assert headers[:3] == ["级别", "规则", "对象"]
        assert str(table.get_row_at(0)[0]) == "严重"
        assert "建议动作" in text_of(app, "#detail")


def test_findings_screen_snapshot(snap_compare, demo_folder):
    workspace = Workspace.discover(demo_folder / "qcrules.toml")
    app = QcrulesApp(workspace, as_of=TODAY, store=False)

    async def settle(pilot) -> None:
        await settle_app(app, pilot)
        app.clear_notifications()
        await pilot.press("down", "down", "down")
        await pilot.pause()

    try:
        assert snap_compare(app, terminal_size=SIZE, run_before=settle)
    finally:
        workspace.close()


def test_tui_needs_a_terminal(cli, demo_folder):
    result = cli("tui", cwd=demo_folder)
    assert result.returncode == 2
    assert "needs a terminal" in result.stderr and "qcrules evaluate" in result.stderr


def test_demo_without_a_terminal_prints_the_findings(cli, tmp_path):
    result = cli("demo", "--no-keep", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "PRM001" in result.stdout and "Findings:" in result.stdout


def grant_status(workspace: Workspace, grant_id: str) -> str:
    items = {i.entity_id: i for i in service.action_queue(workspace)}
    with sqlite3.connect(workspace.root / "qcrules.db") as conn:
        (status,) = conn.execute(
            "select status from grants where grant_id = ?", (grant_id,)
        ).fetchone()
    assert grant_id in items
    return status


async def test_apply_shows_the_change_first_then_makes_it_and_undo_takes_it_back(writable):
    app = QcrulesApp(writable, as_of=TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await evaluated(app, pilot)
        finding = app.selected()
        grant = finding.subject.id
        assert finding.rule == "PRM001" and app.states[finding.fingerprint] == "open"
        await pilot.press("a")
        await evaluated(app, pilot)
        assert isinstance(app.screen, ConfirmChange)
        assert "active → revoked" in str(app.screen.query_one("#preview", Static).content)
        await pilot.press("escape")  # cancelled: nothing changes
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmChange)
        assert grant_status(writable, grant) == "active"

        await pilot.press("a")
        await evaluated(app, pilot)
        await pilot.press(*"done in backend", "enter")
        await evaluated(app, pilot)
        assert app.states[finding.fingerprint] == "applied"
        assert grant_status(writable, grant) == "revoked"
        assert "✔" in str(
            app.query_one("#findings-table", DataTable).get_row_at(0)[
                app.query_one(FindingsTab).columns.keys.index("action")
            ]
        )
        assert service.audit_log(writable)[0].note == "done in backend"

        await pilot.press("u")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmChange)
        await pilot.press("enter")
        await evaluated(app, pilot)
        assert app.states[finding.fingerprint] == "open"
        assert grant_status(writable, grant) == "active"


async def test_dismiss_and_hold_need_a_reason(writable):
    app = QcrulesApp(writable, as_of=TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await evaluated(app, pilot)
        await pilot.press("down")
        finding = app.selected()
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("enter")  # no reason: the dialog stays and says so
        await pilot.pause()
        assert isinstance(app.screen, ConfirmChange)
        assert "reason" in str(app.screen.query_one("#problem", Static).content)
        await pilot.press(*"already handled", "enter")
        await evaluated(app, pilot)
        assert app.states[finding.fingerprint] == "dismissed"
        assert app.selected().fingerprint == finding.fingerprint
        for key in ("x", "a"):  # already dismissed: said at once, no dialog asks for more
            app.clear_notifications()
            await pilot.press(key)
            await pilot.pause()
            assert not isinstance(app.screen, ConfirmChange)
            [said] = [n.message for n in app._notifications]
            assert "already dismissed: u undoes it" in said

        await pilot.press("down")
        held = app.selected()
        await pilot.press("h", *"legal review", "enter")
        await evaluated(app, pilot)
        assert app.states[held.fingerprint] == "held"
        assert "on hold" in text_of(app, "#detail")


async def test_a_held_entity_survives_a_new_evaluation_in_every_tab(writable):
    """Hold a grant, evaluate again, and walk every tab over it: its findings stay (with no
    action to apply), the dashboard and the queue count it as held, and `a` on it says why
    nothing happens instead of crashing on the missing action."""
    from qcrules.tui.widgets.findings import FindingsTab

    app = QcrulesApp(writable, as_of=TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await evaluated(app, pilot)
        target = next(f for f in app.query_one(FindingsTab).shown if f.subject.type == "grant")
        row = app.query_one(FindingsTab).shown.index(target)
        app.query_one("#findings-table", DataTable).move_cursor(row=row)
        await pilot.press("h", *"legal review", "enter")
        await evaluated(app, pilot)
        await pilot.press("r")
        await evaluated(app, pilot)
        held = [
            f
            for f in app.report.findings
            if f.subject.id == target.subject.id and f.subject.type == "grant"
        ]
        assert held and all(f.hold for f in held)
        assert app.evaluation_error is None  # the new run is shown, not an error
        shown = app.query_one(FindingsTab).shown
        for finding in held:  # through each held finding's row and detail
            app.query_one("#findings-table", DataTable).move_cursor(row=shown.index(finding))
            await pilot.pause()
            assert "legal review" in text_of(app, "#detail") or "hold" in text_of(app, "#detail")
            row = app.query_one("#findings-table", DataTable).cursor_row
            assert "on hold" in str(app.query_one("#findings-table", DataTable).get_row_at(row))
            app.clear_notifications()
            await pilot.press("a")
            await evaluated(app, pilot)
            assert not isinstance(app.screen, ConfirmChange)
            assert any("held" in str(n.message) for n in app._notifications)
        for key in ("d", "o", "c", "g", "m", "p", "f"):
            await pilot.press(key)
            await evaluated(app, pilot)
            assert app.is_running
        await pilot.press("g")
        await evaluated(app, pilot)
        assert "⏸" in text_of(app, "#grant-state-detail") or any(
            "⏸" in str(app.query_one("#grant-state-table", DataTable).get_row_at(i)[3])
            for i in range(app.query_one("#grant-state-table", DataTable).row_count)
        )


async def test_without_a_stored_run_actions_are_refused_politely(workspace):
    app = QcrulesApp(workspace, as_of=TODAY, store=False)
    async with app.run_test(size=SIZE) as pilot:
        await evaluated(app, pilot)
        await pilot.press("a")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmChange)
        assert any("--no-store" in str(n.message) for n in app._notifications)


async def test_the_packs_tab_shows_every_rule_and_runs_the_pack_tests(workspace):
    packset = service.packs(workspace)
    rules = [rule for pack in packset.packs for rule in pack.rules]
    app = QcrulesApp(workspace, as_of=TODAY, store=False)
    async with app.run_test(size=SIZE) as pilot:
        await evaluated(app, pilot)
        await pilot.press("p")
        await pilot.pause()
        table = app.query_one("#rules-table", DataTable)
        assert table.row_count == len(rules) >= 37
        assert [str(table.get_row_at(i)[0]) for i in range(table.row_count)] == [
            r.id for r in rules
        ]
        detail = text_of(app, "#rule-detail")
        assert rules[0].id in detail and " ".join(rules[0].when.split()) in detail
        assert "Press t" in detail
        await pilot.press("t")
        await evaluated(app, pilot)
        detail = text_of(app, "#rule-detail")
        assert "Pack tests:" in detail and " 0 failed" in detail
        assert "✔" in detail


async def test_the_monitoring_tab_shows_each_grants_days_against_the_bands(workspace):
    sheet = service.monitoring_sheet(workspace, as_of=TODAY, days=14)
    grants = sorted({row.grant_id for row in sheet.rows})
    app = QcrulesApp(workspace, as_of=TODAY, store=False)
    async with app.run_test(size=SIZE) as pilot:
        await evaluated(app, pilot)
        await pilot.press("m")
        await pilot.pause()
        table = app.query_one("#grants-table", DataTable)
        assert [str(table.get_row_at(i)[0]) for i in range(table.row_count)] == grants
        # the grant whose ROI stays below break-even (MON004 on the demo)
        table.move_cursor(row=grants.index("G-930000"))
        await pilot.pause()
        detail = text_of(app, "#grant-detail")
        assert "G-930000" in detail and "CTR normal 3%–10%" in detail
        days = [row for row in sheet.rows if row.grant_id == "G-930000"]
        assert all(row.day.isoformat() in detail for row in days)
        assert "break-even ROI 1.80" in detail
        assert int(str(table.get_row_at(table.cursor_row)[8])) >= 3  # days out of band


def pool_status(workspace: Workspace, merchant: str, aweme: str) -> str | None:
    with sqlite3.connect(workspace.root / "qcrules.db") as conn:
        row = conn.execute(
            "select status from pool where merchant_id = ? and aweme_id = ?", (merchant, aweme)
        ).fetchone()
    return row[0] if row else None


async def test_the_creators_tab_filters_and_changes_pool_membership_with_undo(writable):
    app = QcrulesApp(writable, as_of=TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await evaluated(app, pilot)
        await pilot.press("c")
        await pilot.pause()
        table = app.query_one("#creators-table", DataTable)
        assert table.row_count == min(len(app.creator_facts), PAGE) and len(app.creator_facts) > 100
        candidate = next(f for f in app.creator_facts if f.values["pool_status"] == "candidate")
        nickname = candidate.values["nickname"]
        app.query_one("#creator-filter", Input).value = nickname
        await pilot.pause()
        assert 1 <= table.row_count < 10
        row = next(i for i, f in enumerate(app.query_one(CreatorsTab).shown) if f is candidate)
        table.move_cursor(row=row)
        table.focus()
        await pilot.pause()
        assert nickname in text_of(app, "#creator-detail")

        await pilot.press("a")  # a finding key does nothing here
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmChange)

        await pilot.press("plus")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmChange)
        preview = str(app.screen.query_one("#preview", Static).content)
        assert f"pool of {candidate.merchant_id}: candidate → in pool" in preview
        await pilot.press("enter")
        await evaluated(app, pilot)
        merchant, aweme = candidate.merchant_id, candidate.entity_id
        assert pool_status(writable, merchant, aweme) == "in_pool"
        assert "in pool" in text_of(app, "#creator-detail")

        await pilot.press("X")  # exclude needs a reason
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmChange)
        await pilot.press(*"fake fans", "enter")
        await evaluated(app, pilot)
        assert pool_status(writable, merchant, aweme) == "excluded"

        await pilot.press("u", "enter")
        await evaluated(app, pilot)
        assert pool_status(writable, merchant, aweme) == "in_pool"
    kinds = [e.kind for e in service.audit_log(writable)]
    assert kinds[:3] == ["undo", "apply:pool:excluded", "apply:pool:in_pool"]


async def test_excluded_creators_stay_listed_findable_in_zh_and_can_come_back(
    writable, monkeypatch
):
    """Excluded creators are no rule's facts; the tab lists them all the same, with or
    without a grant (one without a grant went missing after the next evaluation)."""
    pooled = service.evaluate(writable, EvaluateOptions(as_of=TODAY, store=False)).facts["creator"]
    with sqlite3.connect(writable.root / "qcrules.db") as conn:
        granted = set(conn.execute("select merchant_id, aweme_id from grants"))
    gone = next(
        f
        for f in pooled
        if f.values["pool_status"] == "candidate" and (f.merchant_id, f.entity_id) not in granted
    )
    service.set_pool_status(writable, gone.merchant_id, gone.entity_id, "excluded", note="刷粉")
    with sqlite3.connect(writable.root / "qcrules.db") as conn:
        stored = set(conn.execute("select aweme_id, merchant_id from pool where status='excluded'"))
    monkeypatch.setenv("QCRULES_LANG", "zh")
    language.cache_clear()
    app = QcrulesApp(writable, as_of=TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await evaluated(app, pilot)
        await pilot.press("c")
        await pilot.pause()
        excluded = [f for f in app.creator_facts if f.values["pool_status"] == "excluded"]
        assert {(f.entity_id, f.merchant_id) for f in excluded} == stored
        assert len(excluded) == len(stored)  # none twice (a granted one is a fact already)
        app.query_one("#creator-filter", Input).value = "已排除"
        await pilot.pause()
        shown = app.query_one(CreatorsTab).shown
        assert {(f.entity_id, f.merchant_id) for f in shown} == stored
        row = [(f.entity_id, f.merchant_id) for f in shown].index(
            (gone.entity_id, gone.merchant_id)
        )
        table = app.query_one("#creators-table", DataTable)
        assert str(table.get_row_at(row)[3]) == "已排除"
        table.focus()
        table.move_cursor(row=row)
        await pilot.press("plus")  # back into the pool, with a note
        await pilot.pause()
        assert isinstance(app.screen, ConfirmChange)
        await pilot.press("enter")
        await evaluated(app, pilot)
        assert pool_status(writable, gone.merchant_id, gone.entity_id) == "in_pool"
        assert str(table.get_row_at(row)[3]) == "已入池"  # its row changed in place
    language.cache_clear()


async def test_the_grants_tab_lists_every_grant_with_its_findings(workspace):
    app = QcrulesApp(workspace, as_of=TODAY, store=False)
    async with app.run_test(size=SIZE) as pilot:
        await evaluated(app, pilot)
        await pilot.press("g")
        await pilot.pause()
        table = app.query_one("#grant-state-table", DataTable)
        assert table.row_count == len(app.grant_facts) > 50
        ids = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        table.move_cursor(row=ids.index("G-912000"))  # the demo's self-operated grant
        await pilot.pause()
        assert "critical" in str(table.get_row_at(ids.index("G-912000"))[5])
        detail = text_of(app, "#grant-state-detail")
        assert "auth_type  self-operated (自营授权)" in detail and "PRM001" in detail
        # a video is named only by a single-video grant: no "missing" video on the others
        for scope in ("live_room", "single_video"):
            fact = next(f for f in app.grant_facts if f.values["scope"] == scope)
            table.move_cursor(row=app.grant_facts.index(fact))
            await pilot.pause()
            assert ("video_id" in text_of(app, "#grant-state-detail")) == (scope == "single_video")


async def test_one_run_is_said_in_words_not_drawn_as_a_solid_bar(demo_folder):
    """A sparkline of one value fills its width and reads as a trend: with one run the
    Dashboard says so in words and draws no chart."""
    workspace = Workspace.discover(demo_folder / "qcrules.toml")
    try:
        app = QcrulesApp(workspace, as_of=TODAY, store=False)
        async with app.run_test(size=SIZE) as pilot:
            await evaluated(app, pilot)
            assert app.history == []
            assert not app.query_one("#history", Sparkline).display
            title = str(app.query_one("#history-title", Static).render())
            assert f"one run so far ({len(app.report.findings)})" in title
    finally:
        workspace.close()
