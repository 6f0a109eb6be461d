"""A DataTable that holds a long list and adds its rows a page at a time.

Textual measures every cell of every row a DataTable adds, on the UI thread (~0.3 ms a row
of eight cells): the 14,000 creators of an M workspace froze the app for seconds at each
load and each filter keystroke. A page costs tens of milliseconds; the next page is added
as the cursor or the scrollbar nears the end, and moving the cursor to any row of the list
adds the pages up to it, so every item stays reachable by key, mouse or code.

Drawing is the other cost: DataTable sends every cell through Rich's `render_lines`
(~50 µs a cell), so a screen of 40 rows × 8 cells took ~20 ms to draw and to measure each
page's widths. The tabs' cells are one-line `Text`s, so the table measures and draws
those itself, segment for segment what Rich gives (`tests/test_tui_paging.py` compares the
two on generated cells); anything else still goes through DataTable's own code."""

from __future__ import annotations

import inspect
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable

PAGE = 200  # rows added at once
AHEAD = 20  # add the next page when the cursor is this close to the last added row


def _plain_line(cell: Any) -> str | None:
    """The text of a cell that can take the short path: a `Text` (not a subclass, not a
    markup string, which DataTable parses) of printable characters only (no line or
    paragraph separator, no tab to expand), cropped as Rich crops by default (no justify,
    no overflow of its own, not asked to wrap)."""
    if type(cell) is not Text or cell.justify or cell.overflow or cell.no_wrap is False:
        return None
    plain = cell.plain
    return plain if plain.isprintable() else None


def text_cell_lines(
    console: Any,
    text: Text,
    width: int,
    padding: int,
    pre: Style,
    post: Style,
    ellipsis: bool = False,
) -> list[list[Segment]]:
    """The one line of segments DataTable's `render_lines(Styled(Padding(text)))` gives for
    a one-line `Text` in a column `width` cells wide: the text cropped (a wide character cut
    in half becomes a space) and padded, styled pre + the text's own + post. `ellipsis`: a
    text too long ends in "…" instead (a column narrowed to keep the key columns in view)."""
    inner = width - 2 * padding
    line = text.copy()
    line.end = ""
    line.truncate(inner, overflow="ellipsis" if ellipsis else "fold")
    edge = Segment(" " * padding, pre + post) if padding else None
    out: list[Segment] = [edge] if edge else []
    if line._spans:  # the text's own style is rendered with its spans
        out.extend(Segment.apply_style(line.render(console, end=""), pre, post))
    elif line.plain:
        base = console.get_style(text.style, default=Style.null()) if text.style else None
        out.append(Segment(line.plain, (pre + base if base else pre) + post))
    fill = inner - cell_len(line.plain)
    if fill > 0:
        out.append(Segment(" " * fill, pre + post))
    if edge:
        out.append(edge)
    return [out]


def entity_key(fact: Any) -> tuple[str, str | None]:
    """What names a creator's or a grant's row across evaluations (a fact is new each time)."""
    return fact.entity_id, fact.merchant_id


class PagedTable(DataTable):
    """`show(items, cells)` replaces the list; rows are `cells(item)`, added as needed.

    `keep_in_view(last, squeeze)`: the columns up to `last` (the key ones, first) end within
    the table's width (80×24: the grant's id and state, the action) — the `squeeze` columns
    among or before them (names, merchants, action words: each to at least its minimum)
    are narrowed as needed, a longer text ending in "…"."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.items: Sequence[Any] = ()
        self._cells: Callable[[Any], list[Any]] = lambda item: []
        self.loaded = 0  # how many of `items` are rows of the table
        self._last_key: str | None = None
        self._squeeze: dict[str, int] = {}
        self._natural: dict[Any, int] = {}  # column key -> its content's width, unnarrowed
        self.narrowed: dict[str, int] = {}  # column key -> the width it is narrowed to

    def keep_in_view(self, last: str, squeeze: dict[str, int]) -> None:
        self._last_key, self._squeeze = last, squeeze
        self._require_update_dimensions = True
        self.refresh()

    def _fit_columns(self) -> None:
        """Each column's content width: its natural one, or narrower as `keep_in_view` asks."""
        narrowed: dict[str, int] = {}
        columns = self.ordered_columns
        keys = [str(column.key.value) for column in columns]
        room = self.scrollable_content_region.width
        if self._last_key in keys and room > 0:
            shown = columns[: keys.index(self._last_key) + 1]
            excess = sum(self._natural.get(c.key, c.content_width) for c in shown) - room
            excess += 2 * self.cell_padding * len(shown)
            widths = {str(c.key.value): self._natural.get(c.key, c.content_width) for c in shown}
            for key, least in self._squeeze.items():
                if excess <= 0:
                    break
                if key in widths and widths[key] > least:
                    cut = min(excess, widths[key] - least)
                    narrowed[key] = widths[key] - cut
                    excess -= cut
        for column, key in zip(columns, keys, strict=True):
            natural = self._natural.get(column.key, column.content_width)
            column.content_width = narrowed.get(key, natural)
        if narrowed != self.narrowed:
            self.narrowed = narrowed
            self._clear_caches()
            self._update_count += 1

    def _on_resize(self, event: Any) -> None:
        super()._on_resize(event)
        if self._last_key is not None:
            self._require_update_dimensions = True  # the columns fit the new width

    def show(
        self,
        items: Sequence[Any],
        cells: Callable[[Any], list[Any]],
        key: Callable[[Any], Any] | None = None,
    ) -> bool:
        """With `key` (what names an item: a fingerprint, a grant id), the cursor stays on
        the item it was on, wherever the new list has it: after a new evaluation the next
        key must act on the grant the operator was looking at, not on the first row. False
        when that item is gone (the cursor is then on the first row)."""
        kept = None
        row = self.cursor_row
        if key is not None and self.row_count and 0 <= row < len(self.items):
            kept = key(self.items[row])
        self.clear()
        self.items, self._cells, self.loaded = items, cells, 0
        self.load_through(PAGE - 1)
        if kept is None:
            return False
        if row < len(items) and key(items[row]) == kept:  # the usual case: where it was
            index: int | None = row
        else:
            index = next((i for i, item in enumerate(items) if key(item) == kept), None)
        if index is None:
            return False
        if index > 0:
            self.load_through(index)
            self.move_cursor(row=index, animate=False)
        return True

    def load_through(self, index: int) -> None:
        """Add the rows up to `index` (and at least a page more), if they are not yet there."""
        if index < self.loaded or self.loaded >= len(self.items):
            return
        start, end = self.loaded, min(len(self.items), max(index + 1, self.loaded + PAGE))
        self.loaded = end  # first: adding rows moves the cursor, which asks for more
        self.add_rows(self._cells(item) for item in self.items[start:end])

    def update_item(self, index: int, column: int, value: Any) -> None:
        """Change one cell of an item's row, if that row has been added."""
        if index < self.loaded:
            self.update_cell_at(Coordinate(index, column), value)

    def _update_dimensions(self, new_rows: Any) -> None:
        """Widths of one-line `Text` cells by their length (what Rich's measure gives, without
        building console options per cell); other rows are measured by DataTable."""
        others = []
        columns = self.ordered_columns
        for column in columns:  # measured as they are; narrowed again below
            column.content_width = self._natural.get(column.key, column.content_width)
        widths = [column.content_width for column in columns]
        for row_key in new_rows:
            row = self.rows.get(row_key)
            if row is None or row.label is not None or row.auto_height:
                others.append(row_key)
                continue
            data = self._data[row_key]
            lengths = []
            for column in columns:
                plain = _plain_line(data.get(column.key))
                if plain is None:
                    break
                lengths.append(cell_len(plain))
            else:
                widths = [max(a, b) for a, b in zip(widths, lengths, strict=True)]
                continue
            others.append(row_key)
        for column, width in zip(columns, widths, strict=True):
            column.content_width = width
        if others:
            super()._update_dimensions(others)
        self._natural = {column.key: column.content_width for column in columns}
        self._fit_columns()
        super()._update_dimensions(())  # the table's size, with the widths fitted

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> Any:
        if (
            row_index < self.fixed_rows
            or column_index < self.fixed_columns
            or width <= 2 * self.cell_padding
        ):
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        key = (
            row_key,
            column_key,
            base_style,
            cursor,
            hover,
            self._show_hover_cursor,
            self._update_count,
            self._pseudo_class_state,
        )
        cache = self._cell_render_cache
        if key in cache:
            return cache[key]
        row = self.rows.get(row_key) if row_key is not None else None
        cell = self._data.get(row_key, {}).get(column_key) if row is not None else None
        if row is None or row.height != 1 or _plain_line(cell) is None:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        component, post = self._get_styles_to_render_cell(
            False,
            False,
            False,
            hover,
            cursor,
            self.show_cursor,
            self._show_hover_cursor,
            self.cursor_foreground_priority == "css",
            self.cursor_background_priority == "css",
        )
        pre = base_style + Style.from_meta({"row": row_index, "column": column_index}) + component
        ellipsis = str(column_key.value) in self.narrowed if column_key is not None else False
        lines = text_cell_lines(
            self.app.console, cell, width, self.cell_padding, pre, post, ellipsis
        )
        cache[key] = lines
        return lines

    def move_cursor(
        self,
        *,
        row: int | None = None,
        column: int | None = None,
        animate: bool = False,
        scroll: bool = True,
    ) -> None:
        if row is not None:
            self.load_through(row)
        super().move_cursor(row=row, column=column, animate=animate, scroll=scroll)

    def watch_cursor_coordinate(self, old: Coordinate, new: Coordinate) -> None:
        super().watch_cursor_coordinate(old, new)
        if new.row >= self.loaded - AHEAD:
            self.load_through(self.loaded)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self.max_scroll_y and new_value >= self.max_scroll_y - AHEAD:
            self.load_through(self.loaded)


class InTurn:
    """Pieces of UI-thread work done one per screen refresh. Filling the Creators and the
    Grants table takes ~20-30 ms each at L; done back to back they made one stall, in which
    no key was answered and nothing drawn. `pending`: pieces not done yet (tests wait for
    none)."""

    def __init__(self, node: Any) -> None:
        self.node = node
        self.queue: deque[Callable[[], Any]] = deque()

    @property
    def pending(self) -> int:
        return len(self.queue)

    def add(self, *pieces: Callable[[], Any]) -> None:
        idle = not self.queue
        self.queue.extend(pieces)
        if idle and not self.node.call_after_refresh(self._next):
            self.queue.clear()  # the app is closing: nothing will be drawn

    async def _next(self) -> None:
        if not self.queue:
            return
        try:
            done = self.queue[0]()
            if inspect.isawaitable(done):  # a tab's widgets being mounted
                await done
        finally:
            self.queue.popleft()
            if self.queue and not self.node.call_after_refresh(self._next):
                self.queue.clear()
