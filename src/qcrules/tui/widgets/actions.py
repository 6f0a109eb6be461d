"""The Actions tab: the queue of suggested actions (open, applied, dismissed, held), with a
filter and a bulk apply of the filtered open set after one confirmation listing every change.

Single actions (apply, dismiss, hold) go through the app's own keys and dialogs: the pane
only says which item is selected, so one code path serves the Findings and Actions tabs."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Input, Static

from qcrules import service
from qcrules.i18n import tr
from qcrules.safety import for_terminal, safe_data
from qcrules.tui.keys import bind
from qcrules.tui.messages import Acted
from qcrules.tui.present import ENTITY_LABEL, LEVEL_LABEL, change_text
from qcrules.tui.screens import ConfirmChange
from qcrules.tui.widgets import RunTab, SaysWorkerErrors, add_columns, split
from qcrules.tui.widgets.paged import PagedTable

STATES = ("open", "applied", "dismissed", "held", "superseded", None)  # None: every state
STATE_LABEL = {
    "open": ("待处理", "open"),
    "applied": ("已执行", "applied"),
    "dismissed": ("已忽略", "dismissed"),
    "held": ("暂停中", "on hold"),
    "superseded": ("被取代", "superseded"),
    None: ("全部", "all"),
}
STATE_STYLE = {"open": "bold", "applied": "green", "dismissed": "dim", "held": "yellow"}
LEVEL_STYLE = {"critical": "bold white on red", "error": "bold red", "warn": "yellow"}
PREVIEW_LIMIT = 400  # changes listed one by one in the confirmation; the rest are counted


def _shown(item: Any) -> Any:
    """A queue item as the tab shows it: no control sequence from the data."""
    return replace(
        item,
        name=for_terminal(item.name, one_line=True),
        message=for_terminal(item.message, one_line=True),
        evidence=safe_data(item.evidence),
    )


def _label(table: dict, key: Any) -> str:
    zh, en = table.get(key, (str(key), str(key)))
    return tr(zh, en)


class ActionsTab(RunTab):
    """The Actions tab: the queue's pane, mounted after the first screen like the others."""

    def compose_content(self) -> ComposeResult:
        yield ActionsPane(id="actions-pane")


class ActionsPane(SaysWorkerErrors, Vertical):
    """The action queue of the last stored run."""

    DEFAULT_CSS = """
    ActionsPane #actions-filters { height: 3; }
    ActionsPane #actions-filter { width: 1fr; }
    ActionsPane #actions-state { width: 28; height: 3; content-align: center middle; }
    """
    BINDINGS: ClassVar[list[Binding]] = [
        bind("s", "cycle_state", "状态", "State", id="actions-state"),
        bind("B", "bulk_apply", "批量执行所筛选的", "Apply all shown", id="bulk-apply"),
        bind("slash", "focus_filter", "筛选", "Filter", show=False),
        bind("escape", "clear_filter", "清除筛选", "Clear filter", show=False),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.items: list[Any] = []  # the whole queue, as the last load found it
        self.shown: list[Any] = []  # the items in the table, in its order
        self.state: str | None = "open"
        self.problem: str | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="actions-filters"):
            yield Input(
                placeholder=tr(
                    "筛选：规则、动作、达人、授权、商家（/）",
                    "Filter actions: rule, kind, creator, grant, merchant or text (/)",
                ),
                id="actions-filter",
            )
            yield Static(id="actions-state")
        with Horizontal(classes=split(self.app.size.width)):
            yield PagedTable(id="actions-table", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="action-detail-scroll", classes="detail"):
                yield Static(id="action-detail")

    def on_mount(self) -> None:
        table = self.query_one("#actions-table", PagedTable)
        # the key columns first (the Findings tab's, after the state); the id, which the
        # detail also shows, after them: at 80×24 the state, rule, entity and action stay
        # in view, the action's words cut with "…" if they must
        add_columns(
            table,
            (
                ("state", tr("状态", "State")),
                ("level", tr("级别", "Level")),
                ("rule", tr("规则", "Rule")),
                ("entity", tr("对象", "Entity")),
                ("action", tr("建议动作", "Action")),
                ("id", tr("编号", "Id")),
                ("merchant", tr("商家", "Merchant")),
                ("message", tr("说明", "Message")),
            ),
        )
        table.keep_in_view("action", {"action": 10})
        self._show_state()

    # -- loading ------------------------------------------------------------------------

    def reload(self) -> None:
        """Read the queue again (after an evaluation or any change), keeping the cursor."""
        if not getattr(self.app, "store", True):
            self.problem = tr(
                "以 --no-store 打开：没有保存的评估结果，也就没有动作队列",
                "opened with --no-store: no stored run, so no action queue",
            )
            self._fill()
            return
        self._load()

    @work(thread=True, exclusive=True, group="actions-queue", exit_on_error=False)
    def _load(self) -> None:
        from qcrules.errors import QcrulesError

        workspace = self.app.workspace  # type: ignore[attr-defined]
        try:
            items, problem = [_shown(item) for item in service.action_queue(workspace)], None
        except QcrulesError as exc:
            items, problem = [], for_terminal(exc.message)
        # in its turn: it often arrives with the run's other tables (~20 ms at L)
        in_turn = self.app.in_turn  # type: ignore[attr-defined]
        self.app.call_from_thread(in_turn.add, partial(self._loaded, items, problem))

    def _loaded(self, items: list[Any], problem: str | None) -> None:
        self.items = items
        self.problem = problem
        self._fill()

    # -- the table ----------------------------------------------------------------------

    def _kind_label(self, kind: str) -> str:
        known = getattr(self.app, "kinds", {}).get(kind)
        return tr(known.zh, known.en) if known is not None else kind

    def _matches(self, item: Any, needle: str) -> bool:
        if self.state is not None and item.state != self.state:
            return False
        # the level and entity words the table shows (严重, 授权 in zh) find the item too
        shown = (_label(LEVEL_LABEL, item.level), _label(ENTITY_LABEL, item.entity_type))
        return item.matches(needle, self._kind_label(item.kind), *shown)

    def _fill(self) -> None:
        table = self.query_one("#actions-table", PagedTable)
        row = table.cursor_row
        needle = self.query_one("#actions-filter", Input).value.strip()
        self.shown = [item for item in self.items if self._matches(item, needle)]
        kept = table.show(self.shown, self._cells, key=lambda item: item.fingerprint)
        if not kept and 0 < row < len(self.shown):  # the item left the list: the next one
            table.move_cursor(row=row)
        self._show_state()
        self._show_detail()

    def _cells(self, item: Any) -> list[Text]:
        return [
            Text(_label(STATE_LABEL, item.state), style=STATE_STYLE.get(item.state, "")),
            Text(_label(LEVEL_LABEL, item.level), style=LEVEL_STYLE.get(item.level, "")),
            Text(item.rule),
            Text(f"{_label(ENTITY_LABEL, item.entity_type)} {item.entity_id}"),
            Text(self._kind_label(item.kind)),
            Text(item.ref),
            Text(item.merchant_id or ""),
            Text(item.message),
        ]

    def _show_state(self) -> None:
        counts: dict[str | None, int] = {}
        for item in self.items:
            counts[item.state] = counts.get(item.state, 0) + 1
        shown = len(self.shown)
        self.query_one("#actions-state", Static).update(
            tr(
                f"状态：{_label(STATE_LABEL, self.state)}（s）· {shown} 条",
                f"state: {_label(STATE_LABEL, self.state)} (s) · {shown} shown",
            )
        )

    def selected(self) -> Any | None:
        table = self.query_one("#actions-table", DataTable)
        if not self.shown or not 0 <= table.cursor_row < len(self.shown):
            return None
        return self.shown[table.cursor_row]

    def _show_detail(self) -> None:
        detail = self.query_one("#action-detail", Static)
        if self.problem:
            detail.update(Text(self.problem, style="yellow"))
            return
        item = self.selected()
        if item is None:
            detail.update(
                tr(
                    "没有符合条件的动作。s 切换状态，/ 筛选。",
                    "No action matches. s changes the state, / filters.",
                )
            )
            return
        lines = Text()
        lines.append(f"{item.rule} {item.name}\n", style="bold")
        lines.append(f"{_label(STATE_LABEL, item.state)} · {_label(LEVEL_LABEL, item.level)}")
        lines.append(tr(f" · 编号 {item.ref}\n\n", f" · id {item.ref}\n\n"), style="dim")
        lines.append(tr("建议动作：", "Action: "), style="bold")
        lines.append(f"{self._kind_label(item.kind)} ({item.kind})\n")
        lines.append(tr("对象：", "Entity: "), style="bold")
        lines.append(f"{_label(ENTITY_LABEL, item.entity_type)} {item.entity_id}")
        if item.merchant_id:
            lines.append(f" @{item.merchant_id}")
        lines.append("\n\n" + item.message + "\n\n")
        for key, value in (item.evidence or {}).items():
            lines.append(f"  {key} = {value}\n", style="dim")
        if item.source:
            lines.append("\n" + tr("出处：", "Source: ") + item.source + "\n", style="dim")
        lines.append(
            "\n"
            + tr(
                "a 执行 · x 忽略 · h 暂停 · u 撤销 · B 批量执行所筛选的待处理动作",
                "a apply · x dismiss · h hold · u undo · B apply every open action shown",
            ),
            style="italic",
        )
        detail.update(lines)

    @on(DataTable.RowHighlighted, "#actions-table")
    def _highlighted(self) -> None:
        self._show_detail()

    @on(Input.Changed, "#actions-filter")
    def _filter_changed(self) -> None:
        self._fill()

    @on(Input.Submitted, "#actions-filter")
    def _filter_done(self) -> None:
        self.query_one("#actions-table", DataTable).focus()

    def action_focus_filter(self) -> None:
        self.query_one("#actions-filter", Input).focus()

    def action_clear_filter(self) -> None:
        self.query_one("#actions-filter", Input).value = ""
        self.query_one("#actions-table", DataTable).focus()

    def action_cycle_state(self) -> None:
        self.state = STATES[(STATES.index(self.state) + 1) % len(STATES)]
        self._fill()

    # -- bulk apply ---------------------------------------------------------------------

    def open_shown(self) -> list[Any]:
        return [item for item in self.shown if item.state == "open"]

    def action_bulk_apply(self) -> None:
        chosen = self.open_shown()
        if not chosen:
            self.app.notify(
                tr("筛选结果里没有待处理的动作", "No open action among those shown"),
                severity="warning",
            )
            return
        self._preview_bulk([item.fingerprint for item in chosen])

    @work(thread=True, exclusive=True, group="act", exit_on_error=False)
    def _preview_bulk(self, refs: list[str]) -> None:
        from qcrules.errors import QcrulesError

        workspace = self.app.workspace  # type: ignore[attr-defined]
        try:
            outcomes = service.apply_actions(workspace, refs, dry_run=True)
        except QcrulesError as exc:
            self.app.call_from_thread(self.app.notify, exc.message, severity="warning")
            return
        lines: list[str] = []
        for outcome in outcomes:
            who = f"{_label(ENTITY_LABEL, outcome.entity_type)} {outcome.entity_id}"
            if outcome.merchant_id:
                who += f" @{outcome.merchant_id}"
            lines.append(f"• {self._kind_label(outcome.kind)} — {who}")
            changes = [change_text(change) for change in outcome.changes] or [
                tr("不改动数据：记录为已完成", "no record changes: recorded as done")
            ]
            lines += [f"    {change}" for change in changes]
        if len(lines) > PREVIEW_LIMIT:
            hidden = len(lines) - PREVIEW_LIMIT
            lines = [*lines[:PREVIEW_LIMIT], tr(f"……另有 {hidden} 行", f"… {hidden} more lines")]
        screen = ConfirmChange(
            tr(
                f"批量执行 {len(outcomes)} 个动作？（全部成功或全部不做）",
                f"Apply {len(outcomes)} actions? (all or nothing)",
            ),
            "\n".join(lines),
            prompt=tr("备注（可选，记入每条审计）", "Note (optional, kept with each audit entry)"),
            confirm=tr(f"执行 {len(outcomes)} 个", f"Apply {len(outcomes)}"),
            required=False,
        )

        def done(note: str | None) -> None:
            if note is not None:
                self._apply_bulk(refs, note or None)

        self.app.call_from_thread(self.app.push_screen, screen, done)

    @work(thread=True, exclusive=True, group="act", exit_on_error=False)
    def _apply_bulk(self, refs: list[str], note: str | None) -> None:
        from qcrules.errors import QcrulesError

        app: Any = self.app
        try:
            outcomes = service.apply_actions(app.workspace, refs, note=note)
            states = {item.fingerprint: item.state for item in service.action_queue(app.workspace)}
        except QcrulesError as exc:
            app.call_from_thread(app.notify, exc.message, severity="error")
            return
        message = tr(f"已执行 {len(outcomes)} 个动作", f"Applied {len(outcomes)} actions")
        changes = [change for outcome in outcomes for change in outcome.changes]
        self.post_message(Acted(states, message, changes=changes))  # the app redraws every tab
