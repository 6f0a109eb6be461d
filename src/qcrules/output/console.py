"""The one place a rich Console is made, so every printed table behaves the same."""

from __future__ import annotations

import os
import sys
from typing import IO

from rich.console import Console

# Wide enough that no id, nickname or path is ever cut; Rich tables keep their natural
# width, so nothing is padded to it.
PIPE_WIDTH = 10_000


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
    return Console(
        file=stream,
        width=width,
        highlight=False,
        no_color=bool(os.environ.get("NO_COLOR")) or None,
        soft_wrap=True,
    )
