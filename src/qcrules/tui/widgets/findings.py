"""The Findings tab: the run's findings, filtered by text and level, sortable by any column,
with the selected finding's evidence, source, state and (on `e`) its explanation."""

from __future__ import annotations

from datetime import date
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Input, Static

from qcrules import service
from qcrules.findings import Finding
from qcrules.i18n import tr
from qcrules.safety import for_terminal
from qcrules.tui.present import (
    ENTITY_LABEL,
    LEVEL_LABEL,
    LEVEL_STYLE,
    LEVELS,
    STATE_LABEL,
    STATE_MARK,
    Columns,
    action_kind,
    action_params,
    action_text,
    field_line,
    label,
    while_open,
)
from qcrules.tui.widgets import RunTab, add_columns, split
from qcrules.tui.widgets.paged import PagedTable


def search_keys(findings: list[Finding], kinds: dict[str, Any]) -> list[str]:
    """What the filter searches in each finding (rule, pack, entity, names, message, action),
    casefolded: made once per run, in a worker, not for every finding on every keystroke."""
    out = []
    for finding in findings:
        entity = finding.subject
        parts = (
            finding.rule,
            finding.name,
            finding.pack,
            entity.id,
            entity.name,
            entity.merchant,
            entity.creator,
            finding.message,
            action_kind(finding),
            action_text(kinds, finding),
        )
        out.append(" ".join(str(part or "") for part in parts).casefold())
    return out


class FindingsTab(RunTab):
    DEFERRED = False  # in view at launch

    def __init__(self, title: str, **kwargs: Any) -> None:
        super().__init__(title, **kwargs)
        self.shown: list[Finding] = []  # the findings in the table, in its order
        self.level_filter: str | None = None
        self.sort_key: str | None = None
        self.sort_reverse = False
        self.columns = Columns()
        self.explanation: str | None = None

    def compose_content(self) -> ComposeResult:
        with Vertical():
            with Horizontal(id="filters"):
                yield Input(
                    placeholder=tr(
                        "筛选：规则、达人、授权、商家或文字（/）",
                        "Filter: rule, creator, grant, merchant or text (/)",
                    ),
                    id="filter",
                )
                yield Static(id="level-filter")
            with Horizontal(id="findings-split", classes=split(self.app.size.width)):
                yield PagedTable(id="findings-table", cursor_type="row", zebra_stripes=True)
                with VerticalScroll(id="detail-scroll", classes="detail"):
                    yield Static(id="detail")

    def content_mounted(self) -> None:
        table = self.query_one("#findings-table", PagedTable)
        add_columns(table, zip(self.columns.keys, self.columns.headers(), strict=True))
        table.keep_in_view("action", {"action": 12})
        self.show_level_filter()

    # -- the table ----------------------------------------------------------------------

    def fill(self, from_top: bool = False) -> None:
        """`from_top`: a new filter starts at its first match; anything else (a new run, a
        sort) keeps the cursor on the finding it was on."""
        table = self.query_one("#findings-table", PagedTable)
        report = self.qapp.report
        if report is None:
            table.show([], self.cells)
            return
        needle = self.query_one("#filter", Input).value.strip().casefold()
        level = self.level_filter
        findings = report.findings
        if needle:
            keys = self.qapp.finding_keys
            if len(keys) != len(findings):  # never: the worker makes them with the report
                keys = self.qapp.finding_keys = search_keys(findings, self.qapp.kinds)
            pairs = zip(findings, keys, strict=True)
            self.shown = [
                f for f, key in pairs if needle in key and (not level or f.level == level)
            ]
        else:
            self.shown = [f for f in findings if not level or f.level == level]
        if self.sort_key is not None:
            self.shown.sort(key=lambda f: self.cell_text(f, self.sort_key))
        if self.sort_reverse:
            self.shown.reverse()
        table.show(self.shown, self.cells, key=None if from_top else (lambda f: f.fingerprint))
        self.explanation = None
        self.show_detail()

    def cell_text(self, finding: Finding, key: str | None) -> Any:
        """What a column is sorted by: only that cell's text (a sort of L's 6k findings
        made every row's cells, ~1 s of the UI thread)."""
        if key == "level":
            return LEVELS.index(finding.level) if finding.level in LEVELS else len(LEVELS)
        return self._texts(finding, key or "rule")

    def _texts(self, finding: Finding, key: str) -> str:
        entity = finding.subject
        if key == "rule":
            return finding.rule
        if key == "entity":
            return f"{label(ENTITY_LABEL, entity.type)} {entity.id}"
        if key == "name":
            return entity.name or ""
        if key == "merchant":
            return entity.merchant or ""
        if key == "action":
            action = action_text(self.qapp.kinds, finding)
            if finding.superseded_by:
                action += tr("（被取代）", " (superseded)")
            state = self.qapp.states.get(finding.fingerprint, "open")
            return f"{STATE_MARK[state]} {action}" if state in STATE_MARK else action
        if key == "message":
            return finding.message
        return label(LEVEL_LABEL, finding.level)

    def cells(self, finding: Finding) -> list[Text]:
        style = LEVEL_STYLE.get(finding.level, "")
        return [
            Text(self._texts(finding, key), style=style if key == "level" else "")
            for key in self.columns.keys
        ]

    def update_rows(self, fingerprints: set[str]) -> None:
        """Only the rows of these findings are drawn again (their state changed)."""
        table = self.query_one("#findings-table", PagedTable)
        for row, finding in enumerate(self.shown):
            if finding.fingerprint in fingerprints:
                for column, cell in enumerate(self.cells(finding)):
                    table.update_item(row, column, cell)
        self.show_detail()

    def selected(self) -> Finding | None:
        table = self.query_one("#findings-table", DataTable)
        if not self.shown or table.cursor_row < 0 or table.cursor_row >= len(self.shown):
            return None
        return self.shown[table.cursor_row]

    # -- the detail pane ----------------------------------------------------------------

    def show_detail(self) -> None:
        app = self.qapp
        detail = self.query_one("#detail", Static)
        finding = self.selected()
        if finding is None:
            detail.update(
                tr("没有符合条件的发现。", "No findings match.") if app.report is not None else ""
            )
            return
        entity = finding.subject
        out = Text()
        out.append(f"{finding.rule} {finding.name}\n", style="bold")
        out.append(label(LEVEL_LABEL, finding.level), style=LEVEL_STYLE.get(finding.level, ""))
        out.append(f" · {finding.pack}\n\n")
        out.append(f"{label(ENTITY_LABEL, entity.type)} {entity.id}")
        if entity.name:
            out.append(f"  {entity.name}")
        if entity.merchant:
            out.append(tr(f"  商家 {entity.merchant}", f"  merchant {entity.merchant}"))
        if entity.creator and entity.type == "grant":
            out.append(tr(f"  达人 {entity.creator}", f"  creator {entity.creator}"))
        out.append("\n\n" + finding.message + "\n\n")
        out.append(tr("依据（evidence）\n", "Evidence\n"), style="bold")
        for name, value in finding.evidence.items():
            out.append(field_line(app.fields, entity.type, name, value))
        out.append("\n" + tr("建议动作：", "Suggested action: "), style="bold")
        out.append(action_text(app.kinds, finding))
        if finding.hold:
            hold = finding.hold
            until = hold.get("until") or tr("解除为止", "released")
            out.append(
                tr(f"\n  暂停到 {until}：", f"\n  held until {until}: ") + str(hold.get("reason")),
                style="yellow",
            )
        if finding.action is not None and finding.action.params:
            words = action_params(finding.action.params)
            out.append(tr(f"（{words}）", f" ({words})"))
        if finding.superseded_by:
            out.append(
                tr(
                    f"\n  被 {finding.superseded_by} 的动作取代",
                    f"\n  superseded by {finding.superseded_by}",
                ),
                style="dim",
            )
        if app.store:
            state = app.states.get(finding.fingerprint, "open")
            out.append("\n" + tr("状态：", "State: "), style="bold")
            out.append(label(STATE_LABEL, state))
            if state == "open":
                out.append(
                    tr("  （a 执行 · x 忽略 · h 暂停）", "  (a apply · x dismiss · h hold)"),
                    style="dim",
                )
        out.append("\n" + tr("来源：", "Source: "), style="bold")
        out.append(f"{finding.source}\n")
        out.append(f"fingerprint {finding.fingerprint}\n", style="dim")
        if self.explanation:
            out.append("\n" + self.explanation + "\n")
        else:
            out.append(
                tr("\n按 e 查看规则为何触发", "\nPress e to see why the rule fired"), style="dim"
            )
        detail.update(out)

    @on(DataTable.RowHighlighted, "#findings-table")
    @while_open
    def _row_highlighted(self) -> None:
        self.explanation = None
        self.show_detail()

    # -- sorting and filtering ----------------------------------------------------------

    @on(DataTable.HeaderSelected, "#findings-table")
    def _sort_by(self, event: DataTable.HeaderSelected) -> None:
        """A click on a header sorts by it; a second click on it reverses the order."""
        key = str(event.column_key.value)
        self.sort_reverse = not self.sort_reverse if key == self.sort_key else False
        self.sort_key = key
        self.show_level_filter()
        self.fill()

    def sort_next(self) -> None:
        """S: sort by the next column (the run's own order, most severe first, after the
        last one)."""
        order = [None, *self.columns.keys]
        self.sort_key = order[(order.index(self.sort_key) + 1) % len(order)]
        self.sort_reverse = False
        self.show_level_filter()
        self.fill()

    def reverse(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self.show_level_filter()
        self.fill()

    @on(Input.Changed, "#filter")
    @while_open
    def _filter_changed(self) -> None:
        self.fill(from_top=True)

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.query_one("#findings-table", DataTable).focus()

    def show_level_filter(self) -> None:
        shown = label(LEVEL_LABEL, self.level_filter) if self.level_filter else tr("全部", "all")
        text = tr(f"级别：{shown}（l）", f"Level: {shown} (l)")
        if self.sort_key is not None or self.sort_reverse:
            names = dict(zip(self.columns.keys, self.columns.headers(), strict=True))
            column = names.get(self.sort_key or "", tr("默认", "default"))
            text += "\n" + tr("排序：", "Sort: ") + column + (" ▼" if self.sort_reverse else " ▲")
        self.query_one("#level-filter", Static).update(text)

    def cycle_level(self) -> None:
        order = [None, *LEVELS]
        self.level_filter = order[(order.index(self.level_filter) + 1) % len(order)]
        self.show_level_filter()
        self.fill(from_top=True)

    def clear_level(self) -> None:
        self.level_filter = None
        self.show_level_filter()

    # -- explain ------------------------------------------------------------------------

    def explain(self) -> None:
        finding = self.selected()
        report = self.qapp.report
        if finding is None or report is None:
            self.notify(tr("先选中一条发现", "Select a finding first"), severity="warning")
            return
        self.explanation = tr("正在解释…", "Explaining…")
        self.show_detail()
        self._explain(finding, report.run.as_of)

    @work(thread=True, exclusive=True, group="explain", exit_on_error=False)
    def _explain(self, finding: Finding, as_of: date) -> None:
        from qcrules.docs import explanation_text
        from qcrules.errors import QcrulesError

        entity = finding.subject
        try:
            explanations = service.explain(
                self.qapp.workspace,
                finding.rule,
                entity.id,
                merchant=entity.merchant,
                as_of=as_of,
            )
            text = "\n\n".join(explanation_text(e) for e in explanations)
        except QcrulesError as exc:
            text = str(exc)
        self.app.call_from_thread(self._show_explanation, finding, for_terminal(text))

    def _show_explanation(self, finding: Finding, text: str) -> None:
        if self.selected() is finding:
            self.explanation = text
            self.show_detail()
