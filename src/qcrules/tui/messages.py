"""Messages between the TUI's tabs and the app: a tab (or a worker) says what happened, the
app updates every tab that shows it."""

from __future__ import annotations

from textual.message import Message


class Acted(Message):
    """Actions were applied, dismissed, held or undone: the queue's states now, the holds in
    force (None when they cannot have changed) and the toast that says what was done."""

    def __init__(self, states: dict[str, str], text: str, holds: dict | None = None) -> None:
        super().__init__()
        self.states = states
        self.text = text
        self.holds = holds
