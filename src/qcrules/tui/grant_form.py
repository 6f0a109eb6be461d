"""The "request a grant" form (seed 二): safe defaults, live verdicts, the 千川 steps.

Every change of a field judges the proposal again in a worker thread (the service's
`check_grant_request`: the same rules `qcrules grants request` runs, nothing written), and
the verdicts beside the form follow: the gate rules that would refuse it, the to-do list, the
creator's screening findings. The channel's steps, the creator's confirmation and the
agreement form a checklist the operator ticks off. Saving writes the grant (a draft without a
合作码, requested with one) through `request_grant`; a refused request stays open with the
reason, unless a reason to accept the risk is typed in. The form fits 80×24.
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, SelectionList, Static

from qcrules import service
from qcrules.i18n import tr
from qcrules.safety import for_terminal
from qcrules.service import (
    AUTH_LABEL,
    CHANNEL_LABEL,
    SCOPE_LABEL,
    STATUS_LABEL,
    GrantRequest,
    label,
)
from qcrules.tui.keys import bind
from qcrules.tui.widgets import SaysWorkerErrors
from qcrules.tui.widgets.keybar import KeyBar

LEVEL_STYLE = {
    "critical": "bold white on red",
    "error": "bold red",
    "warn": "yellow",
    "info": "cyan",
}
FIELDS = ("merchant", "creator", "auth", "scope", "video", "days", "channel", "code", "risk")


class GrantForm(SaysWorkerErrors, ModalScreen[Any]):
    """Returns the saved request's check (`RequestCheck`), or None when cancelled."""

    DEFAULT_CSS = """
    GrantForm { align: center middle; }
    #grant-form { width: 100%; max-width: 130; height: 100%; max-height: 40;
                  border: round $primary; background: $surface; padding: 0 1; }
    #form-title { height: 1; text-style: bold; }
    #form-body { height: 1fr; }
    #fields { width: 1fr; min-width: 36; padding-right: 1; }
    #verdict-pane { width: 1fr; border-left: solid $primary; padding-left: 1; }
    .field { height: 1; margin-bottom: 1; }
    .field Label { width: 10; }
    .field Input, .field Select { width: 1fr; }
    #form-problem { height: auto; color: $error; display: none; }
    #form-buttons { height: 1; margin-top: 1; }
    #form-buttons Button { margin-right: 2; width: auto; }
    #verdicts { height: auto; }
    #steps { height: auto; }
    #step-detail { height: auto; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[Binding]] = [
        bind("escape", "cancel", "取消", "Cancel"),
        bind("ctrl+s", "save", "保存", "Save"),
    ]

    def __init__(self, workspace: Any, request: GrantRequest, *, today: date | None = None) -> None:
        super().__init__()
        self.workspace = workspace
        self.initial = request
        self.today = today
        self.check: Any = None  # the latest verdicts
        self.problem: str | None = None
        self.generation = 0  # the latest field change; older checks are dropped
        self.ticked: set[str] = set()
        self.saving = False
        self.check_session = service.grant_check_session()  # shared by this form's checks

    # -- layout -------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        r = self.initial
        title = (
            tr(f"续期授权 {r.renewal_of}", f"Renew grant {r.renewal_of}")
            if r.renewal_of
            else tr("发起授权（安全默认值）", "Request a grant (safe defaults)")
        )
        with Vertical(id="grant-form"):
            yield Static(title, id="form-title")
            with Horizontal(id="form-body"):
                with VerticalScroll(id="fields"):
                    yield from self._field(
                        tr("商家", "Merchant"), Input(r.merchant_id, id="merchant", compact=True)
                    )
                    yield from self._field(
                        tr("达人", "Creator"), Input(r.aweme_id, id="creator", compact=True)
                    )
                    yield from self._field(
                        tr("类型", "Type"),
                        self._select("auth", AUTH_LABEL, r.auth_type),
                    )
                    yield from self._field(
                        tr("范围", "Scope"), self._select("scope", SCOPE_LABEL, r.scope)
                    )
                    yield from self._field(
                        tr("视频ID", "Video"),
                        Input(
                            r.video_id or "",
                            placeholder=tr("单视频授权的视频", "for a single video"),
                            id="video",
                            compact=True,
                        ),
                    )
                    yield from self._field(
                        tr("天数", "Days"),
                        Input(str(r.days or 15), id="days", type="integer", compact=True),
                    )
                    yield from self._field(
                        tr("渠道", "Channel"), self._select("channel", CHANNEL_LABEL, r.channel)
                    )
                    yield from self._field(
                        tr("合作码", "合作码"),
                        Input(
                            r.code or "",
                            placeholder=tr("无则存为草稿", "none: a draft"),
                            password=True,
                            id="code",
                            compact=True,
                        ),
                    )
                    yield from self._field(
                        tr("接受风险", "Accept"),
                        Input(
                            placeholder=tr("原因（仅在条款被拒时）", "reason (only if refused)"),
                            id="risk",
                            compact=True,
                        ),
                    )
                with VerticalScroll(id="verdict-pane"):
                    yield Static(tr("正在检查…", "Checking…"), id="verdicts")
                    yield SelectionList[str](id="steps", compact=True)
                    yield Static("", id="step-detail")
            # below the fields, not their last lines: at 80×24 the fields scroll, and a
            # refusal's reason and the buttons stay in view
            yield Static("", id="form-problem")  # shown when there is a problem
            with Horizontal(id="form-buttons"):
                yield Button(tr("保存", "Save"), id="save", variant="primary", compact=True)
                yield Button(tr("取消", "Cancel"), id="cancel", compact=True)
        yield KeyBar()  # the form's keys, not those of the tab underneath

    @staticmethod
    def _field(text: str, widget: Any) -> ComposeResult:
        with Horizontal(classes="field"):
            yield Label(text)
            yield widget

    @staticmethod
    def _select(name: str, labels: dict[str, tuple[str, str]], value: str) -> Select:
        options = [(label(labels, key), key) for key in labels]
        return Select(options, value=value, allow_blank=False, id=name, compact=True)

    def on_mount(self) -> None:
        self.query_one("#scope", Select).focus()
        self._recheck()

    # -- the proposal and its verdicts ---------------------------------------------------

    def request(self) -> GrantRequest | None:
        """The proposal the fields describe; None (with `problem` set) when one is unusable."""
        values = {name: self._value(name) for name in FIELDS}
        days_text = (values["days"] or "").strip()
        try:
            days = int(days_text) if days_text else None
        except ValueError:
            self.problem = tr("天数必须是整数", "Days must be a whole number")
            return None
        if not values["merchant"] or not values["creator"]:
            self.problem = tr("填写商家和达人", "Fill in the merchant and the creator")
            return None
        self.problem = None
        return GrantRequest(
            merchant_id=values["merchant"].strip(),
            aweme_id=values["creator"].strip(),
            scope=values["scope"],
            video_id=(values["video"] or "").strip() or None,
            days=days,
            channel=values["channel"],
            auth_type=values["auth"],
            code=(values["code"] or "").strip() or None,
            renewal_of=self.initial.renewal_of,
        )

    def _value(self, name: str) -> Any:
        widget = self.query_one(f"#{name}")
        return widget.value

    @on(Input.Changed)
    @on(Select.Changed)
    def _changed(self, event: Any) -> None:
        if getattr(event, "input", None) is not None and event.input.id == "risk":
            return  # the reason does not change the verdicts
        self._recheck()

    def _recheck(self) -> None:
        self.generation += 1
        request = self.request()
        if request is None:
            self._show(None, self.problem)
            return
        self._check(request, self.generation)

    @work(thread=True, exclusive=True, group="grant-check", exit_on_error=False)
    def _check(self, request: GrantRequest, generation: int) -> None:
        from qcrules.errors import QcrulesError

        try:
            check = service.check_grant_request(
                self.workspace, request, today=self.today, session=self.check_session
            )
            problem = None
        except QcrulesError as exc:
            check, problem = None, for_terminal(exc.message + (f"\n{exc.hint}" if exc.hint else ""))
        self.app.call_from_thread(self._checked, generation, check, problem)

    def _checked(self, generation: int, check: Any, problem: str | None) -> None:
        if generation != self.generation or not self.is_attached:
            return  # a later change is being judged
        self._show(check, problem)

    def _show(self, check: Any, problem: str | None) -> None:
        self.check = check
        self._say(problem)
        verdicts = self.query_one("#verdicts", Static)
        save = self.query_one("#save", Button)
        if check is None:
            verdicts.update(Text(tr("无法检查：见左侧", "Cannot check: see the form"), "dim"))
            save.disabled = True
            return
        save.disabled = False
        save.label = (
            tr("保存为已发起", "Save as requested")
            if check.status == "requested"
            else tr("保存为草稿", "Save as draft")
        )
        verdicts.update(verdict_text(check))
        save.refresh(layout=True)
        self._show_steps(check)

    def _show_steps(self, check: Any) -> None:
        steps = self.query_one("#steps", SelectionList)
        self.ticked = set(steps.selected) | (self.ticked & {s.key for s in check.steps})
        items = [(for_terminal(s.text, one_line=True), s.key) for s in check.steps]
        items.append((for_terminal(check.confirmation, one_line=True), "confirm"))
        items.append((for_terminal(check.agreement, one_line=True), "agreement"))
        keys = {key for _, key in items}
        self.ticked &= keys
        steps.clear_options()
        steps.add_options([(text, key, key in self.ticked) for text, key in items])

    def _say(self, problem: str | None) -> None:
        """A problem under the form (its row is the fields' while there is none)."""
        widget = self.query_one("#form-problem", Static)
        widget.update(Text(for_terminal(problem or "")))
        widget.display = bool(problem)

    @on(SelectionList.SelectedChanged, "#steps")
    def _ticked(self) -> None:
        self.ticked = set(self.query_one("#steps", SelectionList).selected)

    @on(SelectionList.SelectionHighlighted, "#steps")
    def _step_highlighted(self, event: SelectionList.SelectionHighlighted) -> None:
        """The whole text of the step under the cursor (the list shows one line each)."""
        self.query_one("#step-detail", Static).update(Text(str(event.selection.prompt)))

    # -- saving ---------------------------------------------------------------------------

    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        request = self.request()
        if request is None or self.saving:
            self._show(None, self.problem)
            return
        self.saving = True
        risk = (self.query_one("#risk", Input).value or "").strip() or None
        self._save(request, risk)

    @work(thread=True, exclusive=True, group="grant-save", exit_on_error=False)
    def _save(self, request: GrantRequest, risk: str | None) -> None:
        from qcrules.errors import QcrulesError

        try:
            check = service.request_grant(
                self.workspace, request, accept_risk=risk, today=self.today
            )
            problem = None
        except QcrulesError as exc:
            check, problem = None, for_terminal(exc.message)
        self.app.call_from_thread(self._saved, check, problem)

    def _saved(self, check: Any, problem: str | None) -> None:
        self.saving = False
        if check is not None and check.written:
            self.dismiss(check)
            return
        if check is not None and check.refused:
            rules = ", ".join(check.risks())
            problem = tr(
                f"被拒绝（{rules}）：改用安全条款，或在「接受风险」里写明原因",
                f"Refused ({rules}): use safe terms, or type a reason to accept the risk",
            )
            self._show(check, problem)
            self.query_one("#risk", Input).focus()
            return
        self._say(problem)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


def verdict_text(check: Any) -> Text:
    """The verdicts beside the form: refusals first, then the to-do list and the context."""
    out = Text()
    g = check.grant
    term = tr(f"{check.days} 天", f"{check.days} days") if check.days else tr("永久", "permanent")
    out.append(
        tr(
            f"将保存为{label(STATUS_LABEL, g['status'])}：{g['grant_id']}\n",
            f"Saves as {g['status']}: {g['grant_id']}\n",
        ),
        style="bold",
    )
    name = for_terminal(check.nickname, one_line=True)
    out.append(f"{name} · {g['starts_at']} → {g['ends_at']} ({term})\n")
    out.append(
        tr("合作码 ", "合作码 ") + (check.code_masked or tr("无", "none")) + "\n\n", style="dim"
    )
    if check.excluded:
        out.append(tr("达人池：已排除\n", "Pool: excluded\n"), style="bold red")
        out.append(" ✘ ", style="bold red")
        out.append(for_terminal(check.excluded["message"], one_line=True) + "\n")
        out.append(
            tr(
                " 保存需在「接受风险」里写明原因\n\n",
                " saving needs a reason under Accept\n\n",
            ),
            style="dim",
        )
    if check.gates:
        out.append(tr("授权条款：拒绝\n", "Terms: refused\n"), style="bold red")
        for v in check.gates:
            out.append(f" ✘ {v.rule} ", style=LEVEL_STYLE.get(v.level, ""))
            out.append(for_terminal(v.message, one_line=True) + "\n")
    else:
        out.append(tr("授权条款：通过 ✔\n", "Terms: pass ✔\n"), style="bold green")
    out.append(tr("\n待办\n", "\nTo do\n"), style="bold")
    for v in check.todo:
        out.append(f" ☐ {v.rule} ", style=LEVEL_STYLE.get(v.level, ""))
        out.append(for_terminal(v.message, one_line=True) + "\n")
    if not check.todo:
        out.append(tr(" 无\n", " nothing\n"), style="dim")
    out.append(tr("\n达人筛选（参考）\n", "\nCreator screening\n"), style="bold")
    for v in check.context:
        out.append(f" · {v.rule} ", style=LEVEL_STYLE.get(v.level, ""))
        out.append(for_terminal(v.message, one_line=True) + "\n")
    if not check.context:
        out.append(tr(" 无发现\n", " no findings\n"), style="dim")
    out.append(tr("\n步骤（勾选完成项）", "\nSteps (tick them off)"), style="bold")
    return out


class MarkGrant(ModalScreen[tuple[str, str | None] | None]):
    """Choose the next state of a grant (only the allowed moves), with an optional note."""

    DEFAULT_CSS = """
    MarkGrant { align: center middle; }
    #mark-dialog { width: 70; max-width: 100%; height: auto; border: thick $primary;
                   padding: 1 2; background: $surface; }
    #mark-buttons { height: auto; margin-top: 1; }
    /* a requested grant has five moves and a cancel: as wide as their words, they fit */
    #mark-buttons Button { margin-right: 1; min-width: 0; }
    """
    BINDINGS: ClassVar[list[Binding]] = [bind("escape", "cancel", "取消", "Cancel")]

    def __init__(self, grant_id: str, status: str, moves: list[str]) -> None:
        super().__init__()
        self.grant_id, self.status, self.moves = grant_id, status, moves

    def compose(self) -> ComposeResult:
        with Vertical(id="mark-dialog"):
            yield Static(
                tr(
                    f"授权 {self.grant_id}（{label(STATUS_LABEL, self.status)}）改为：",
                    f"Mark grant {self.grant_id} ({self.status}) as:",
                )
            )
            yield Input(placeholder=tr("备注（可选）", "Note (optional)"), id="mark-note")
            with Horizontal(id="mark-buttons"):
                for move in self.moves:
                    yield Button(
                        tr(label(STATUS_LABEL, move), move),
                        id=f"to-{move}",
                        variant="primary" if move == "approved" else "default",
                    )
                yield Button(tr("取消", "Cancel"), id="mark-cancel")
        yield KeyBar()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "mark-cancel":
            self.dismiss(None)
            return
        move = (event.button.id or "").removeprefix("to-")
        note = self.query_one("#mark-note", Input).value.strip() or None
        self.dismiss((move, note))

    def action_cancel(self) -> None:
        self.dismiss(None)
