"""Long lists in the TUI are added a page at a time (PagedTable), so a workspace of 14,000
creators opens and filters without freezing — yet every item stays reachable: by moving
down, by scrolling to the end, and by moving the cursor to any row."""

from __future__ import annotations

from datetime import date

import pytest
from textual.widgets import Input

from qcrules.i18n import language
from qcrules.tui import QcrulesApp
from qcrules.tui.widgets import paged
from qcrules.tui.widgets.creators import CreatorsTab
from qcrules.tui.widgets.paged import PagedTable
from qcrules.workspace import Workspace

TODAY = date(2026, 11, 27)


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(paged, "PAGE", 40)
    monkeypatch.setattr(paged, "AHEAD", 5)
    monkeypatch.setenv("QCRULES_LANG", "en")
    language.cache_clear()
    yield
    language.cache_clear()


async def test_a_long_list_loads_by_pages_and_every_row_stays_reachable(demo_folder, small_pages):
    workspace = Workspace.discover(demo_folder / "qcrules.toml")
    try:
        app = QcrulesApp(workspace, as_of=TODAY, store=False)
        async with app.run_test(size=(160, 45)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            await pilot.press("c")
            await pilot.pause()
            table = app.query_one("#creators-table", PagedTable)
            total = len(app.query_one(CreatorsTab).shown)
            assert total > 120 and table.row_count == 40  # one page, not every creator

            table.focus()
            table.move_cursor(row=34)
            await pilot.press("down")  # within AHEAD of the end: the next page comes
            await pilot.pause()
            assert table.row_count == 80
            assert str(table.get_row_at(60)[0]) == app.query_one(CreatorsTab).shown[60].entity_id

            table.move_cursor(row=total - 1)  # any row, by code or a test: its pages come
            await pilot.pause()
            assert table.row_count == total and table.cursor_row == total - 1
            last = app.query_one(CreatorsTab).shown[-1]
            assert last.entity_id in str(app.query_one("#creator-detail").render())

            # a filter starts again from one page of the matches
            app.query_one("#creator-filter", Input).value = "M1"
            await pilot.pause()
            matches = len(app.query_one(CreatorsTab).shown)
            assert 40 < matches < total and table.row_count == 40

            table.scroll_end(animate=False)  # the scrollbar at the end brings the next page
            await pilot.pause()
            await pilot.pause()
            assert table.row_count == min(80, matches)
    finally:
        workspace.close()
