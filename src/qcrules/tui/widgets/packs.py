"""The Packs tab (规则包): every rule of the packs in effect with its condition, parameters,
source, 30-day backtest and pack tests (t); diagnostics of a broken pack in place; and the
what-if pane — pick a parameter, type a value, see the findings it adds and removes, save it
to qcrules.toml after a confirmation."""

from __future__ import annotations

from datetime import date
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.timer import Timer
from textual.widgets import Button, DataTable, Input, Select, Static

from qcrules import service
from qcrules.i18n import tr
from qcrules.safety import for_terminal
from qcrules.tui.present import (
    ENTITY_LABEL,
    LEVEL_LABEL,
    LEVEL_STYLE,
    action_label,
    count_bars,
    label,
    safe_finding,
    while_open,
)
from qcrules.tui.screens import ConfirmChange
from qcrules.tui.widgets import RunTab, add_columns, narrow
from qcrules.tui.widgets.paged import PagedTable

WHATIF_PAUSE_S = 0.4  # a what-if starts once typing pauses this long


class PacksTab(RunTab):
    def __init__(self, title: str, **kwargs: Any) -> None:
        super().__init__(title, **kwargs)
        self.packset: Any = None
        self.rules: list[tuple[Any, Any, bool]] = []  # (pack, rule, enabled) in the table
        self.pack_tests: dict[str, list[Any]] = {}  # pack id -> its test results
        self.whatif: Any = None  # the shown what-if (qcrules.backtest.WhatIf)
        self.whatif_overrides: dict[str, dict[str, Any]] | None = None
        # a what-if evaluates twice: it starts once typing pauses, one at a time
        self._whatif_timer: Timer | None = None
        self._whatif_running = False
        self._whatif_again = False  # the value changed while one was running
        self.whatif_runs = 0  # what-ifs started (each is two evaluations)
        self.whatif_pause_s = WHATIF_PAUSE_S

    @property
    def whatif_settled(self) -> bool:
        """No what-if waiting to start or running."""
        return self._whatif_timer is None and not self._whatif_running

    NARROWS = "#packs-body"

    def compose_content(self) -> ComposeResult:
        small = bool(narrow(self.app.size.width))
        with Horizontal(id="packs-body", classes=narrow(self.app.size.width)):
            yield PagedTable(id="rules-table", cursor_type="row", zebra_stripes=True)
            with Vertical(id="packs-side"):
                with VerticalScroll(id="rule-detail-scroll"):
                    yield Static(id="rule-detail")
                with Vertical(id="whatif"):
                    yield Static(
                        tr(
                            "假设分析：选一个参数，输入新值，即时看到增减的发现",
                            "What if: pick a parameter, type a value, see the findings change",
                        ),
                        classes="chart-title",
                    )
                    with Horizontal(id="whatif-inputs"):
                        yield Select[str](
                            [], id="whatif-param", prompt=tr("参数", "Parameter"), compact=small
                        )
                        yield Input(
                            placeholder=tr("新值", "new value"), id="whatif-value", compact=small
                        )
                        yield Button(
                            tr("保存到 qcrules.toml", "Save to qcrules.toml"),
                            id="whatif-save",
                            disabled=True,
                            compact=small,
                        )
                    with VerticalScroll(id="whatif-scroll"):
                        yield Static(id="whatif-result")

    def on_resize(self) -> None:
        """Narrow, the what-if's inputs are one line each (the grant form's look): its
        results keep rows of their own under them."""
        super().on_resize()
        small = bool(narrow(self.app.size.width))
        for widget in self.query("#whatif-inputs > *"):
            widget.compact = small  # type: ignore[attr-defined]

    def content_mounted(self) -> None:
        table = self.query_one("#rules-table", PagedTable)
        # the key columns first (a rule's id, level and action), as on the Findings and
        # Actions tabs: at 80×24 they stay in view, the action's words cut with "…" if they
        # must; the name, entity and pack after them (the detail beside names them too)
        add_columns(
            table,
            (
                ("rule", tr("规则", "Rule")),
                ("level", tr("级别", "Level")),
                ("action", tr("建议动作", "Action")),
                ("name", tr("名称", "Name")),
                ("entity", tr("对象", "Entity")),
                ("pack", tr("规则包", "Pack")),
                ("on", tr("启用", "On")),
            ),
        )
        table.keep_in_view("action", {"action": 10})
        self.load()

    # -- the packs ----------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="packs", exit_on_error=False)
    def load(self) -> None:
        packset = service.packs(self.qapp.workspace)
        self.app.call_from_thread(self._show_packs, packset)

    def _show_packs(self, packset: Any) -> None:
        self.packset = packset
        select = self.query_one("#whatif-param", Select)
        chosen = select.value
        options = [
            (f"{pack.id}.{name} = {value!r}", f"{pack.id}.{name}")
            for pack in [*packset.packs, *packset.disabled]
            for name, value in pack.params.items()
        ]
        select.set_options(options)
        if isinstance(chosen, str) and any(v == chosen for _, v in options):
            select.value = chosen
        self.rules = [
            (pack, rule, enabled)
            for packs, enabled in ((packset.packs, True), (packset.disabled, False))
            for pack in packs
            for rule in pack.rules
        ]
        table = self.query_one("#rules-table", PagedTable)
        table.show(self.rules, self._cells, key=lambda row: (row[0].id, row[1].id))
        self.show_rule()

    def _cells(self, row: tuple[Any, Any, bool]) -> list[Text]:
        pack, rule, enabled = row
        on = enabled and rule.enabled
        return [
            Text(rule.id, style="" if on else "dim"),  # its ✘ may be out of view (80×24)
            Text(label(LEVEL_LABEL, rule.level), style=LEVEL_STYLE.get(rule.level, "")),
            Text(action_label(self.qapp.kinds, rule.action_kind)),
            Text(rule.name),
            Text(label(ENTITY_LABEL, rule.entity)),
            Text(pack.id),
            Text("✔" if on else "✘", style="green" if on else "dim"),
        ]

    def show_rule(self) -> None:
        from qcrules.i18n import pick

        detail = self.query_one("#rule-detail", Static)
        out = Text()
        for diagnostic in self.packset.diagnostics if self.packset is not None else []:
            out.append(diagnostic.render(None) + "\n\n", style="red")
        row = self.query_one("#rules-table", DataTable).cursor_row
        if not self.rules or not 0 <= row < len(self.rules):
            detail.update(out)
            return
        pack, rule, enabled = self.rules[row]
        out.append(f"{rule.id} {rule.name}\n", style="bold")
        out.append(label(LEVEL_LABEL, rule.level), style=LEVEL_STYLE.get(rule.level, ""))
        origin = {"builtin": tr("内置", "built-in"), "folder": tr("文件夹", "folder")}.get(
            pack.origin, tr(f"插件 {pack.origin}", f"plugin {pack.origin}")
        )
        out.append(f" · {pack.id} {pack.version} ({origin})")
        if not enabled:
            out.append(tr("  已在 qcrules.toml 停用", "  disabled in qcrules.toml"), style="dim")
        out.append("\n\n" + tr("条件：", "When: "), style="bold")
        out.append(" ".join(rule.when.split()) + "\n")
        if pack.guard:
            out.append(tr("前提：", "Guard: "), style="bold")
            out.append(f"{pack.guard}\n")
        if rule.params_used:
            out.append(tr("参数：", "Params: "), style="bold")
            out.append(", ".join(f"{p} = {pack.params.get(p)}" for p in rule.params_used) + "\n")
        out.append(tr("建议动作：", "Action: "), style="bold")
        out.append(action_label(self.qapp.kinds, rule.action_kind) + "\n")
        out.append(tr("来源：", "Source: "), style="bold")
        out.append(f"{rule.source}\n\n")
        why = pick(rule.why) or pick(rule.message)
        if why:
            out.append(why + "\n")
        self._backtest_lines(out, rule.id)
        self._test_lines(out, pack.id, rule.id)
        detail.update(out)

    def _backtest_lines(self, out: Text, rule_id: str) -> None:
        backtest = self.qapp.backtest
        if backtest is None:
            return
        days = backtest.days
        summary = backtest.rules.get(rule_id)
        out.append(
            tr(f"\n近 {len(days)} 天回测：", f"\nBacktest, last {len(days)} days: "), style="bold"
        )
        out.append(count_bars([d.by_rule.get(rule_id, 0) for d in days]) + "\n")
        if summary:
            out.append(
                tr(
                    f"  首次触发 {summary['first_seen']}，触发 {summary['days_firing']} 天，"
                    f"涉及 {summary['entities']} 个对象\n",
                    f"  first seen {summary['first_seen']}, firing on "
                    f"{summary['days_firing']} days, {summary['entities']} entities\n",
                ),
                style="dim",
            )
        else:
            out.append(tr("  这段时间未触发\n", "  did not fire in these days\n"), style="dim")

    def _test_lines(self, out: Text, pack_id: str, rule_id: str) -> None:
        results = self.pack_tests.get(pack_id)
        if results is None:
            out.append(
                tr("\n按 t 运行包内测试", "\nPress t to run the tests in the packs"), style="dim"
            )
            return
        passed = sum(1 for r in results if r.passed)
        out.append(
            tr(
                f"\n包内测试：{passed} 通过，{len(results) - passed} 失败\n",
                f"\nPack tests: {passed} passed, {len(results) - passed} failed\n",
            ),
            style="bold",
        )
        for result in results:
            if rule_id in result.test.expect or rule_id in result.fired:
                out.append(f"  {'✔' if result.passed else '✘'} {result.test.name}\n")

    @on(DataTable.RowHighlighted, "#rules-table")
    @while_open
    def _rule_highlighted(self) -> None:
        self.show_rule()
        row = self.query_one("#rules-table", DataTable).cursor_row
        if 0 <= row < len(self.rules) and not self.query_one("#whatif-value", Input).value:
            pack, rule, _ = self.rules[row]
            if rule.params_used:  # the what-if pane offers the rule's own parameter
                self.query_one("#whatif-param", Select).value = f"{pack.id}.{rule.params_used[0]}"

    @work(thread=True, exclusive=True, group="packs", exit_on_error=False)
    def run_tests(self) -> None:
        from qcrules.errors import QcrulesError

        try:
            results = service.test_packs(self.qapp.workspace)
        except QcrulesError as exc:
            self.app.call_from_thread(self.notify, exc.message, severity="error")
            return
        self.app.call_from_thread(self._show_pack_tests, results)

    def _show_pack_tests(self, results: list[Any]) -> None:
        by_pack: dict[str, list[Any]] = {}
        for result in results:
            by_pack.setdefault(result.pack, []).append(result)
        self.pack_tests = by_pack
        failed = [r for r in results if not r.passed]
        self.show_rule()
        self.notify(
            tr(
                f"包内测试：{len(results) - len(failed)} 通过，{len(failed)} 失败",
                f"Pack tests: {len(results) - len(failed)} passed, {len(failed)} failed",
            ),
            severity="error" if failed else "information",
        )

    # -- what-if ------------------------------------------------------------------------

    def _whatif_item(self) -> str | None:
        param = self.query_one("#whatif-param", Select).value
        value = self.query_one("#whatif-value", Input).value.strip()
        if not isinstance(param, str) or not value:
            return None
        return f"{param}={value}"

    @on(Select.Changed, "#whatif-param")
    @while_open
    def _whatif_param_changed(self) -> None:
        param = self.query_one("#whatif-param", Select).value
        box = self.query_one("#whatif-value", Input)
        if isinstance(param, str):
            now = self._param_now(param)
            box.placeholder = tr(f"新值（现为 {now}）", f"new value (now {now})")
        self._whatif_changed()

    def _param_now(self, param: str) -> Any:
        pack_id, _, name = param.partition(".")
        packset = self.packset
        for pack in [*packset.packs, *packset.disabled] if packset is not None else []:
            if pack.id == pack_id:
                return pack.params.get(name)
        return None

    @on(Input.Changed, "#whatif-value")
    @while_open
    def _whatif_changed(self) -> None:
        self.query_one("#whatif-save", Button).disabled = True
        self.whatif = self.whatif_overrides = None
        item = self._whatif_item()
        result = self.query_one("#whatif-result", Static)
        if item is None:
            result.update("")
            return
        result.update(Text(tr("正在计算…", "Working it out…"), style="dim"))
        if self._whatif_timer is not None:
            self._whatif_timer.stop()
        self._whatif_timer = self.set_timer(self.whatif_pause_s, self._start_whatif)

    def _start_whatif(self) -> None:
        """Each what-if is two evaluations (in a child process): started for every keystroke
        they piled up, competing with each other and with the screen. One runs at a time,
        for the value in the box when typing paused."""
        self._whatif_timer = None
        item = self._whatif_item()
        if item is None:
            return
        if self._whatif_running:
            self._whatif_again = True
            return
        self._whatif_running, self._whatif_again = True, False
        self.whatif_runs += 1
        report = self.qapp.report
        as_of = report.run.as_of if report else self.qapp.as_of
        self._run_whatif(item, as_of)

    def _whatif_ended(self) -> None:
        self._whatif_running = False
        if self._whatif_again and self._whatif_timer is None:
            self._start_whatif()

    @work(thread=True, exclusive=True, group="whatif", exit_on_error=False)
    def _run_whatif(self, item: str, as_of: date | None) -> None:
        try:
            with self.qapp.collector.working():
                shown = self._whatif_result(item, as_of)
            if shown is not None:
                self.app.call_from_thread(self._show_whatif, item, *shown)
        finally:
            if self.app.is_running and not self.app._exit:
                self.app.call_from_thread(self._whatif_ended)

    def _whatif_result(self, item: str, as_of: date | None) -> tuple | None:
        """(overrides, what-if, problem) to show, from the worker's thread."""
        from dataclasses import replace

        from textual.worker import get_current_worker

        from qcrules.errors import QcrulesError

        app = self.qapp
        workspace = app.workspace
        try:
            overrides = service.parse_param_sets(workspace, [item])
            # apart: a thread of the app would keep quitting waiting until its evaluations
            # end (Python waits for it); a child is killed as the app closes (app.on_unmount)
            result = service.whatif_apart(
                workspace, overrides, as_of=as_of, started=app._children.append
            )
        except QcrulesError as exc:
            if get_current_worker().is_cancelled or not app.is_running or app._exit:
                return None  # killed as the app closed
            message = for_terminal(exc.message + (f"\n{exc.hint}" if exc.hint else ""))
            return (None, None, message)
        result = replace(
            result,
            added=[safe_finding(f) for f in result.added],
            removed=[safe_finding(f) for f in result.removed],
        )
        return None if get_current_worker().is_cancelled else (overrides, result, None)

    def _show_whatif(self, item: str, overrides: Any, result: Any, problem: str | None) -> None:
        if item != self._whatif_item():
            return  # typed on since: a newer what-if is on its way
        out = Text()
        if problem is not None:
            out.append(problem, style="red")
            self.query_one("#whatif-result", Static).update(out)
            return
        self.whatif, self.whatif_overrides = result, overrides
        out.append(
            tr(
                f"新增 {len(result.added)}，消失 {len(result.removed)}，不变 {result.unchanged}"
                f"（截至 {result.as_of}）\n",
                f"{len(result.added)} added, {len(result.removed)} removed, "
                f"{result.unchanged} unchanged (as of {result.as_of})\n",
            ),
            style="bold",
        )
        for sign, style, findings in (("+", "green", result.added), ("-", "red", result.removed)):
            for finding in findings:
                entity = finding.subject
                out.append(f"{sign} ", style=style)
                out.append(f"{finding.rule} ", style=LEVEL_STYLE.get(finding.level, ""))
                out.append(f"{entity.type} {entity.id}")
                if entity.name:
                    out.append(f" {entity.name}", style="dim")
                out.append("\n")
        self.query_one("#whatif-result", Static).update(out)
        self.query_one("#whatif-save", Button).disabled = False

    @on(Button.Pressed, "#whatif-save")
    def save_whatif(self) -> None:
        overrides = self.whatif_overrides
        if not overrides:
            return
        if not self.qapp.store:
            self.notify(
                tr(
                    "只读模式（--no-store）：不能保存参数",
                    "Read-only (--no-store): parameters are not saved",
                ),
                severity="warning",
            )
            return
        changes = "\n".join(
            f"[params.{pack}] {name} = {value!r}   "
            f"({tr('现为', 'now')} {self._param_now(f'{pack}.{name}')!r})"
            for pack, values in overrides.items()
            for name, value in values.items()
        )
        added, removed = len(self.whatif.added), len(self.whatif.removed)
        screen = ConfirmChange(
            tr("保存参数到 qcrules.toml？", "Save the parameter to qcrules.toml?"),
            f"{self.qapp.workspace.config.path}\n\n{changes}\n\n"
            + tr(
                f"之后的评估将新增 {added} 条、减少 {removed} 条发现。",
                f"Later evaluations will add {added} and drop {removed} findings.",
            ),
            prompt=tr("备注（可不填）", "Note (optional)"),
            confirm=tr("保存", "Save"),
            required=False,
        )
        self.app.push_screen(
            screen, lambda note: note is not None and self._save(overrides, note or None)
        )

    @work(thread=True, exclusive=True, group="act", exit_on_error=False)
    def _save(self, overrides: dict[str, dict[str, Any]], note: str | None = None) -> None:
        from qcrules.errors import QcrulesError

        try:
            path = service.save_params(self.qapp.workspace, overrides, note=note)
        except QcrulesError as exc:
            self.app.call_from_thread(self.notify, exc.message, severity="error")
            return
        self.app.call_from_thread(self._saved, path)

    def _saved(self, path: Any) -> None:
        self.notify(tr(f"已保存到 {path}", f"Saved to {path}"), timeout=4)
        self.query_one("#whatif-value", Input).value = ""
        self.load()
        self.qapp.action_evaluate()
