"""The TUI's tabs as widgets: each loads through the service in a worker and owns its keys."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from textual.widgets import DataTable, TabPane

if TYPE_CHECKING:
    from qcrules.tui.app import QcrulesApp


def add_columns(table: DataTable, columns: Iterable[tuple[str, str]]) -> None:
    """Columns by (key, header): the key stays stable while the header follows the language,
    so rows are updated by key whatever the user reads."""
    for key, header in columns:
        table.add_column(header, key=key)


class SaysWorkerErrors:
    """Mixed into a widget or screen that runs workers: their unexpected failures reach the
    app's `worker_failed` (Textual tells only the worker's own node), so none is silent."""

    def on_worker_state_changed(self, event: Any) -> None:
        event.stop()
        self.app.worker_failed(event)  # type: ignore[attr-defined]


class RunTab(SaysWorkerErrors, TabPane):
    """A tab of the app: it draws what the app holds of the last run (`qapp.report`, facts,
    queue states) and asks the app, by method or message, for what changes it."""

    @property
    def qapp(self) -> QcrulesApp:
        return cast("QcrulesApp", self.app)
