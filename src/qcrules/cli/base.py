"""What every command shares: the lazily opened workspace and the consoles."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from qcrules.errors import UsageError
from qcrules.i18n import tr
from qcrules.output.console import make_console
from qcrules.safety import json_for_terminal
from qcrules.workspace import Workspace


@cache
def err_console() -> Console:
    return make_console(stderr=True)


def out_console(file=None) -> Console:
    return make_console(file)


def echo_json(data: Any, *, indent: int | None = 2) -> None:
    """JSON on stdout, the one way the commands print it: Chinese as such, dates as text, and
    no DEL, C1 or bidi control as raw characters (a nickname cannot drive the terminal)."""
    text = json.dumps(data, ensure_ascii=False, indent=indent, default=str)
    click.echo(json_for_terminal(text))


def _prefix(style: str, zh: str, en: str) -> str:
    """A message's prefix as markup: `error: ` in English, `错误：` in Chinese (its full-width
    colon is the space)."""
    return f"[{style}]{tr(zh, en)}[/]" + tr("", " ")


def error_prefix() -> str:
    return _prefix("bold red", "错误：", "error:")


def hint_prefix() -> str:
    return "  " + _prefix("dim", "提示：", "hint:")


def warning_prefix() -> str:
    return _prefix("yellow", "警告：", "warning:")


def note_prefix() -> str:
    return _prefix("dim", "说明：", "note:")


def print_error(message: str, hint: str | None = None) -> None:
    """An error on stderr as every command prints one: the message, then what to do."""
    console = err_console()
    console.print(error_prefix() + escape(message), highlight=False)
    if hint:
        console.print(hint_prefix() + escape(hint), highlight=False)


def _warn(message: str) -> None:
    err_console().print(warning_prefix() + escape(message), highlight=False)


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


def output_path(
    value: str | Path | None, option: str = "--output", *, folders_in: Path | None = None
) -> Path | None:
    """An output file checked before any work is done: its folder must exist, so a typo in
    the path is exit 2 with nothing computed, stored or written. `-` is standard output,
    as for most tools (None, as without the option).

    With `folders_in` (the workspace's folder, for a file qcrules itself suggests a path
    for, like an agreement in agreements/), missing folders inside it are fine when they can
    be made: what is in the way (a file) or a folder that cannot be written is exit 2 at
    once; `atomic_output(path, make_folders=True)` makes them when it writes."""
    if value is None or str(value) == "-":
        return None
    path = Path(value)
    folder = path.parent
    if folder.is_dir():
        return path
    inside = folders_in is not None and folder.resolve().is_relative_to(folders_in.resolve())
    if not inside:
        raise UsageError(
            tr(
                f"{option} {path}：文件夹 {folder} 不存在；未写入任何内容",
                f"{option} {path}: the folder {folder} does not exist; nothing was written",
            ),
            hint=tr("先创建该文件夹，或换一个路径", "create the folder first, or write elsewhere")
            + (
                tr(
                    f"（工作区 {folders_in} 之内缺少的文件夹会自动创建）",
                    f" (missing folders inside the workspace {folders_in} are made)",
                )
                if folders_in is not None
                else ""
            ),
        )
    existing = folder
    while not existing.exists() and not existing.is_symlink() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(
            tr(
                f"{option} {path}：无法创建文件夹 {folder}，{existing} 不是文件夹；未写入任何内容",
                f"{option} {path}: cannot make the folder {folder}, as {existing} is not a "
                "folder; nothing was written",
            ),
            hint=tr("换一个路径，或移开挡路的文件", "write elsewhere, or move that file away"),
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(
            tr(
                f"{option} {path}：无法在 {existing} 中创建文件夹（没有写权限）；未写入任何内容",
                f"{option} {path}: cannot make a folder in {existing} (not writable); "
                "nothing was written",
            ),
            hint=tr("换一个可写的路径", "write somewhere you can write to"),
        )
    return path


@contextmanager
def atomic_output(path: Path, *, make_folders: bool = False) -> Iterator[Path]:
    """Write to `path` through a `.partial` file renamed at the end: never half a file, and a
    failure (disk full, no permission) is exit 2 with nothing left behind. `make_folders`
    makes the folders `path` lacks first (and takes them away again if the write fails)."""
    partial = path.with_name(path.name + ".partial")
    made: list[Path] = []
    try:
        if make_folders:
            missing = path.parent
            while not missing.exists() and missing != missing.parent:
                made.append(missing)
                missing = missing.parent
            path.parent.mkdir(parents=True, exist_ok=True)
        yield partial
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        _remove_empty(made)
        raise UsageError(
            tr(
                f"写不了 {path}：{exc.strerror or exc}",
                f"cannot write {path}: {exc.strerror or exc}",
            ),
            hint=tr("检查目录是否存在、是否可写", "check that the folder exists and is writable"),
        ) from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        _remove_empty(made)
        raise


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:  # deepest first
        try:
            folder.rmdir()
        except OSError:
            return
