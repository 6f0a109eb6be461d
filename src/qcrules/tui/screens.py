"""Modal screens: every change is shown before it is made, and asks for a note or reason.

Each dialog has a key bar of its own at the bottom (`KeyBar` shows the screen's keys): the
bar of the tab underneath listed keys that do nothing while a dialog is open."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from qcrules.i18n import tr
from qcrules.tui.keys import bind
from qcrules.tui.widgets.keybar import KeyBar


class ConfirmChange(ModalScreen[str | None]):
    """Shows what a change will do; returns the note (or reason) typed, or None if cancelled.

    `required`: the text may not be empty (a dismissal or a hold needs its reason)."""

    DEFAULT_CSS = """
    ConfirmChange { align: center middle; }
    #dialog { width: 90; max-width: 100%; height: auto; max-height: 100%;
              border: thick $primary; padding: 1 2; background: $surface; }
    /* the note and the buttons keep their place at the bottom, in view at 80×24; the
       preview scrolls in what they and the title leave */
    #answer { dock: bottom; height: auto; }
    #preview-scroll { height: auto; max-height: 1fr; margin: 1 0; }
    #preview { height: auto; }
    #buttons { height: auto; align-horizontal: right; }
    #buttons Button { margin-left: 2; }
    """
    BINDINGS: ClassVar[list[Binding]] = [bind("escape", "cancel", "取消", "Cancel")]

    def __init__(self, title: str, preview: str, *, prompt: str, confirm: str, required: bool):
        super().__init__()
        self.title_text = title
        self.preview = preview
        self.prompt = prompt
        self.confirm = confirm
        self.required = required

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.title_text, id="title")
            with VerticalScroll(id="preview-scroll"):  # a bulk apply lists many changes
                yield Static(self.preview, id="preview", markup=False)
            with Vertical(id="answer"):
                yield Input(placeholder=self.prompt, id="note")
                yield Static("", id="problem")
                with Horizontal(id="buttons"):
                    yield Button(tr("取消", "Cancel"), id="cancel")
                    yield Button(self.confirm, id="confirm", variant="primary")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#note", Input).focus()

    @on(Button.Pressed, "#confirm")
    @on(Input.Submitted, "#note")
    def _confirm(self) -> None:
        text = self.query_one("#note", Input).value.strip()
        if self.required and not text:
            self.query_one("#problem", Static).update(tr("请写明原因", "Please give a reason"))
            return
        self.dismiss(text)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class HelpScreen(ModalScreen[None]):
    """Every key of the app, where it works, generated from the bindings themselves (so a
    remapped or added key is listed the moment it exists)."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    #help-dialog { width: 96; max-width: 100%; height: auto; max-height: 100%;
                   border: thick $primary; background: $surface; padding: 0 1; }
    #help-body { height: auto; max-height: 1fr; }
    """
    BINDINGS: ClassVar[list[Binding]] = [
        bind("escape,q,question_mark,f1", "close", "关闭", "Close"),
    ]

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        """`rows`: (keys, what it does, where it works), in the order to show."""
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        from rich.table import Table

        table = Table(box=None, pad_edge=False, expand=True, show_edge=False)
        table.add_column(tr("按键", "Key"), style="bold", no_wrap=True)
        table.add_column(tr("作用", "What it does"))
        table.add_column(tr("在哪里", "Where"), style="dim")
        for keys, what, where in self.rows:
            table.add_row(keys, what, where)
        with Vertical(id="help-dialog"):
            yield Static(
                tr(
                    "按键帮助（Esc 关闭；Ctrl+P 打开命令面板）",
                    "Keys (Esc closes; Ctrl+P: palette)",
                ),
                id="help-title",
            )
            with VerticalScroll(id="help-body"):
                yield Static(table, id="help-table")
        yield KeyBar()

    def action_close(self) -> None:
        self.dismiss(None)
