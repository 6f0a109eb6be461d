"""Long lists in the TUI are added a page at a time (PagedTable), so a workspace of 14,000
creators opens and filters without freezing — yet every item stays reachable: by moving
down, by scrolling to the end, and by moving the cursor to any row."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.padding import Padding
from rich.style import Style
from rich.text import Text
from textual.app import App
from textual.renderables.styled import Styled
from textual.widgets import DataTable, Input

from conftest import settle_app
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
            await settle_app(app, pilot)
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


# --- drawing: the table's short path draws exactly what DataTable draws through Rich ---

_STYLES = ["", "bold", "red", "bold red on blue", "italic underline", "reverse"]
_CHARS = "ab z-1达人小王😀é"


@st.composite
def _text_cells(draw):
    plain = draw(st.text(alphabet=_CHARS, max_size=14))
    text = Text(plain, style=draw(st.sampled_from(_STYLES)))
    for _ in range(draw(st.integers(0, 3))):
        start = draw(st.integers(0, len(plain)))
        text.stylize(
            draw(st.sampled_from(_STYLES[1:])), start, draw(st.integers(start, len(plain)))
        )
    return text


@settings(max_examples=400, deadline=None)
@given(
    text=_text_cells(),
    width=st.integers(1, 18),
    padding=st.integers(0, 2),
    post=st.sampled_from([Style(), Style(bold=True), Style(bgcolor="yellow")]),
)
def test_a_text_cell_is_drawn_as_rich_draws_it(text, width, padding, post):
    """Cropped mid wide character, padded, styled by its spans, the cursor's and the row's:
    the same characters in the same styles as `render_lines(Styled(Padding(text)))`."""
    assume(width > 2 * padding)
    console = Console(width=80)
    pre = Style(color="white", bgcolor="grey15") + Style.from_meta({"row": 3, "column": 1})
    options = console.options.update_dimensions(width, 1).update(no_wrap=True)
    rich = console.render_lines(
        Styled(Padding(text, (0, padding)), pre_style=pre, post_style=post), options
    )
    ours = paged.text_cell_lines(console, text, width, padding, pre, post)
    assert ours == [[segment for segment in rich[0] if segment.text]]


_ROWS = [
    [Text("G-0001"), Text("达人小王😀达人", style="bold"), Text("ok"), Text("1.5")],
    [Text("x" * 30, style="red on blue"), Text(""), "[b]markup[/b]", None],
    [Text("两行\n文字"), Text("ok"), Text("tab\there"), 2],
    [Text("G-0002"), Text("é" * 5), Text("crop 达达达达达达"), 3],
    [
        Text("ab\u2028cdefghij"),
        Text("right", justify="right"),
        Text("elided…long", overflow="ellipsis"),
        4,
    ],
    [
        Text("wraps at a word", no_wrap=False),
        Text("x", style="not-a-style"),
        Text("zwsp\u200bx"),
        5,
    ],
]


class _TwoTables(App):
    """A DataTable and a PagedTable given the same rows, side by side."""

    def compose(self):
        for table in (DataTable(id="plain"), PagedTable(id="paged")):
            table.add_column("id", key="id")
            table.add_column("nick", key="nick")
            table.add_column("note", key="note", width=9)
            table.add_column("n", key="n")
            yield table

    def on_mount(self) -> None:
        self.query_one("#plain", DataTable).add_rows(_ROWS)
        self.query_one("#paged", PagedTable).show(_ROWS, list)


async def test_the_paged_table_measures_and_draws_every_cell_as_a_data_table_does():
    """Column widths and every drawn line — the cursor row included — match a plain
    DataTable's on the same rows: styled, wide, cropped, empty, multi-line, markup cells."""
    app = _TwoTables()
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        plain, ours = app.query_one("#plain", DataTable), app.query_one("#paged", PagedTable)
        assert [c.content_width for c in ours.ordered_columns] == [
            c.content_width for c in plain.ordered_columns
        ]
        assert ours.virtual_size == plain.virtual_size
        drawn = {}
        for table in (plain, ours):  # each drawn focused, the way an operator sees it
            table.move_cursor(row=1)
            table.focus()
            await pilot.pause()
            lines = [table.render_line(y) for y in range(len(_ROWS) + 1)]
            drawn[table.id] = [[(s.text, s.style) for s in line if s.text] for line in lines]
        assert drawn["paged"] == drawn["plain"]
        assert "达人小王😀达人" in "".join(text for text, _ in drawn["paged"][1])


async def test_work_in_turn_runs_in_order_one_piece_per_refresh_until_none_is_pending():
    """The run's table fills wait for a screen refresh each, in the order given; a piece
    added while others wait joins the end of the line."""
    app = _TwoTables()
    ran: list[str] = []
    async with app.run_test(size=(80, 24)) as pilot:
        turn = paged.InTurn(app)
        turn.add(lambda: ran.append("creators"), lambda: ran.append("grants"))
        assert turn.pending == 2 and ran == []  # nothing runs before the screen is drawn
        turn.add(lambda: ran.append("actions"))
        for _ in range(10):
            await pilot.pause()
            if not turn.pending:
                break
        assert ran == ["creators", "grants", "actions"] and turn.pending == 0
