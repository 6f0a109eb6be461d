"""The Actions tab: the queue with its states, a filter, single actions through the same
dialogs as the Findings tab, and a bulk apply of the filtered open set (all or nothing)."""

from __future__ import annotations

import sqlite3
from contextlib import asynccontextmanager
from datetime import date

import pytest
from textual.widgets import DataTable, Input, Static

from conftest import settle_app
from qcrules import service
from qcrules.tui import QcrulesApp
from qcrules.tui.screens import ConfirmChange
from qcrules.tui.widgets.actions import ActionsPane
from qcrules.tui.widgets.findings import FindingsTab
from qcrules.tui.widgets.monitoring import MonitoringTab
from qcrules.workspace import Workspace

TODAY = date(2026, 11, 27)
SIZE = (160, 45)

pytestmark = pytest.mark.usefixtures("english")  # conftest: English labels in every test


def proposed_end(workspace: Workspace, grant_id: str):
    with sqlite3.connect(workspace.root / "qcrules.db") as conn:
        return conn.execute(
            "select proposed_ends_at from grants where grant_id = ?", (grant_id,)
        ).fetchone()


def table_ids(app: QcrulesApp) -> list[str]:
    table = app.query_one("#actions-table", DataTable)
    return [str(cell) for cell in table.get_column("id")]


@asynccontextmanager
async def on_tab(workspace: Workspace, key: str, **options):
    """The app on `workspace`, its first evaluation settled, on the tab that `key` opens."""
    app = QcrulesApp(workspace, as_of=TODAY, **options)
    async with app.run_test(size=SIZE) as pilot:
        await settle_app(app, pilot)
        await pilot.press(key)
        await settle_app(app, pilot)
        yield app, pilot


async def test_the_actions_tab_lists_the_open_queue_and_cycles_states(writable):
    async with on_tab(writable, "o") as (app, pilot):
        queue = service.action_queue(writable)
        open_refs = [i.ref for i in queue if i.state == "open"]
        assert open_refs and table_ids(app) == open_refs
        assert app.focused is app.query_one("#actions-table")
        # the selected item's detail, and its keys
        first = queue[0]
        detail = str(app.query_one("#action-detail", Static).content)
        assert first.rule in detail and first.entity_id in detail and "apply" in detail

        await pilot.press("s")  # applied: none yet
        await settle_app(app, pilot)
        assert table_ids(app) == []
        assert "No action matches" in str(app.query_one("#action-detail", Static).content)
        for _ in range(4):  # dismissed, held, superseded, all
            await pilot.press("s")
        await settle_app(app, pilot)
        assert len(table_ids(app)) == len(queue)


async def test_apply_from_the_actions_tab_uses_the_same_dialog_and_updates_both_tabs(writable):
    async with on_tab(writable, "o") as (app, pilot):
        item = app.query_one(ActionsPane).selected()
        await pilot.press("a")
        await settle_app(app, pilot)
        assert isinstance(app.screen, ConfirmChange)
        await pilot.press(*"done", "enter")
        await settle_app(app, pilot)
        assert app.states[item.fingerprint] == "applied"  # the Findings tab's marks
        assert item.ref not in table_ids(app)  # no longer open
        await pilot.press("s")
        await settle_app(app, pilot)
        assert table_ids(app) == [item.ref]


async def test_bulk_apply_lists_every_change_then_applies_the_filtered_open_set(writable):
    async with on_tab(writable, "o") as (app, pilot):
        await pilot.press("slash")
        assert app.focused is app.query_one("#actions-filter", Input)
        await pilot.press(*"shorten_grant", "enter")
        await settle_app(app, pilot)
        chosen = [i for i in service.action_queue(writable) if i.kind == "shorten_grant"]
        assert len(chosen) >= 2 and sorted(table_ids(app)) == sorted(i.ref for i in chosen)
        before = {i.entity_id: proposed_end(writable, i.entity_id) for i in chosen}

        await pilot.press("B")
        await settle_app(app, pilot)
        assert isinstance(app.screen, ConfirmChange)
        preview = str(app.screen.query_one("#preview", Static).content)
        assert f"Apply {len(chosen)} actions?" in str(
            app.screen.query_one("#title", Static).content
        )
        for item in chosen:
            assert item.entity_id in preview
        await pilot.press("escape")  # cancelled: nothing changes
        await settle_app(app, pilot)
        assert {i.entity_id: proposed_end(writable, i.entity_id) for i in chosen} == before

        await pilot.press("B")
        await settle_app(app, pilot)
        await pilot.press(*"batch", "enter")
        await settle_app(app, pilot)
        states = {i.fingerprint: i.state for i in service.action_queue(writable)}
        assert all(states[i.fingerprint] == "applied" for i in chosen)
        assert all(proposed_end(writable, i.entity_id) != before[i.entity_id] for i in chosen)
        log = service.audit_log(writable, limit=len(chosen))
        assert {e.note for e in log} == {"batch"}
        assert table_ids(app) == []  # the filtered open set is done


async def test_help_lists_every_key_with_where_it_works(writable):
    from qcrules.tui.screens import HelpScreen

    app = QcrulesApp(writable, as_of=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:  # the smallest usual terminal
        await settle_app(app, pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        rows = {what: (keys, where) for keys, what, where in app.screen.rows}
        assert rows["Apply"] == ("a", "Findings, Actions")
        assert rows["Add to pool"][1] == "Creators"
        assert rows["Apply all shown"] == ("B", "Actions")
        assert rows["Actions"][0] == "o" and rows["Evaluate now"][1] == "every tab"
        # every binding of the app is listed
        assert {b.description for b in app.BINDINGS} <= set(rows)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)


async def test_the_palette_lists_the_commands_with_their_keys_when_it_opens(writable):
    from textual.command import CommandPalette
    from textual.widgets import OptionList

    app = QcrulesApp(writable, as_of=TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await settle_app(app, pilot)
        await pilot.press("ctrl+p")
        await pilot.pause(0.5)
        assert isinstance(app.screen, CommandPalette)
        options = app.screen.query_one(OptionList)
        texts = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        joined = "\n".join(texts)
        assert "evaluate: now" in joined and "(r)" in joined
        assert "actions: apply all shown" in joined and "(B)" in joined


async def test_textual_s_own_palette_commands_speak_chinese_in_zh(workspace, monkeypatch):
    from textual.command import CommandPalette
    from textual.widgets import OptionList

    from qcrules.i18n import language

    monkeypatch.setenv("QCRULES_LANG", "zh")
    language.cache_clear()
    app = QcrulesApp(workspace, as_of=TODAY, store=False)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle_app(app, pilot)
            await pilot.press("ctrl+p")
            await pilot.pause(0.5)
            assert isinstance(app.screen, CommandPalette)
            options = app.screen.query_one(OptionList)
            count = options.option_count
            joined = "\n".join(str(options.get_option_at_index(i).prompt) for i in range(count))
            assert "主题" in joined and "退出" in joined and "截图" in joined
            assert "Theme" not in joined and "Screenshot" not in joined
    finally:
        language.cache_clear()


async def test_slash_and_escape_work_on_the_tab_in_view(writable):
    async with on_tab(writable, "c") as (app, pilot):
        await pilot.press("slash")
        assert app.focused is app.query_one("#creator-filter", Input)
        assert app.query_one("TabbedContent").active == "creators"  # not sent to Findings
        await pilot.press(*"zzz-nobody")
        await settle_app(app, pilot)
        assert app.query_one("#creators-table", DataTable).row_count == 0
        await pilot.press("escape")
        await settle_app(app, pilot)
        assert app.query_one("#creator-filter", Input).value == ""
        assert app.focused is app.query_one("#creators-table", DataTable)
        assert app.query_one("#creators-table", DataTable).row_count > 0

        await pilot.press("f", "slash")
        assert app.focused is app.query_one("#filter", Input)


async def test_the_monitoring_tab_charts_the_selected_grants_days_with_the_bands(writable):
    from textual_plotext import PlotextPlot

    async with on_tab(writable, "m", store=False) as (app, pilot):
        table = app.query_one("#grants-table", DataTable)
        grants = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        table.move_cursor(row=grants.index("G-930000"))  # ROI below break-even (MON004)
        await settle_app(app, pilot)
        days = app.query_one(MonitoringTab).grant_rows[table.cursor_row][1]
        roi = app.query_one("#chart-roi", PlotextPlot)
        text = roi.render().plain
        assert "ROI (red: break-even)" in text
        assert days[-1].day.strftime("%m-%d") in text  # the last day is on the axis
        # the drawn series is the grant's ROI per day, and the break-even line is at 1.8
        charts = app.query_one("#grant-charts")
        assert charts.series["roi"] == [d.roi for d in days]
        assert charts.lines["roi"] == [1.8]
        assert charts.lines["ctr"] == [3.0, 10.0, 1.0]
        ctr = app.query_one("#chart-ctr", PlotextPlot).render().plain
        assert "CTR % (green: the normal band)" in ctr


def test_monitoring_charts_snapshot(snap_compare, demo_folder):
    workspace = Workspace.discover(demo_folder / "qcrules.toml")
    app = QcrulesApp(workspace, as_of=TODAY, store=False)

    async def settle(pilot) -> None:
        await settle_app(app, pilot)
        await pilot.press("m")
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.query_one("#grants-table", DataTable)
        grants = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        table.move_cursor(row=grants.index("G-930000"))
        await pilot.pause()
        app.query_one("#grant-detail-scroll").scroll_to(y=8, animate=False)  # the charts
        app.clear_notifications()
        await pilot.pause()

    try:
        assert snap_compare(app, terminal_size=SIZE, run_before=settle)
    finally:
        workspace.close()


async def test_user_keys_and_the_chosen_theme_persist_in_qcrules_toml(writable):
    config = writable.root / "qcrules.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text + '\n# my keys\n[tui.keys]\napply = "A"\nevaluat = "f5"\n', encoding="utf-8"
    )
    workspace = Workspace.discover(config)
    app = QcrulesApp(workspace, as_of=TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await settle_app(app, pilot)
        # a misspelt binding id is named, with the right one
        warnings = app.setting_warnings
        assert any("'evaluat'" in w and "did you mean 'evaluate'" in w for w in warnings)
        first = app.selected()
        await pilot.press("a")  # no longer apply
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmChange)
        await pilot.press("A")
        await settle_app(app, pilot)
        assert isinstance(app.screen, ConfirmChange) and first is not None
        await pilot.press("escape")
        await pilot.pause()
        rows = {what: keys for keys, what, _ in app.help_rows()}
        assert rows["Apply"] == "A"

        app.theme = "nord"  # as the palette's "Change theme" does
        await pilot.pause()
    workspace.close()
    saved = config.read_text(encoding="utf-8")
    assert 'theme = "nord"' in saved and "# my keys" in saved  # comments kept
    again = Workspace.discover(config)
    try:
        assert again.config.tui_theme == "nord" and again.config.tui_keys["apply"] == "A"
        app = QcrulesApp(again, as_of=TODAY)
        async with app.run_test(size=SIZE) as pilot:
            await settle_app(app, pilot)
            assert app.theme == "nord"
    finally:
        again.close()


def test_a_wrong_tui_section_is_a_clear_config_error(tmp_path):
    from qcrules.config import load_config
    from qcrules.errors import ConfigError

    path = tmp_path / "qcrules.toml"
    path.write_text('[tui]\ntheme = 3\n[tui.keys]\napply = ["A"]\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert f"{path}:2: tui.theme must be str" in message
    assert f"{path}:4: tui.keys.apply must be str" in message


async def test_keyboard_sorting_with_an_indicator_and_reverse(writable):
    app = QcrulesApp(writable, as_of=TODAY, store=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle_app(app, pilot)
        table = app.query_one("#findings-table", DataTable)

        def rules() -> list[str]:
            return [str(table.get_row_at(i)[1]) for i in range(table.row_count)]

        original = rules()
        await pilot.press("S", "S")  # level, then rule
        await pilot.pause()
        assert rules() == sorted(original) != original
        assert "Sort: Rule ▲" in str(app.query_one("#level-filter", Static).content)
        await pilot.press("I")
        await pilot.pause()
        assert rules() == sorted(original, reverse=True)
        assert "Sort: Rule ▼" in str(app.query_one("#level-filter", Static).content)
        # a click on the sorted header reverses it back
        table.post_message(DataTable.HeaderSelected(table, table.columns["rule"].key, 1, None))
        await pilot.pause()
        assert rules() == sorted(original)
        for _ in range(
            len(app.query_one(FindingsTab).columns.keys)
        ):  # round to the run's own order
            await pilot.press("S")
        await pilot.pause()
        assert rules() == original


async def test_the_key_bar_shows_the_tab_in_views_keys_and_a_click_presses_one(workspace):
    """The bottom bar lists the keys that work where the operator is (pool keys on Creators,
    not on Findings), dims nothing it hides, and a click on a key acts as the key."""
    from textual.widgets import TabbedContent

    from qcrules.tui.widgets.keybar import KeyBar

    app = QcrulesApp(workspace, as_of=TODAY, store=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle_app(app, pilot)
        bar = app.query_one(KeyBar)
        on_findings = str(bar.render())
        assert "Explain" in on_findings and "Add to pool" not in on_findings
        assert on_findings.rstrip().endswith("palette")
        await pilot.press("c")
        await settle_app(app, pilot)
        on_creators = str(bar.render())
        assert "Add to pool" in on_creators and "Explain" not in on_creators
        start = next(span[0] for span in bar.spans if span[2] == "g")
        await pilot.click(KeyBar, offset=(start + 1, 0))
        await settle_app(app, pilot)
        assert app.query_one(TabbedContent).active == "grants"
        assert "Renew" in str(bar.render())


async def test_in_zh_the_actions_tab_names_levels_and_entities_as_the_findings_tab_does(
    writable, monkeypatch
):
    """The queue showed "critical" and "grant 1234…" in zh, beside a Findings tab that says
    严重 and 授权: the same words now, in the table and the detail, and they filter."""
    from qcrules.i18n import language

    monkeypatch.setenv("QCRULES_LANG", "zh")
    language.cache_clear()
    try:
        async with on_tab(writable, "o") as (app, pilot):
            table = app.query_one("#actions-table", DataTable)
            levels = {str(cell) for cell in table.get_column("level")}
            entities = [str(cell).split(" ")[0] for cell in table.get_column("entity")]
            assert levels and levels <= {"严重", "错误", "警告", "提示"}, levels
            assert "授权" in entities and set(entities) <= {"达人", "授权", "商家"}, entities
            item = app.query_one(ActionsPane).selected()
            detail = str(app.query_one("#action-detail", Static).content)
            assert item.level not in detail.split("\n")[1]  # "待处理 · 严重", not "… · critical"
            finding = next(f for f in app.report.findings if f.fingerprint == item.fingerprint)
            findings_tab = app.query_one(FindingsTab)
            shown = str(table.get_row_at(0)[1]), str(table.get_row_at(0)[3])
            assert shown == (
                findings_tab._texts(finding, "level"),
                findings_tab._texts(finding, "entity"),
            )
            critical = {
                str(c)
                for c, lv in zip(table.get_column("id"), table.get_column("level"), strict=True)
                if str(lv) == "严重"
            }
            await pilot.press("slash", *"严重")  # the words shown find the items
            await settle_app(app, pilot)
            assert critical and critical <= {str(cell) for cell in table.get_column("id")}
    finally:
        language.cache_clear()


async def test_u_finds_what_to_undo_however_many_undos_came_before(writable):
    """The TUI looked for the last change among the newest 20 log entries: after ten undos
    (each an entry, each undoing one) `u` said there was nothing to undo."""
    service.evaluate(writable, service.EvaluateOptions(as_of=TODAY, fail_on="never"))
    items = [i for i in service.action_queue(writable) if i.state == "open"][:12]
    for item in items:
        service.apply_action(writable, item.ref, actor="tester", today=TODAY)
    for _ in range(11):
        service.undo(writable, actor="tester")
    app = QcrulesApp(writable, as_of=TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await settle_app(app, pilot)
        await pilot.press("u")
        await settle_app(app, pilot)
        assert isinstance(app.screen, ConfirmChange)
        await pilot.click("#confirm")  # the note is optional
        await settle_app(app, pilot)
    assert not service.audit_log(writable, limit=1, undoable_only=True)  # all taken back


async def test_a_palette_command_of_another_tab_says_where_it_works(writable):
    """Picked on Findings, "grant: mark" did nothing and said nothing."""
    from textual.command import CommandPalette

    app = QcrulesApp(writable, as_of=TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await settle_app(app, pilot)
        await pilot.press("ctrl+p")
        await pilot.pause(0.5)
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"mark")
        await pilot.pause(0.5)
        app.clear_notifications()
        await pilot.press("enter")
        await settle_app(app, pilot)
        said = [n.message for n in app._notifications]
        assert said == ["this command works on the Grants tab"]
        assert app.query_one("TabbedContent").active == "findings"
