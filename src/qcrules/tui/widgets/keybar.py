"""The key bar at the bottom: the keys of the tab in view, as one line of text. Each dialog
has one of its own, which shows the dialog's keys only (a modal screen's bindings stop at
it), over the bar of the tab underneath.

Textual's `Footer` rebuilds a widget per key on every focus change (about twenty, each
styled afresh); on a slow machine that was a third of the stall when `/` moved the focus to a
filter. This bar redraws one `Text` instead, and a click on a key presses it, as on the
footer."""

from __future__ import annotations

from typing import Any

from rich.style import Style
from rich.text import Text
from textual import events
from textual.widgets import Static

from qcrules.i18n import tr


class KeyBar(Static):
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        background: $footer-background;
        color: $footer-description-foreground;
    }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("", **kwargs)
        self.spans: list[tuple[int, int, str]] = []  # (from column, to column, key)

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Any) -> None:
        if self.is_attached and screen is self.screen:
            self.draw()

    def draw(self) -> None:
        """One line: each shown binding of the focused chain, once per action; a binding
        the tab in view cannot use now is dimmed, as the footer does."""
        key_style = Style(bold=True, color=self.app.theme_variables.get("footer-key-foreground"))
        line = Text(no_wrap=True, overflow="ellipsis")
        spans, seen = [], set()
        active = self.screen.active_bindings
        palette = active.get(self.app.COMMAND_PALETTE_BINDING)
        for _node, binding, enabled, _tooltip in active.values():
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            start = line.cell_len
            style = key_style if enabled else key_style + Style(dim=True)
            line.append(f" {self.app.get_key_display(binding)} ", style=style)
            line.append(f"{binding.description} ", style="" if enabled else "dim")
            spans.append((start, line.cell_len, binding.key.split(",")[0]))
        if palette is not None and self.app.ENABLE_COMMAND_PALETTE:  # at the right, as before
            binding = palette[1]
            said = tr("命令", binding.description)  # Textual's own binding says "palette"
            right = Text.assemble((f" {self.app.get_key_display(binding)} ", key_style), f"{said} ")
            room = self.size.width - right.cell_len
            line.truncate(max(0, room), overflow="ellipsis", pad=True)
            spans.append((room, room + right.cell_len, binding.key))
            line.append_text(right)
        self.spans = spans
        self.update(line)

    def on_resize(self) -> None:
        self.draw()

    def on_click(self, event: events.Click) -> None:
        for start, end, key in self.spans:
            if start <= event.x < end:
                self.app.simulate_key(key)
                return
