"""What every command shares: the lazily opened workspace and the consoles."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from rich.console import Console
from rich.markup import escape

from qcrules.output.console import make_console
from qcrules.workspace import Workspace


@cache
def err_console() -> Console:
    return make_console(stderr=True)


def out_console(file=None) -> Console:
    return make_console(file)


def _warn(message: str) -> None:
    err_console().print(f"[yellow]warning:[/] {escape(message)}", highlight=False)


@dataclass
class CliState:
    config_file: str | None = None
    database_url: str | None = None
    _workspace: Workspace | None = field(default=None, repr=False)

    def workspace(self, *, require: bool = True) -> Workspace:
        if self._workspace is None:
            self._workspace = Workspace.discover(
                self.config_file, self.database_url, require=require
            )
            for warning in self._workspace.config.warnings:
                _warn(warning)
            self._workspace.on_warning = _warn
        return self._workspace

    def close(self) -> None:
        if self._workspace is not None:
            self._workspace.close()


def print_diagnostics(diagnostics, sources: dict[str, str] | None = None) -> None:
    """Pack diagnostics on stderr, each with its source line and a help line."""
    sources = sources or {}
    console = err_console()
    for diagnostic in diagnostics:
        text = sources.get(diagnostic.file or "")
        if text is None and diagnostic.file:
            try:
                with open(diagnostic.file, encoding="utf-8") as handle:
                    text = handle.read()
            except (OSError, UnicodeDecodeError):
                text = None
        color = "red" if diagnostic.severity == "error" else "yellow"
        rendered = diagnostic.render(text)
        head, _, rest = rendered.partition("\n")
        console.print(f"[bold {color}]{escape(head)}[/]", highlight=False, markup=True)
        if rest:
            console.print(rest, highlight=False, markup=False)
