"""The TUI's tabs as widgets: each loads through the service in a worker and owns its keys."""

from __future__ import annotations

from collections.abc import Iterable

from textual.widgets import DataTable


def add_columns(table: DataTable, columns: Iterable[tuple[str, str]]) -> None:
    """Columns by (key, header): the key stays stable while the header follows the language,
    so rows are updated by key whatever the user reads."""
    for key, header in columns:
        table.add_column(header, key=key)
