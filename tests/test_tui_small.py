"""The TUI at 80×24, the smallest terminal it promises, driven as an operator drives it (the
issue: "80×24 works: dialogs fit, key columns stay visible and the message wraps in the
detail pane"). What is checked is what the screen shows: the lines the widgets draw, and
where dialogs and their buttons are."""

from __future__ import annotations

import sqlite3
from datetime import date

import pytest
from textual.widget import Widget
from textual.widgets import Button, DataTable, Input, Select, Static

from conftest import settle_app
from qcrules.i18n import language, tr
from qcrules.tui import QcrulesApp
from qcrules.tui.grant_form import GrantForm, MarkGrant
from qcrules.tui.screens import ConfirmChange
from qcrules.tui.widgets.paged import PagedTable

TODAY = date(2026, 11, 27)
SMALL = (80, 24)

pytestmark = pytest.mark.usefixtures("english")  # conftest: English labels by default


@pytest.fixture(params=["zh", "en"])
def lang(request, monkeypatch):
    monkeypatch.setenv("QCRULES_LANG", request.param)
    language.cache_clear()
    yield request.param
    language.cache_clear()


def drawn(widget: Widget) -> list[str]:
    """The lines a widget draws, as the terminal shows them (scrolled, cropped)."""
    return [widget.render_line(y).text for y in range(widget.size.height)]


def on_screen(app: QcrulesApp, widget: Widget) -> bool:
    """The whole widget is inside the terminal."""
    region, size = widget.region, app.size
    return (
        region.x >= 0
        and region.y >= 0
        and region.right <= size.width
        and (region.bottom <= size.height)
    )


# tab key, table id, (the key columns' headers), the selected row's key cells
KEY_COLUMNS = {
    "g": ("#grant-state-table", ("授权ID", "Grant"), ("状态", "Status")),
    "c": ("#creators-table", ("达人UID", "Creator"), ("池状态", "Pool")),
    "m": ("#grants-table", ("授权", "Grant"), ("达人", "Creator")),
    "o": ("#actions-table", ("状态", "State"), ("规则", "Rule"), ("建议动作", "Action")),
    "f": ("#findings-table", ("级别", "Level"), ("规则", "Rule"), ("建议动作", "Suggested action")),
}


@pytest.mark.parametrize("key", list(KEY_COLUMNS))
async def test_at_80x24_each_tabs_key_columns_and_their_cells_are_in_view(writable, lang, key):
    """Grants, Creators, Monitoring, Actions and Findings: the identifying columns' headers,
    and the first row's cells under them, drawn whole within the table; the detail below."""
    table_id, *headers = KEY_COLUMNS[key]
    app = QcrulesApp(writable, as_of=TODAY)
    async with app.run_test(size=SMALL) as pilot:
        await settle_app(app, pilot)
        await pilot.press(key)
        await settle_app(app, pilot, rounds=2)
        table = app.query_one(table_id, PagedTable)
        assert table.row_count > 3 and table.scroll_x == 0
        assert table.region.width >= 78  # the detail went below it
        lines = drawn(table)
        for zh, en in headers:
            assert tr(zh, en) in lines[0], (tr(zh, en), lines[0])
        row = table.get_row_at(0)
        for zh, en in headers:
            column = list(table.columns).index(
                next(k for k, c in table.columns.items() if str(c.label) == tr(zh, en))
            )
            assert str(row[column]) in lines[1], (str(row[column]), lines[1])
        detail = table.parent.query_one(".detail")
        assert detail.region.y > table.region.y and on_screen(app, detail)


async def test_a_long_nickname_is_cut_with_an_ellipsis_so_the_state_stays_in_view(writable):
    """Real nicknames run to 20 characters or more: the name and merchant columns give way
    (ending in …), never the grant's or the creator's state."""
    long_name = "超级无敌长的达人昵称官方旗舰号男装女装童装每日上新好物推荐"  # 58 cells
    with sqlite3.connect(writable.root / "qcrules.db") as conn:
        conn.execute("update creators set nickname = ?", (long_name,))
    app = QcrulesApp(writable, as_of=TODAY)
    async with app.run_test(size=SMALL) as pilot:
        await settle_app(app, pilot)
        for key, table_id, header, state in (
            ("g", "#grant-state-table", "Status", 3),
            ("c", "#creators-table", "Pool", 3),
        ):
            await pilot.press(key)
            await settle_app(app, pilot, rounds=2)
            table = app.query_one(table_id, PagedTable)
            lines = drawn(table)
            assert header in lines[0]
            assert str(table.get_row_at(0)[state]) in lines[1]
            assert long_name not in lines[1] and "…" in lines[1]
        # a wide terminal has room: the names are whole again
        await pilot.resize_terminal(200, 40)
        await settle_app(app, pilot)
        assert long_name in drawn(app.query_one("#creators-table", PagedTable))[1]


def in_view(app: QcrulesApp, widget: Widget) -> bool:
    """The whole widget is on the terminal and nothing covers its middle: a user sees it and
    can click it."""
    region = widget.region
    if not region or not on_screen(app, widget):
        return False
    try:
        under, _ = app.screen.get_widget_at(*region.center)
    except Exception:  # nothing there: outside every widget
        return False
    return under is widget or widget in under.ancestors


async def test_at_80x24_the_confirm_dialogs_buttons_are_in_view(writable, lang):
    """The apply dialog was 90 columns wide: its confirm button ran off the right edge; the
    bulk apply's long preview pushed both buttons off the bottom. The preview scrolls now."""
    app = QcrulesApp(writable, as_of=TODAY)
    async with app.run_test(size=SMALL) as pilot:
        await settle_app(app, pilot)
        await pilot.press("a")
        await settle_app(app, pilot)
        assert isinstance(app.screen, ConfirmChange)
        dialog = app.screen
        for button in ("#cancel", "#confirm", "#note"):
            assert in_view(app, dialog.query_one(button)), button
        await pilot.press("escape", "o")
        await settle_app(app, pilot)  # the queue shown (this test is about the layout)
        await pilot.press("B")
        await settle_app(app, pilot)
        assert isinstance(app.screen, ConfirmChange)
        dialog = app.screen
        for button in ("#cancel", "#confirm", "#note"):
            assert in_view(app, dialog.query_one(button)), button
        scroll = dialog.query_one("#preview-scroll")
        assert in_view(app, scroll) and scroll.max_scroll_y > 0  # the rest by scrolling
        await pilot.click("#cancel")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmChange)


async def test_at_80x24_every_move_of_a_requested_grant_has_its_button_in_view(writable, lang):
    """A requested grant may become approved, active, rejected, revoked or expired: the five
    buttons and cancel ran off the 70-column dialog (at any terminal size)."""
    app = QcrulesApp(writable, as_of=TODAY)
    async with app.run_test(size=SMALL) as pilot:
        await settle_app(app, pilot)
        await pilot.press("g")
        await settle_app(app, pilot, rounds=2)
        row = next(
            i for i, f in enumerate(app.grant_facts) if f.values.get("status") == "requested"
        )
        table = app.query_one("#grant-state-table", PagedTable)
        table.move_cursor(row=row)
        table.focus()
        await pilot.press("s")
        await settle_app(app, pilot)
        assert isinstance(app.screen, MarkGrant)
        buttons = list(app.screen.query(Button))
        assert len(buttons) == 6
        for button in buttons:
            assert in_view(app, button), str(button.label)


async def test_at_80x24_the_grant_forms_buttons_stay_in_view(writable, lang):
    """The form's Save and Cancel were the last lines of its scrolling field list: a refusal's
    reason above them, or the cursor on the first fields, scrolled them out of view."""
    app = QcrulesApp(writable, as_of=TODAY)
    async with app.run_test(size=SMALL) as pilot:
        await settle_app(app, pilot)
        await pilot.press("c", "n")
        await settle_app(app, pilot, rounds=2)
        form = app.screen
        assert isinstance(form, GrantForm)
        form.query_one("#scope", Select).value = "all_works"  # refused: PRM004
        await settle_app(app, pilot, rounds=2)
        await pilot.press("ctrl+s")
        await settle_app(app, pilot, rounds=2)
        assert isinstance(app.screen, GrantForm)  # refused, still open, saying why
        problem = form.query_one("#form-problem", Static)
        assert "PRM004" in str(problem.render())
        for widget in (problem, form.query_one("#save"), form.query_one("#cancel")):
            assert in_view(app, widget), widget
        form.query_one("#merchant", Input).focus()  # back at the top of the fields
        await pilot.pause()
        for widget in (problem, form.query_one("#save"), form.query_one("#cancel")):
            assert in_view(app, widget), widget
        await pilot.click("#cancel")
        await pilot.pause()
        assert not isinstance(app.screen, GrantForm)


async def test_at_80x24_the_whatif_picker_shows_a_parameters_whole_name(workspace, lang):
    """The what-if's parameter picker shared a line with the value and the save button in a
    31-column pane: it showed four cells of the parameter. It has a line of its own now."""
    app = QcrulesApp(workspace, as_of=TODAY, store=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle_app(app, pilot)
        await pilot.press("p")
        await settle_app(app, pilot, rounds=2)
        picker = app.query_one("#whatif-param", Select)
        longest = max((str(prompt) for prompt, _ in picker._options[1:]), key=len)
        picker.value = next(v for p, v in picker._options if str(p) == longest)
        await pilot.pause()
        shown = drawn(picker.query_one("SelectCurrent #label"))  # the chosen one's words
        assert any(longest in line for line in shown), (longest, shown)
        for widget in ("#whatif-param", "#whatif-value", "#whatif-save"):
            assert in_view(app, app.query_one(widget)), widget
        results = app.query_one("#whatif-scroll")
        assert on_screen(app, results) and results.region.height >= 3  # rows for the results


async def test_at_80x24_the_packs_tab_keeps_each_rules_id_level_and_action_in_view(workspace, lang):
    """The rules table showed its pack, the rule and part of its name: the level, entity and
    action ran off the right edge. The key columns come first now, an action too long for
    the width cut with "…", and the pack, name and entity follow (the detail names them)."""
    from qcrules.i18n import tr

    app = QcrulesApp(workspace, as_of=TODAY, store=False)
    async with app.run_test(size=SMALL) as pilot:
        await settle_app(app, pilot)
        await pilot.press("p")
        await settle_app(app, pilot, rounds=2)
        table = app.query_one("#rules-table", DataTable)
        assert table.row_count > 10 and table.scroll_x == 0
        lines = drawn(table)
        for header in (tr("规则", "Rule"), tr("级别", "Level"), tr("建议动作", "Action")):
            assert header in lines[0], (header, lines[0])
        tab = app.query_one("PacksTab")
        for row, (_, rule, _) in enumerate(tab.rules[: table.size.height - 2]):
            line = lines[row + 1]
            level = str(table.get_row_at(row)[1])
            action = tr(app.kinds[rule.action_kind].zh, app.kinds[rule.action_kind].en)
            assert rule.id in line and level in line, (rule.id, level, line)
            # the action whole, or its first words ending in "…", before the right edge
            start = action[: action.index(" ", 4)] if " " in action[4:] else action
            assert action in line or (start in line and "…" in line), (action, line)


async def test_a_dialogs_key_bar_shows_its_own_keys_not_the_tabs_underneath(writable, lang):
    """With a dialog open the bottom line listed the tab's keys (Evaluate, Dashboard, Apply…),
    which do nothing there: each dialog's own keys are shown instead."""
    from qcrules.tui.widgets.keybar import KeyBar

    def bottom_line(app: QcrulesApp) -> str:
        under, _ = app.screen.get_widget_at(1, app.size.height - 1)
        assert isinstance(under, KeyBar) and under.screen is app.screen, under
        return str(under.render())

    tab_keys = (tr("运行评估", "Evaluate now"), tr("概览", "Dashboard"), tr("退出", "Quit"))
    app = QcrulesApp(writable, as_of=TODAY)
    async with app.run_test(size=SMALL) as pilot:
        await settle_app(app, pilot)
        assert tr("运行评估", "Evaluate now") in bottom_line(app)  # no dialog: the tab's
        for keys, dialog, own in (
            (("a",), ConfirmChange, ()),
            (("s",), MarkGrant, ()),
            (("c", "n"), GrantForm, (tr("保存", "Save"),)),
        ):
            if dialog is MarkGrant:  # a grant with moves left
                await pilot.press("g")
                await settle_app(app, pilot, rounds=2)
                table = app.query_one("#grant-state-table", PagedTable)
                statuses = [f.values.get("status") for f in app.grant_facts]
                table.move_cursor(row=statuses.index("requested"))
                table.focus()
            await pilot.press(*keys)
            await settle_app(app, pilot, rounds=2)
            assert isinstance(app.screen, dialog)
            line = bottom_line(app)
            assert "esc" in line and tr("取消", "Cancel") in line, line
            assert all(word in line for word in own), line
            assert not any(word in line for word in tab_keys), line
            await pilot.press("escape")
            await settle_app(app, pilot)
            assert not isinstance(app.screen, dialog)
        assert tr("运行评估", "Evaluate now") in bottom_line(app)
