"""Messages between the TUI's tabs and the app: a tab (or a worker) says what happened, the
app updates every tab that shows it."""

from __future__ import annotations

from typing import Any

from textual.message import Message


class Acted(Message):
    """Actions were applied, dismissed, held or undone: the queue's states now, the holds in
    force (None when they cannot have changed), the toast that says what was done, and the
    records it changed (`Change`s: a pool status, a grant's state — an undo's too), which
    the Creators and Grants tabs show at once."""

    def __init__(
        self,
        states: dict[str, str],
        text: str,
        holds: dict | None = None,
        changes: list[Any] | None = None,
    ) -> None:
        super().__init__()
        self.states = states
        self.text = text
        self.holds = holds
        self.changes = changes or []
