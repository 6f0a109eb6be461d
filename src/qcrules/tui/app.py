"""The Textual UI: the morning screen of an operator (投手).

The app composes the tabs (`qcrules.tui.widgets`), holds the last run they all show (its
report, facts, queue states and holds), runs evaluations and backtests in workers, and
routes keys to the tab in view. It calls the service API only (no SQL, no engine); acting
is in `acting.py`, keys, help, palette and settings in `commands.py`, the launch in steps in
`launch.py`, styles in `app.tcss`."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Header, Input, TabbedContent
from textual.worker import Worker, WorkerState

from qcrules import service
from qcrules.findings import Finding, RunReport
from qcrules.i18n import tr
from qcrules.safety import for_terminal, safe_data
from qcrules.tui.acting import ActingMixin
from qcrules.tui.commands import KeysMixin, QcrulesCommands
from qcrules.tui.keys import bind, speak
from qcrules.tui.launch import LaunchMixin
from qcrules.tui.memory import QuietCollector
from qcrules.tui.messages import Acted
from qcrules.tui.present import BACKTEST_DAYS, SHEET_DAYS, listed_records, safe_report, sheet_table
from qcrules.tui.screens import ConfirmChange, HelpScreen
from qcrules.tui.widgets.actions import ActionsPane, ActionsTab
from qcrules.tui.widgets.creators import CreatorsTab, search_keys
from qcrules.tui.widgets.dashboard import DashboardTab
from qcrules.tui.widgets.findings import FindingsTab
from qcrules.tui.widgets.findings import search_keys as finding_search_keys
from qcrules.tui.widgets.grants import GrantsTab
from qcrules.tui.widgets.keybar import KeyBar
from qcrules.tui.widgets.monitoring import MonitoringTab
from qcrules.tui.widgets.packs import PacksTab
from qcrules.tui.widgets.paged import InTurn
from qcrules.workspace import Workspace

if TYPE_CHECKING:
    from qcrules.service import RunRecord


class QcrulesApp(ActingMixin, KeysMixin, LaunchMixin, App[None]):
    """Verdicts and suggested actions of the packs in effect, for one workspace."""

    TITLE = "qcrules"
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {QcrulesCommands}
    BINDINGS: ClassVar[list[Binding]] = [
        bind("r", "evaluate", "运行评估", "Evaluate now", id="evaluate"),
        bind("slash", "focus_filter", "筛选", "Filter", id="filter"),
        bind("l", "cycle_level", "级别", "Level", id="level"),
        bind("S", "sort_next", "按下一列排序", "Sort by next column", id="sort"),
        bind("I", "sort_reverse", "倒序", "Reverse sort", id="sort-reverse"),
        bind("e", "explain", "解释", "Explain", id="explain"),
        bind("a", "apply", "执行动作", "Apply", id="apply"),
        bind("x", "dismiss", "忽略", "Dismiss", id="dismiss"),
        bind("h", "hold", "暂停", "Hold", id="hold"),
        bind("u", "undo", "撤销", "Undo", id="undo"),
        bind("d", "show_tab('dashboard')", "概览", "Dashboard", id="dashboard"),
        bind("f", "show_tab('findings')", "发现", "Findings", id="findings"),
        bind("o", "show_tab('actions')", "动作", "Actions", id="actions"),
        bind("c", "show_tab('creators')", "达人池", "Creators", id="creators"),
        bind("g", "show_tab('grants')", "授权", "Grants", id="grants"),
        bind("m", "show_tab('monitoring')", "效果监测", "Monitoring", id="monitoring"),
        bind("plus", "pool('in_pool')", "加入池", "Add to pool", id="pool-add"),
        bind("minus", "pool('candidate')", "移出池", "Remove from pool", id="pool-remove"),
        bind("X", "pool('excluded')", "排除", "Exclude", id="pool-exclude"),
        bind("n", "request_grant", "发起授权", "Request a grant", id="grant-request"),
        bind("w", "renew_grant", "续期", "Renew", id="grant-renew"),
        bind("s", "mark_grant", "改状态", "Mark", id="grant-mark"),
        bind("A", "sign_grant", "已签协议", "Agreement signed", id="grant-signed"),
        bind("p", "show_tab('packs')", "规则包", "Packs", id="packs"),
        bind("t", "test_packs", "运行包内测试", "Test packs", id="test-packs"),
        bind("escape", "clear_filter", "清除筛选", "Clear filter", show=False, id="clear"),
        bind("question_mark,f1", "help", "帮助", "Help", id="help"),
        bind("q", "quit", "退出", "Quit", id="quit"),
    ]

    def __init__(
        self, workspace: Workspace, *, as_of: date | None = None, store: bool = True, today=None
    ) -> None:
        from qcrules.tui.grant_form import GrantForm, MarkGrant

        # the footer, help and palette in the language in effect now, not at import
        speak(type(self), ActionsPane, ConfirmChange, HelpScreen, GrantForm, MarkGrant)
        super().__init__()
        self.workspace = workspace
        self.as_of = as_of  # the day judged; grant writes are dated `today` (never backdated)
        self.store, self.today = store, today  # today: None = the clock's (tests fix it)
        self.report: RunReport | None = None
        self.history: list[RunRecord] = []
        self.kinds = service.action_kinds()
        self.fields = {(spec.entity, spec.name): spec for spec in service.fact_fields()}
        self.states: dict[str, str] = {}  # fingerprint -> state in the action queue
        # (entity type, id, merchant or None for any) -> the run's findings of that entity
        self.findings_by_entity: dict[tuple, list[Finding]] = {}
        self.creator_facts: list[Any] = []  # the run's creator facts (one per merchant)
        self.grant_facts: list[Any] = []
        self.creator_keys: list[str] = []  # what the Creators filter searches, per creator
        self.finding_keys: list[str] = []  # … and the Findings filter, per finding
        self.holds: dict[tuple, dict] = {}  # (type, id, merchant or None) -> the hold in force
        self.backtest: Any = None  # the last BACKTEST_DAYS days (qcrules.backtest.Backtest)
        self._backtest_for: tuple | None = None  # the (as-of day, run) it was asked for
        self.evaluation_error: str | None = None
        self.sub_title = workspace.root.name
        self.collector = QuietCollector()
        self.in_turn = InTurn(self)  # table fills, one per screen refresh
        self._children: list[Any] = []  # backtests and what-ifs running apart (Popen)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: Any = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every toast of the app passes here, so a nickname or id inside an error message is
        shown as written: no control sequence acts, no `[…]` is read as markup."""
        super().notify(
            for_terminal(str(message)),
            title=for_terminal(title, one_line=True),
            severity=severity,
            timeout=timeout,
            markup=markup,
        )

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(initial="findings"):
            yield DashboardTab(tr("概览", "Dashboard"), id="dashboard")  # its widgets: later
            yield FindingsTab(tr("发现", "Findings"), id="findings")  # in view: at launch
            yield ActionsTab(tr("动作", "Actions"), id="actions")
            yield CreatorsTab(tr("达人池", "Creators"), id="creators")
            yield GrantsTab(tr("授权", "Grants"), id="grants")
            yield MonitoringTab(tr("效果监测", "Monitoring"), id="monitoring")
            yield PacksTab(tr("规则包", "Packs"), id="packs")
        yield KeyBar()

    def on_mount(self) -> None:
        service.set_wait_notice(self._lock_wait_notice)  # "another qcrules is writing…"
        self.set_interval(1.0, self.collector.tick)
        self._apply_user_settings()
        self.launch()  # the other tabs' widgets, then start_work

    def start_work(self) -> None:
        if self.store:
            self._load_stored()  # the last stored run at once; the new one replaces it
        self.action_evaluate()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key | events.MouseEvent):
            self.collector.touched()  # a full collection waits until the user pauses
        if not self.held_key(event):
            await super().on_event(event)

    def on_unmount(self) -> None:
        self.collector.stop()
        for child in self._children:  # quitting never waits for a backtest or a what-if
            if child.poll() is None:
                child.kill()

    # -- what the tabs ask of the run ----------------------------------------------------

    def active_tab(self) -> str | None:
        # query_one stops at the first match; a query's truth walks the whole DOM, and
        # this runs for every binding on every focus change
        # the main screen's, also while a dialog is in front of it
        tabs = self.default_screen.query_one_optional(TabbedContent)
        return tabs.active if tabs is not None else None

    def findings_of(self, entity_type: str, entity_id: str, merchant: str | None) -> list[Finding]:
        """The run's findings of one entity (for one merchant, or all): an index lookup, as
        the creators table asks this once per row."""
        return self.findings_by_entity.get((entity_type, entity_id, merchant), [])

    def selected(self) -> Finding | None:
        """The finding under the cursor of the tab in view (Findings, or the Actions queue)."""
        if self.active_tab() == "actions":
            item = self.query_one(ActionsPane).selected()
            return item.finding if item is not None else None
        return self.query_one(FindingsTab).selected()

    def queue_states(self) -> dict[str, str]:
        return {item.fingerprint: item.state for item in service.action_queue(self.workspace)}

    # -- evaluation ---------------------------------------------------------------------

    def action_evaluate(self) -> None:
        self.evaluation_error = None
        self.query_one("#findings-table", DataTable).loading = True
        self.query_one(DashboardTab).show_info(tr("正在评估…", "Evaluating…"))
        self._evaluate()

    @work(thread=True, exclusive=True, group="evaluate", exit_on_error=False)
    def _evaluate(self) -> None:
        from qcrules.errors import QcrulesError

        options = service.EvaluateOptions(as_of=self.as_of, fail_on="never", store=self.store)
        try:
            with self.collector.working():
                service.reload_settings(self.workspace)  # qcrules.toml may be edited meanwhile
                result = service.evaluate(self.workspace, options)
                history = service.recent_runs(self.workspace) if self.store else []
                states = self.queue_states() if self.store else {}
                report = safe_report(result.run_report)
                as_of = report.run.as_of
                holds = safe_data(service.holds(self.workspace, as_of))
                sheet = service.monitoring_sheet(self.workspace, as_of=as_of, days=SHEET_DAYS)
                sheet.rows = [
                    replace(row, nickname=for_terminal(row.nickname, one_line=True))
                    for row in sheet.rows
                ]
                grant_rows, cells = sheet_table(sheet)
                creators, grants = listed_records(self.workspace, result.facts)
                keys = search_keys(creators)  # the Creators filter's, made here, not per keystroke
                finding_keys = finding_search_keys(report.findings, self.kinds)
        except QcrulesError as exc:
            lines = [exc.message]
            for diagnostic in getattr(exc, "diagnostics", None) or []:
                lines += ["  " + line for line in diagnostic.render(None).splitlines()]
            if exc.hint:
                lines.append(tr("提示：", "hint: ") + exc.hint)
            self.call_from_thread(self._failed, for_terminal("\n".join(lines)))
            return
        self.call_from_thread(self._show_result, report, history, states, finding_keys)
        self.call_from_thread(
            lambda: self.query_one(MonitoringTab).show_sheet(sheet, grant_rows, cells)
        )
        self.call_from_thread(self._show_records, creators, grants, holds, keys)
        self.call_from_thread(self.collector.loaded)

    @work(thread=True, exclusive=True, group="stored", exit_on_error=False)
    def _load_stored(self) -> None:
        from qcrules.errors import QcrulesError

        try:
            with self.collector.working():  # a stored run read back: many objects
                report = service.stored_report(self.workspace)
                if report is None:
                    return
                history, states = service.recent_runs(self.workspace), self.queue_states()
                report = safe_report(report)
                keys = finding_search_keys(report.findings, self.kinds)
        except QcrulesError:
            return  # the evaluation that runs beside this says what is wrong
        self.call_from_thread(self._show_stored, report, history, states, keys)

    def _show_stored(
        self, report: RunReport, history: list[RunRecord], states: dict[str, str], keys: list[str]
    ) -> None:
        if self.report is not None:
            return  # the new evaluation finished first
        self._show_result(report, history, states, keys)
        if self.evaluation_error is not None:  # it failed first: say so over the stored run
            self._show_error_info()

    def _failed(self, message: str) -> None:
        self.evaluation_error = message
        self.query_one("#findings-table", DataTable).loading = False
        self._show_error_info()
        self.notify(message, title=tr("评估失败", "Evaluation failed"), severity="error")

    def _show_error_info(self) -> None:
        message = self.evaluation_error or ""
        if self.report is not None and self.report.run.stored:
            message += tr(
                f"\n（仍显示上次保存的评估 {self.report.run.id}）",
                f"\n(still showing the stored run {self.report.run.id})",
            )
        self.query_one(DashboardTab).show_info(Text(message, style="red"))

    def _show_result(
        self, report: RunReport, history: list[RunRecord], states: dict[str, str], keys: list[str]
    ) -> None:
        """`keys`: what the Findings filter searches, made by the worker."""
        self.report, self.history, self.states, self.finding_keys = report, history, states, keys
        self.findings_by_entity = report.by_entity()
        self.query_one(DashboardTab).show_run(report, history)
        self.query_one(FindingsTab).fill()
        self.query_one(ActionsPane).reload()
        self.query_one(PacksTab).load()  # pack files and params as this run read them
        self._maybe_backtest()
        table = self.query_one("#findings-table", DataTable)
        table.loading = False
        if self.active_tab() == "findings" and not isinstance(self.focused, Input):
            table.focus()  # keys move through the findings, unless typing or on another tab
        total, run = len(report.findings), report.run
        started = run.started_at.replace("T", " ").removesuffix("Z")
        self.sub_title = self.workspace.root.name
        if not run.stored:
            self.notify(tr(f"评估完成：{total} 条发现", f"Evaluated: {total} findings"), timeout=3)
            return
        self.sub_title += tr(
            f" — 上次保存的评估 {started}，截至 {run.as_of}",
            f" — stored run {started}, as of {run.as_of}",
        )
        self.notify(
            tr(
                f"显示上次保存的评估（{started}）：{total} 条发现；正在重新评估…",
                f"Showing the stored run of {started}: {total} findings; evaluating again…",
            ),
            timeout=3,
        )

    def _show_records(
        self, creators: list[Any], grants: list[Any], holds: dict, keys: list[str]
    ) -> None:
        self.creator_facts, self.grant_facts, self.holds = creators, grants, holds
        self.creator_keys = keys
        self.query_one(DashboardTab).show_expiring(grants)
        self.in_turn.add(self.query_one(CreatorsTab).fill, self.query_one(GrantsTab).fill)

    @on(Acted)
    def _acted(self, message: Acted) -> None:
        """Every tab shows the new states at once; only the changed rows are drawn again."""
        states = message.states
        changed = {
            fp for fp in states.keys() | self.states.keys() if states.get(fp) != self.states.get(fp)
        }
        self.states = states
        if message.holds is not None:
            held = {key[1] for key in self.holds.keys() ^ message.holds.keys() if key[0] == "grant"}
            self.holds = message.holds
            self.query_one(GrantsTab).holds_changed(held)
        self.query_one(ActionsPane).reload()
        self.query_one(FindingsTab).update_rows(changed)
        self.query_one(CreatorsTab).records_changed(message.changes)
        self.query_one(GrantsTab).records_changed(message.changes)
        self.notify(message.text, timeout=4)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.worker_failed(event)

    def worker_failed(self, event: Worker.StateChanged) -> None:
        """A worker that fails unexpectedly (a bug, a database gone from under us) is said in
        place, and the app keeps running: an evaluation's failure on the run line, others
        as a toast. Textual tells only a worker's own node: the tabs and dialogs that run
        workers pass it on here (`widgets.SaysWorkerErrors`)."""
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        first = str(error).strip().splitlines()[:1] or [""]
        message = for_terminal(f"{type(error).__name__}: {first[0]}", one_line=True)
        if event.worker.group == "evaluate":
            self._failed(message)
        else:
            self.notify(message, title=tr("出错了", "Something failed"), severity="error")

    # -- backtest -----------------------------------------------------------------------

    @on(TabbedContent.TabActivated)
    def _tab_changed(self) -> None:
        self.refresh_bindings()
        self._maybe_backtest()

    def _maybe_backtest(self) -> None:
        """The backtest chart is drawn when the dashboard or packs tab is first shown after
        an evaluation (it evaluates 30 days: not worth doing for every run)."""
        if self.report is None:
            return
        as_of, run = self.report.run.as_of, self.report.run.id  # a new run may mean new data:
        if self.active_tab() in ("dashboard", "packs") and self._backtest_for != (as_of, run):
            self._backtest_for = (as_of, run)  # asked again (remembered if nothing changed)
            self.query_one(DashboardTab).show_backtest(None)
            self._run_backtest(as_of)

    @work(thread=True, exclusive=True, group="backtest", exit_on_error=False)
    def _run_backtest(self, as_of: date) -> None:
        from qcrules.errors import QcrulesError

        try:
            result, _ = service.remembered_backtest(  # else a child process: the UI keeps
                self.workspace,  # the GIL
                as_of - timedelta(days=BACKTEST_DAYS - 1),
                as_of,
                started=self._children.append,
            )
        except QcrulesError as exc:
            if not self.is_running or self._exit:
                return  # killed as the app closed
            failure = for_terminal(exc.message)
            self.call_from_thread(lambda: self.query_one(DashboardTab).show_backtest(failure))
            return
        self.call_from_thread(self._show_backtest, result)

    def _show_backtest(self, result: Any) -> None:
        self.backtest = result
        self.query_one(DashboardTab).show_backtest(result)
        self.query_one(PacksTab).show_rule()
