"""The Creators tab (达人池): every creator of the run with its pool status, 7-day CTR and
ROI and findings; a filter that also finds 已排除 creators, and pool changes (+ - X) that
update the creator's row in place."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Input, Static

from qcrules import service
from qcrules.i18n import tr
from qcrules.tui.present import (
    LEVEL_STYLE,
    POOL_LABEL,
    POOL_STYLE,
    change_text,
    field_line,
    label,
    ratio_text,
    while_open,
    worst,
)
from qcrules.tui.screens import ConfirmChange
from qcrules.tui.widgets import RunTab, add_columns, split
from qcrules.tui.widgets.paged import PagedTable, entity_key

DETAIL_FIELDS = (
    "fans_count",
    "active_fan_ratio",
    "completion_rate",
    "audience_match",
    "category_match",
    "ctr_7d",
    "roi_7d",
    "rebate_rate",
    "has_cooperation_code",
)


def search_keys(facts: list[Any]) -> list[str]:
    """What the filter searches in each creator besides its pool status (which a pool change
    alters): id, nickname and merchant, casefolded. Made once per run, in the evaluation's
    worker: building them on every keystroke took 0.25 s of the UI thread at L (70k)."""
    return [
        f"{f.entity_id} {f.values.get('nickname') or ''} {f.merchant_id or ''}".casefold()
        for f in facts
    ]


class CreatorsTab(RunTab):
    def __init__(self, title: str, **kwargs: Any) -> None:
        super().__init__(title, **kwargs)
        self.shown: list[Any] = []  # the creator facts in the table, in its order

    def compose_content(self) -> ComposeResult:
        with Vertical():
            yield Input(
                placeholder=tr(
                    "筛选达人：昵称、UID、商家或池状态",
                    "Filter creators: nickname, id, merchant or pool status",
                ),
                id="creator-filter",
            )
            with Horizontal(classes=split(self.app.size.width)):
                yield PagedTable(id="creators-table", cursor_type="row", zebra_stripes=True)
                with VerticalScroll(id="creator-detail-scroll", classes="detail"):
                    yield Static(id="creator-detail")

    def content_mounted(self) -> None:
        table = self.query_one("#creators-table", PagedTable)
        add_columns(
            table,
            (
                ("creator", tr("达人UID", "Creator")),
                ("name", tr("昵称", "Nickname")),
                ("merchant", tr("商家", "Merchant")),
                ("pool", tr("池状态", "Pool")),
                ("fans", tr("粉丝数", "Fans")),
                ("ctr", tr("近7天点击率", "CTR 7d")),
                ("roi", tr("近7天ROI", "ROI 7d")),
                ("findings", tr("发现", "Findings")),
            ),
        )
        # the creator's id and pool status stay in view (80×24): a long nickname or
        # merchant gives way
        table.keep_in_view("pool", {"name": 8, "merchant": 6})

    def fill(self, from_top: bool = False) -> None:
        """`from_top`: a new filter starts at its first match; anything else (a new run, a
        change) keeps the cursor on the creator it was on."""
        needle = self.query_one("#creator-filter", Input).value.strip().casefold()
        facts = self.qapp.creator_facts
        if needle:
            keys = self.qapp.creator_keys
            if len(keys) != len(facts):  # never: the worker makes them with the facts
                keys = self.qapp.creator_keys = search_keys(facts)
            words: dict[Any, str] = {}  # a pool status -> " in_pool 在池", casefolded
            shown = []
            for fact, key in zip(facts, keys, strict=True):
                status = fact.values.get("pool_status")
                said = words.get(status)
                if said is None:  # 已排除 finds the excluded too
                    said = words[status] = f" {status or ''} {label(POOL_LABEL, status or '')}"
                    said = words[status] = said.casefold()
                if needle in key + said:
                    shown.append(fact)
        else:
            shown = list(facts)
        self.shown = shown
        self.query_one("#creators-table", PagedTable).show(
            shown, self.cells, key=None if from_top else entity_key
        )
        self.show_detail()

    def cells(self, fact: Any) -> list[Text]:
        v = fact.values
        status = v.get("pool_status") or "—"
        return [
            Text(fact.entity_id),
            Text(str(v.get("nickname") or "")),
            Text(str(fact.merchant_id or "")),
            Text(label(POOL_LABEL, status), style=POOL_STYLE.get(status, "")),
            Text(f"{v['fans_count']:,}" if v.get("fans_count") is not None else "—"),
            ratio_text(v.get("ctr_7d"), "{:.2%}"),
            ratio_text(v.get("roi_7d"), "{:.2f}"),
            worst(self.qapp.findings_of("creator", fact.entity_id, fact.merchant_id)),
        ]

    def selected(self) -> Any:
        row = self.query_one("#creators-table", DataTable).cursor_row
        return self.shown[row] if 0 <= row < len(self.shown) else None

    def show_detail(self) -> None:
        detail = self.query_one("#creator-detail", Static)
        fact = self.selected()
        if fact is None:
            detail.update(tr("没有符合条件的达人。", "No creators match."))
            return
        v = fact.values
        out = Text()
        out.append(f"{v.get('nickname') or ''}  {fact.entity_id}\n", style="bold")
        out.append(tr(f"商家 {fact.merchant_id}　池状态 ", f"merchant {fact.merchant_id} · pool "))
        status = v.get("pool_status") or "—"
        out.append(label(POOL_LABEL, status), style=POOL_STYLE.get(status, ""))
        out.append(
            tr("　（+ 加入 · - 移出 · X 排除）\n\n", "  (+ add · - remove · X exclude)\n\n"),
            style="dim",
        )
        for name in DETAIL_FIELDS:
            out.append(field_line(self.qapp.fields, "creator", name, v.get(name)))
        findings = self.qapp.findings_of("creator", fact.entity_id, fact.merchant_id)
        out.append(
            "\n" + tr(f"发现（{len(findings)}）\n", f"Findings ({len(findings)})\n"), style="bold"
        )
        for f in findings:
            out.append(f"  {f.rule} ", style=LEVEL_STYLE.get(f.level, ""))
            out.append(f"{f.message}\n    {tr('来源', 'source')}: {f.source}\n")
        if not findings:
            out.append(tr("  无：通过筛选\n", "  none: it passes screening\n"), style="green")
        detail.update(out)

    @on(DataTable.RowHighlighted, "#creators-table")
    @while_open
    def _highlighted(self) -> None:
        self.show_detail()

    @on(Input.Changed, "#creator-filter")
    @while_open
    def _filter_changed(self) -> None:
        self.fill(from_top=True)

    @on(Input.Submitted, "#creator-filter")
    def _filter_done(self) -> None:
        self.query_one("#creators-table", DataTable).focus()

    # -- the pool -----------------------------------------------------------------------

    def ask_pool(self, status: str) -> None:
        """+ - X: the selected creator into the pool, out of it, or excluded (with a reason),
        after a confirmation that says what changes."""
        fact = self.selected()
        if fact is None:
            return
        current = fact.values.get("pool_status")
        if current == status:
            self.notify(tr("已是该状态", "It already has that status"), severity="warning")
            return
        name = fact.values.get("nickname") or fact.entity_id
        screen = ConfirmChange(
            tr(
                f"把 {name} 设为「{label(POOL_LABEL, status)}」（商家 {fact.merchant_id}）？",
                f"Set {name} to “{label(POOL_LABEL, status)}” for {fact.merchant_id}?",
            ),
            tr(
                f"达人池 {fact.merchant_id}：{label(POOL_LABEL, current or '—')} → "
                f"{label(POOL_LABEL, status)}",
                f"pool of {fact.merchant_id}: {label(POOL_LABEL, current or '—')} → "
                f"{label(POOL_LABEL, status)}",
            ),
            prompt=tr("原因（必填）", "Reason (required)")
            if status == "excluded"
            else tr("备注（可选）", "Note (optional)"),
            confirm=tr("确定", "Confirm"),
            required=status == "excluded",
        )
        self.app.push_screen(
            screen, lambda note: note is not None and self._set_pool(fact, status, note or None)
        )

    @work(thread=True, exclusive=True, group="act", exit_on_error=False)
    def _set_pool(self, fact: Any, status: str, note: str | None) -> None:
        from qcrules.errors import QcrulesError

        try:
            outcome = service.set_pool_status(
                self.qapp.workspace, fact.merchant_id, fact.entity_id, status, note=note
            )
        except QcrulesError as exc:
            self.app.call_from_thread(self.notify, exc.message, severity="error")
            return
        self.app.call_from_thread(self._pool_changed, outcome)

    def records_changed(self, changes: list[Any]) -> None:
        """Pool statuses an applied action or an undo wrote: their rows change in place."""
        wanted = {
            (c.key.get("aweme_id"), c.key.get("merchant_id")): c.after["status"]
            for c in changes
            if c.table == "pool" and c.after and "status" in c.after
        }
        if not wanted:
            return
        table = self.query_one("#creators-table", PagedTable)
        rows = {id(fact): row for row, fact in enumerate(self.shown)}
        for fact in self.qapp.creator_facts:
            status = wanted.get((fact.entity_id, fact.merchant_id))
            if status is not None:
                fact.values["pool_status"] = status
                if id(fact) in rows:
                    table.update_item(rows[id(fact)], 3, self.cells(fact)[3])
        self.show_detail()

    def _pool_changed(self, outcome: Any) -> None:
        self.records_changed(outcome.changes)  # its row changes in place; the list stays
        self.notify(
            "; ".join(change_text(c) for c in outcome.changes)
            + tr("（按 r 重新评估）", " (r evaluates again)"),
            timeout=4,
        )
