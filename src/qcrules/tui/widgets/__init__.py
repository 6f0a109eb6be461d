"""The TUI's tabs as widgets: each loads through the service in a worker and owns its keys."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, cast

from textual.widgets import DataTable, TabPane

if TYPE_CHECKING:
    from qcrules.tui.app import QcrulesApp


def add_columns(table: DataTable, columns: Iterable[tuple[str, str]]) -> None:
    """Columns by (key, header): the key stays stable while the header follows the language,
    so rows are updated by key whatever the user reads."""
    for key, header in columns:
        table.add_column(header, key=key)


class RunTab(TabPane):
    """A tab of the app: it draws what the app holds of the last run (`qapp.report`, facts,
    queue states) and asks the app, by method or message, for what changes it."""

    @property
    def qapp(self) -> QcrulesApp:
        return cast("QcrulesApp", self.app)
