"""The Grants tab (授权): every grant with its state, days left and findings, and the 执行
step — request (n), renew (w), mark approved/active/revoked… (s) — through the same audited
service calls as the CLI; a hold (h) shows in the status column at once."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Static

from qcrules import service
from qcrules.i18n import tr
from qcrules.service import AUTH_LABEL, CHANNEL_LABEL, SCOPE_LABEL, STATUS_LABEL, zh_word
from qcrules.tui.present import (
    LEVEL_STYLE,
    STATE_MARK,
    change_text,
    field_line,
    label,
    while_open,
    worst,
)
from qcrules.tui.widgets import RunTab, add_columns, split
from qcrules.tui.widgets.paged import PagedTable, entity_key

DETAIL_FIELDS = (
    "status",
    "auth_type",
    "scope",
    "channel",
    "video_id",
    "starts_at",
    "ends_at",
    "days_to_expiry",
    "has_agreement",
    "has_cooperation_code",
    "revoke_requested",
)
STATUS_COLUMN = 3
CHANGED_FIELDS = ("status", "has_agreement")  # what a change shows at once, before evaluating


class GrantsTab(RunTab):
    def compose_content(self) -> ComposeResult:
        with Horizontal(classes=split(self.app.size.width)):
            yield PagedTable(id="grant-state-table", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="grant-state-scroll", classes="detail"):
                yield Static(id="grant-state-detail")

    def content_mounted(self) -> None:
        table = self.query_one("#grant-state-table", PagedTable)
        add_columns(
            table,
            (
                ("grant", tr("授权ID", "Grant")),
                ("name", tr("达人", "Creator")),
                ("merchant", tr("商家", "Merchant")),
                ("status", tr("状态", "Status")),
                ("expiry", tr("剩余天数", "Days left")),
                ("findings", tr("发现", "Findings")),
                ("type", tr("类型", "Type")),
                ("scope", tr("范围", "Scope")),
                ("channel", tr("渠道", "Channel")),
            ),
        )
        # the grant's id and state stay in view (80×24): a long nickname or merchant gives way
        table.keep_in_view("status", {"name": 8, "merchant": 6})

    def fill(self) -> None:
        self.query_one("#grant-state-table", PagedTable).show(
            self.qapp.grant_facts, self.cells, key=entity_key
        )
        self.show_detail()

    def cells(self, fact: Any) -> list[Text]:
        v = fact.values
        left = v.get("days_to_expiry")
        expiring = left is not None and 0 <= left <= 7 and v.get("status") == "active"
        return [
            Text(fact.entity_id),
            Text(str(v.get("creator.nickname") or v.get("aweme_id") or "")),
            Text(str(fact.merchant_id or "")),
            self.status(fact),
            Text(
                tr("永久", "permanent")
                if v.get("is_permanent")
                else str(left if left is not None else "—"),
                style="bold yellow" if expiring else "",
            ),
            worst(self.qapp.findings_of("grant", fact.entity_id, None)),
            Text(zh_word(AUTH_LABEL, v.get("auth_type"))),
            Text(zh_word(SCOPE_LABEL, v.get("scope"))),
            Text(zh_word(CHANNEL_LABEL, v.get("channel"))),
        ]

    def hold_of(self, fact: Any) -> dict | None:
        holds = self.qapp.holds
        for merchant in (fact.merchant_id, None):
            hold = holds.get(("grant", fact.entity_id, merchant))
            if hold is not None:
                return hold
        return None

    def status(self, fact: Any) -> Text:
        status = Text(label(STATUS_LABEL, str(fact.values.get("status") or "")))
        if self.hold_of(fact) is not None:
            status.append(" " + STATE_MARK["held"], style="yellow")
        return status

    def records_changed(self, changes: list[Any]) -> None:
        """Grant states (and signed agreements) an applied action, a signature or an undo
        wrote: their rows and the detail change in place."""
        wanted = {
            c.key.get("grant_id"): {k: c.after[k] for k in CHANGED_FIELDS if k in c.after}
            for c in changes
            if c.table == "grants" and c.after
        }
        if not any(wanted.values()):
            return
        table = self.query_one("#grant-state-table", PagedTable)
        for row, fact in enumerate(self.qapp.grant_facts):
            values = wanted.get(fact.entity_id)
            if values:
                fact.values.update(values)
                table.update_item(row, STATUS_COLUMN, self.status(fact))
        self.show_detail()

    def holds_changed(self, grant_ids: set[str]) -> None:
        """The status column and detail follow a hold or its undo at once."""
        table = self.query_one("#grant-state-table", PagedTable)
        for row, fact in enumerate(self.qapp.grant_facts):
            if fact.entity_id in grant_ids:
                table.update_item(row, STATUS_COLUMN, self.status(fact))
        self.show_detail()

    def selected(self) -> Any:
        facts = self.qapp.grant_facts
        row = self.query_one("#grant-state-table", DataTable).cursor_row
        return facts[row] if 0 <= row < len(facts) else None

    def show_detail(self) -> None:
        detail = self.query_one("#grant-state-detail", Static)
        fact = self.selected()
        if fact is None:
            detail.update(tr("没有授权。", "No grants."))
            return
        v = fact.values
        out = Text()
        out.append(f"{fact.entity_id}  {v.get('creator.nickname') or ''}\n", style="bold")
        for name in DETAIL_FIELDS:
            if name == "video_id" and v.get("scope") != "single_video" and not v.get(name):
                continue  # only a single-video grant names a video: no "missing" elsewhere
            out.append(field_line(self.qapp.fields, "grant", name, v.get(name)))
        hold = self.hold_of(fact)
        if hold is not None:
            until = hold["until"] or tr("解除为止", "released")
            out.append(
                tr(f"\n⏸ 暂停中，直到 {until}：", f"\n⏸ On hold until {until}: ")
                + f"{hold['reason']}\n",
                style="yellow",
            )
        findings = self.qapp.findings_of("grant", fact.entity_id, None)
        out.append(
            "\n" + tr(f"发现（{len(findings)}）\n", f"Findings ({len(findings)})\n"), style="bold"
        )
        for f in findings:
            out.append(f"  {f.rule} ", style=LEVEL_STYLE.get(f.level, ""))
            out.append(f"{f.message}\n")
        out.append(
            tr(
                "\nn 发起授权 · w 续期 · s 改状态（已通过/生效/撤销…） · A 已签协议 · h 暂停",
                "\nn request a grant · w renew · s mark (approved, active, revoked…)"
                " · A agreement signed · h hold",
            ),
            style="dim",
        )
        detail.update(out)

    @on(DataTable.RowHighlighted, "#grant-state-table")
    @while_open
    def _highlighted(self) -> None:
        self.show_detail()

    # -- the execute step: request, renew, mark -----------------------------------------

    def open_form(self, request: Any) -> None:
        from qcrules.tui.grant_form import GrantForm

        # a request is written today, whatever day the app judges (--as-of looks back;
        # it never backdates a grant)
        form = GrantForm(self.qapp.workspace, request, today=self.qapp.today)
        self.app.push_screen(form, self._saved)

    def _saved(self, check: Any) -> None:
        if check is None:
            return
        g = check.grant
        self.notify(
            tr(
                f"已记录授权 {g['grant_id']}（{g['status']}）",
                f"Recorded grant {g['grant_id']} ({g['status']})",
            ),
            timeout=4,
        )
        self.qapp.action_evaluate()  # the new grant, with its findings, in every tab

    def renew(self) -> None:
        """The request form, pre-filled to renew the selected grant on safe terms."""
        from qcrules.errors import QcrulesError

        fact = self.selected()
        if fact is None:
            self.notify(tr("先选中一个授权", "Select a grant first"), severity="warning")
            return
        try:
            request = service.renewal_request(self.qapp.workspace, fact.entity_id)
        except QcrulesError as exc:
            self.notify(exc.message, severity="error")
            return
        self.open_form(request)

    def mark(self) -> None:
        from qcrules.tui.grant_form import MarkGrant

        fact = self.selected()
        if fact is None:
            self.notify(tr("先选中一个授权", "Select a grant first"), severity="warning")
            return
        status = str(fact.values.get("status") or "")
        moves = service.grant_moves(status)
        if not moves:
            shown = label(STATUS_LABEL, status)
            self.notify(tr(f"{shown} 是终态", f"{status} is a final state"), severity="warning")
            return
        self.app.push_screen(
            MarkGrant(fact.entity_id, status, moves),
            lambda chosen: chosen is not None and self._mark(fact.entity_id, *chosen),
        )

    def _refused(self, exc: Any, severity: str) -> None:
        """A service refusal in a toast: what is wrong, then what to do."""
        self.notify(exc.message + (f" — {exc.hint}" if exc.hint else ""), severity=severity)

    @work(thread=True, exclusive=True, group="act", exit_on_error=False)
    def _mark(self, grant_id: str, target: str, note: str | None) -> None:
        from qcrules.errors import QcrulesError

        app = self.qapp
        try:
            outcome = service.mark_grant(
                app.workspace, grant_id, target, note=note, today=app.today
            )
        except QcrulesError as exc:
            app.call_from_thread(self._refused, exc, "error")
            return
        was, now = (label(STATUS_LABEL, s) for s in (outcome.before, outcome.after))
        message = tr(
            f"授权 {grant_id}：{was} → {now}（u 撤销）",
            f"grant {grant_id}: {was} → {now} (u undoes it)",
        )
        app.call_from_thread(self.notify, message, timeout=4)
        app.call_from_thread(app.action_evaluate)

    # -- a signed agreement (PRM009) ----------------------------------------------------

    def sign(self) -> None:
        """Record that the selected grant's agreement is signed: the change shown first (the
        service's own refusal, if it does not apply), then written, audited and undoable."""
        fact = self.selected()
        if fact is None:
            self.notify(tr("先选中一个授权", "Select a grant first"), severity="warning")
            return
        self._preview_sign(fact.entity_id)

    @work(thread=True, exclusive=True, group="act", exit_on_error=False)
    def _preview_sign(self, grant_id: str) -> None:
        from qcrules.errors import QcrulesError
        from qcrules.tui.screens import ConfirmChange

        app = self.qapp
        try:
            outcome = service.record_agreement(app.workspace, grant_id, dry_run=True)
        except QcrulesError as exc:
            app.call_from_thread(self._refused, exc, "warning")
            return
        screen = ConfirmChange(
            tr(f"记录授权 {grant_id} 的协议已签？", f"Record grant {grant_id}'s agreement signed?"),
            change_text(outcome.change)
            + tr(
                "\n双方都已签署授权协议时记录（PRM009 随之关闭）；u 可撤销。",
                "\nRecord it once both sides signed the agreement (PRM009 then closes); u undoes.",
            ),
            prompt=tr("备注（可选，如协议存放处）", "Note (optional: where the signed copy is)"),
            confirm=tr("记录", "Record"),
            required=False,
        )
        app.call_from_thread(
            app.push_screen,
            screen,
            lambda note: note is not None and self._sign(grant_id, note or None),
        )

    @work(thread=True, exclusive=True, group="act", exit_on_error=False)
    def _sign(self, grant_id: str, note: str | None) -> None:
        from qcrules.errors import QcrulesError

        app = self.qapp
        try:
            outcome = service.record_agreement(app.workspace, grant_id, note=note)
        except QcrulesError as exc:
            app.call_from_thread(self._refused, exc, "error")
            return
        message = change_text(outcome.change) + tr("（u 撤销）", " (u undoes it)")
        app.call_from_thread(self.records_changed, [outcome.change])
        app.call_from_thread(self.notify, message, timeout=4)
        app.call_from_thread(app.action_evaluate)  # PRM009 closes in every tab
