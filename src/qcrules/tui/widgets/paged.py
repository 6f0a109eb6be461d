"""A DataTable that holds a long list and adds its rows a page at a time.

Textual measures every cell of every row a DataTable adds, on the UI thread (~0.3 ms a row
of eight cells): the 14,000 creators of an M workspace froze the app for seconds at each
load and each filter keystroke. A page costs tens of milliseconds; the next page is added
as the cursor or the scrollbar nears the end, and moving the cursor to any row of the list
adds the pages up to it, so every item stays reachable by key, mouse or code."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from textual.coordinate import Coordinate
from textual.widgets import DataTable

PAGE = 200  # rows added at once
AHEAD = 20  # add the next page when the cursor is this close to the last added row


class PagedTable(DataTable):
    """`show(items, cells)` replaces the list; rows are `cells(item)`, added as needed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.items: Sequence[Any] = ()
        self._cells: Callable[[Any], list[Any]] = lambda item: []
        self.loaded = 0  # how many of `items` are rows of the table

    def show(self, items: Sequence[Any], cells: Callable[[Any], list[Any]]) -> None:
        self.clear()
        self.items, self._cells, self.loaded = items, cells, 0
        self.load_through(PAGE - 1)

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
