"""The TUI's tabs as widgets: each loads through the service in a worker and owns its keys."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from textual.app import ComposeResult
from textual.widgets import DataTable, TabPane

if TYPE_CHECKING:
    from qcrules.tui.app import QcrulesApp


NARROW = 120  # under this many columns a tab's detail goes below its table


def narrow(width: int) -> str:
    """A tab's split's class at a terminal width (`split -narrow`: the detail below the
    table, so its key columns keep the whole width). A class of the split, not of the screen
    (Textual's breakpoints): a screen's class change restyles every widget, ~30 ms at each
    launch."""
    return "-narrow" if width < NARROW else ""


def split(width: int) -> str:
    """The classes of a tab's table-and-detail container, at a terminal width."""
    return f"split {narrow(width)}".strip()


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
    queue states) and asks the app, by method or message, for what changes it.

    A tab out of view at launch is `deferred`: its widgets are composed and mounted after
    the first screen (`mount_content`, one tab per refresh), which halves the launch; the
    app starts its workers, and replays keys typed meanwhile, once every tab is there."""

    DEFERRED = True  # the tab in view at launch (Findings) says False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deferred = self.DEFERRED

    def compose(self) -> ComposeResult:
        if not self.deferred:
            yield from self.compose_content()

    def compose_content(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        if not self.deferred:
            self.content_mounted()

    async def mount_content(self) -> None:
        if self.deferred and not self.app._exit:
            self.deferred = False
            await self.recompose()
            if self.is_attached and not self.app._exit:  # not closed meanwhile
                self.content_mounted()

    def content_mounted(self) -> None:
        """What needs the tab's widgets: columns, a first load."""

    NARROWS = ".split"  # what follows the terminal's width (`narrow`)

    def on_resize(self) -> None:
        for node in self.query(self.NARROWS):
            node.set_class(bool(narrow(self.app.size.width)), "-narrow")

    @property
    def qapp(self) -> QcrulesApp:
        return cast("QcrulesApp", self.app)
