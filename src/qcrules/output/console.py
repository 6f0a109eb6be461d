"""The one place a rich Console is made, so every printed table behaves the same."""

from __future__ import annotations

import os
import sys
from typing import IO

from rich.console import Console
from rich.segment import Segment

from qcrules.safety import for_terminal

# Wide enough that no id, nickname or path is ever cut; Rich tables keep their natural
# width, so nothing is padded to it.
PIPE_WIDTH = 10_000


class SafeConsole(Console):
    """A rich Console that shows no control sequence from data: every text segment goes
    through `safety.for_terminal` (rich's own styling and cursor controls are kept). So a
    nickname holding ESC or BEL can neither recolour, retitle nor clear the terminal,
    whatever command prints it."""

    def _render_buffer(self, buffer):  # rich's single point where segments become output
        safe = (
            segment
            if segment.control or not segment.text
            else Segment(for_terminal(segment.text), segment.style, segment.control)
            for segment in buffer
        )
        return super()._render_buffer(safe)


def make_console(file: IO[str] | None = None, *, stderr: bool = False) -> Console:
    """A console that fits a terminal, and never truncates when it writes to a pipe or file.

    Truncating a table to 80 columns is right for a person and wrong for `| grep`: `qcrules
    packs list | grep my-pack` must find a long id. COLUMNS still wins when it is set."""
    stream = file if file is not None else (sys.stderr if stderr else sys.stdout)
    try:
        is_terminal = stream.isatty()
    except (AttributeError, ValueError):
        is_terminal = False
    width = None if is_terminal or os.environ.get("COLUMNS") else PIPE_WIDTH
    return SafeConsole(
        file=stream,
        width=width,
        highlight=False,
        no_color=bool(os.environ.get("NO_COLOR")) or None,
        soft_wrap=True,
    )
