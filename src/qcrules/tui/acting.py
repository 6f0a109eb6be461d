"""Acting on what the operator looks at: apply (after a preview of the change), dismiss and
hold (with a reason), undo the last change — on the Findings and Actions tabs, and hold on
the Grants tab. One code path for every tab, through the same audited service calls as the
CLI; the result comes back as an `Acted` message that redraws the changed rows only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work

from qcrules import service
from qcrules.findings import Finding, Subject
from qcrules.i18n import tr
from qcrules.safety import for_terminal, safe_data
from qcrules.service import LogEntry
from qcrules.tui.messages import Acted
from qcrules.tui.present import (
    ENTITY_LABEL,
    STATE_LABEL,
    action_label,
    change_text,
    label,
)
from qcrules.tui.screens import ConfirmChange

if TYPE_CHECKING:
    from qcrules.tui.app import QcrulesApp

    _Base = QcrulesApp
else:
    _Base = object

DONE = {
    "apply": ("已执行", "Applied"),
    "dismiss": ("已忽略", "Dismissed"),
    "hold": ("已暂停", "On hold"),
    "undo": ("已撤销", "Undone"),
}


class ActingMixin(_Base):
    """The app's acting keys (a, x, h, u); mixed into `QcrulesApp`."""

    def _actionable(self, handling: bool = False) -> Finding | None:
        """The selected finding if it has an action to act on; `handling` (apply, dismiss):
        also not one already applied or dismissed, said before any dialog asks for more."""
        finding = self.selected()
        if finding is None:
            self.notify(tr("先选中一条发现", "Select a finding first"), severity="warning")
            return None
        if finding.action is None:
            self.notify(
                tr(
                    "暂停中的对象没有建议动作：先按 u 解除暂停",
                    "held: it has no action until released (u)",
                )
                if finding.hold
                else tr("这条发现没有建议动作", "this finding suggests no action"),
                severity="warning",
            )
            return None
        state = self.states.get(finding.fingerprint)
        if handling and state in ("applied", "dismissed"):
            shown = label(STATE_LABEL, state)
            self.notify(
                tr(f"这个动作{shown}：按 u 可撤销", f"already {shown}: u undoes it"),
                severity="warning",
            )
            return None
        if not self.store:
            self.notify(
                tr(
                    "以 --no-store 打开时不能处理动作：评估结果没有保存",
                    "actions need a stored run; this UI was opened with --no-store",
                ),
                severity="warning",
            )
            return None
        return finding

    def action_apply(self) -> None:
        finding = self._actionable(handling=True)
        if finding is not None:
            self._preview_apply(finding)

    @work(thread=True, exclusive=True, group="act", exit_on_error=False)
    def _preview_apply(self, finding: Finding) -> None:
        from qcrules.errors import QcrulesError

        try:
            outcome = service.apply_action(self.workspace, finding.fingerprint, dry_run=True)
        except QcrulesError as exc:
            self.call_from_thread(self.notify, for_terminal(exc.message), severity="warning")
            return
        lines = [change_text(change) for change in outcome.changes] or [
            tr("不改动数据：记录为已完成", "No record changes: it is recorded as done")
        ]
        if outcome.result is not None:
            lines.append(for_terminal(outcome.result))
        if outcome.steps:
            lines.append(tr("手动步骤：", "By hand: ") + for_terminal(outcome.steps))
        kind = action_label(self.kinds, finding.action.kind if finding.action else "")
        screen = ConfirmChange(
            tr(f"执行「{kind}」？", f"Apply “{kind}”?"),
            "\n".join(lines),
            prompt=tr("备注（可选）", "Note (optional)"),
            confirm=tr("执行", "Apply"),
            required=False,
        )

        def done(note: str | None) -> None:
            if note is not None:
                self._act("apply", finding, note or None)

        self.call_from_thread(self.push_screen, screen, done)

    def action_dismiss(self) -> None:
        finding = self._actionable(handling=True)
        if finding is None:
            return
        screen = ConfirmChange(
            tr(f"忽略 {finding.rule} 的建议动作？", f"Dismiss the action of {finding.rule}?"),
            tr(
                "它会一直保持忽略，直到撤销（u）。",
                "It stays dismissed in later runs until undone (u).",
            ),
            prompt=tr("原因（必填）", "Reason (required)"),
            confirm=tr("忽略", "Dismiss"),
            required=True,
        )
        self.push_screen(screen, lambda reason: reason and self._act("dismiss", finding, reason))

    def action_hold(self) -> None:
        """Hold the entity of the selected finding or queue item — or, on the Grants tab, the
        selected grant: it keeps its findings but gets no actions until released (u)."""
        from qcrules.tui.widgets.grants import GrantsTab

        target: Subject | None
        if self.active_tab() == "grants":
            fact = self.query_one(GrantsTab).selected()
            if fact is None:
                self.notify(tr("先选中一个授权", "Select a grant first"), severity="warning")
                return
            grant = Subject("grant", fact.entity_id, fact.merchant_id)
            target = grant if self.store else self._subject_of(self._actionable())
        else:
            target = self._subject_of(self._actionable())
        if target is None:
            return
        what = f"{label(ENTITY_LABEL, target.type)} {target.id}"
        screen = ConfirmChange(
            tr(f"暂停{what}？", f"Hold {what}?"),
            tr(
                "暂停期间它保留发现，但不再有建议动作；u 解除。",
                "While held it keeps its findings but gets no actions; u releases it.",
            ),
            prompt=tr("原因（必填）", "Reason (required)"),
            confirm=tr("暂停", "Hold"),
            required=True,
        )
        self.push_screen(screen, lambda reason: reason and self._act("hold", target, reason))

    def action_undo(self) -> None:
        if not self.store:
            self._actionable()  # says why nothing can be undone
            return
        log = service.audit_log(self.workspace, limit=1, undoable_only=True)
        last = log[0] if log else None
        if last is None:
            self.notify(tr("没有可撤销的操作", "There is nothing to undo"), severity="warning")
            return
        entity, actor = last.entity, for_terminal(last.actor, one_line=True)
        what = f"{label(ENTITY_LABEL, entity.type)} {for_terminal(entity.id, one_line=True)}"
        when = last.at.replace("T", " ")[:16]
        verb = service.audit_kind_label(self.kinds, last.kind)
        screen = ConfirmChange(
            tr(f"撤销「{verb}」？", f"Undo “{verb}”?"),
            tr(f"{what}，{actor} 于 {when}", f"{what}, by {actor} at {when}")
            + (f"\n{for_terminal(last.note)}" if last.note else ""),
            prompt=tr("备注（可选）", "Note (optional)"),
            confirm=tr("撤销", "Undo"),
            required=False,
        )
        self.push_screen(
            screen, lambda note: note is not None and self._act("undo", last, note or None)
        )

    @staticmethod
    def _subject_of(finding: Finding | None) -> Subject | None:
        return finding.subject if finding is not None else None

    def _lock_wait_notice(self, message: str) -> None:
        try:
            self.call_from_thread(self.notify, message, severity="warning")
        except RuntimeError:  # on the app's own thread
            self.notify(message, severity="warning")

    @work(thread=True, exclusive=True, group="act", exit_on_error=False)
    def _act(self, verb: str, target: Finding | Subject | LogEntry, text: str | None) -> None:
        """`target`: the finding to apply or dismiss, the entity to hold, the audit entry
        to undo."""
        from qcrules.errors import QcrulesError

        try:
            if isinstance(target, Finding) and verb == "apply":
                outcome = service.apply_action(self.workspace, target.fingerprint, note=text)
            elif isinstance(target, Finding) and verb == "dismiss":
                outcome = service.dismiss_action(self.workspace, target.fingerprint, text or "")
            elif isinstance(target, Subject):
                outcome = service.hold_entity(
                    self.workspace,
                    target.type,
                    target.id,
                    text or "",
                    merchant_id=target.merchant if target.type != "merchant" else None,
                )
            else:
                assert isinstance(target, LogEntry)
                outcome = service.undo(self.workspace, target.id, note=text)
            states = self.queue_states()
            holds = safe_data(service.holds(self.workspace, self.as_of))
        except QcrulesError as exc:
            self.call_from_thread(self.notify, for_terminal(exc.message), severity="error")
            return
        summary = "; ".join(change_text(change) for change in outcome.changes)
        kind = outcome.kind  # an action's kind, or an audit entry's (an undo's)
        what = service.audit_kind_label(
            self.kinds, kind if kind not in self.kinds else "apply:" + kind
        )
        message = tr(*DONE[verb]) + ("" if verb == "hold" else tr("：", ": ") + what)
        if verb == "hold" and summary:
            message = summary  # "hold grant G-1 (reason: …)" says it once
        elif summary:
            message += f" — {summary}"
        self.post_message(Acted(states, message, holds, outcome.changes))
        if verb == "undo" and kind.startswith("grant:"):
            # a grant's mark, agreement or request taken back: the findings it closed or
            # opened follow at once, as they did when it was made (GrantsTab re-evaluates)
            self.call_from_thread(self.action_evaluate)
