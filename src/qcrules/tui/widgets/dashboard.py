"""The Dashboard tab: the last run at a glance (findings by level and pack, entities judged,
actions waiting, grants expiring this week), the findings of past runs, and a backtest of
the last 30 days by level."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Sparkline, Static

from qcrules.findings import RunReport
from qcrules.i18n import tr
from qcrules.tui.present import (
    BACKTEST_DAYS,
    ENTITY_LABEL,
    LEVEL_LABEL,
    LEVEL_STYLE,
    LEVELS,
    action_kind,
    action_label,
    backtest_chart,
    label,
)
from qcrules.tui.widgets import RunTab

if TYPE_CHECKING:
    from qcrules.service import RunRecord


CARD_ROWS = 8  # rows a list card shows: the backtest chart below stays on a 45-line screen


class DashboardTab(RunTab):
    def compose_content(self) -> ComposeResult:
        with VerticalScroll(id="dashboard-body"):
            yield Static(tr("正在评估…", "Evaluating…"), id="run-info")
            with Horizontal(classes="cards"):
                yield Static(id="levels", classes="card")
                yield Static(id="by-pack", classes="card")
                yield Static(id="entities", classes="card")
            with Horizontal(classes="cards"):
                yield Static(id="queue", classes="card")
                yield Static(id="expiring", classes="card")
            yield Static(tr("历次评估的发现数", "Findings over past runs"), id="history-title")
            yield Sparkline([], id="history")
            yield Static(
                tr(
                    f"回测：近 {BACKTEST_DAYS} 天每天的发现数（按级别）",
                    f"Backtest: findings per day over the last {BACKTEST_DAYS} days, by level",
                ),
                classes="chart-title",
            )
            yield Static(tr("正在回测…", "Backtesting…"), id="backtest-chart")

    def show_info(self, info: Text | str) -> None:
        """The run line: the run shown, or that one is under way or failed."""
        self.query_one("#run-info", Static).update(info)

    def show_run(self, report: RunReport, history: list[RunRecord]) -> None:
        run, summary = report.run, report.summary
        info = Text()
        if run.stored:
            info.append(tr("上次保存的评估（正在重新评估…）", "Stored run (evaluating again…) "))
        info.append(tr("最近一次评估 ", "Last run "), style="bold")
        info.append(f"{run.id}  ")
        info.append(tr(f"截至 {run.as_of}", f"as of {run.as_of}"))
        info.append(f"  {run.duration_ms} ms  ")
        info.append(tr(f"引擎 {run.engine}", f"engine {run.engine}"))
        info.append("\n" + tr("规则包：", "Packs: "))
        info.append(", ".join(f"{p['id']} {p['version']}" for p in run.packs))
        self.show_info(info)

        levels = Table.grid(padding=(0, 2))
        levels.add_row(Text(tr("按级别", "By level"), style="bold"), "")
        for level in LEVELS:
            count = summary["findings"].get(level, 0)
            levels.add_row(Text(label(LEVEL_LABEL, level), style=LEVEL_STYLE[level]), str(count))
        levels.add_row(tr("数据不足", "insufficient data"), str(summary["insufficient_data"]))
        levels.add_row(tr("已豁免", "waived"), str(summary["waived"]))
        self.query_one("#levels", Static).update(levels)

        by_pack: dict[str, int] = {}
        for finding in report.findings:
            by_pack[finding.pack] = by_pack.get(finding.pack, 0) + 1
        packs = Table.grid(padding=(0, 2))
        packs.add_row(Text(tr("按规则包", "By pack"), style="bold"), "")
        for pack, count in sorted(by_pack.items()):
            packs.add_row(pack, str(count))
        self.query_one("#by-pack", Static).update(packs)

        entities = Table.grid(padding=(0, 2))
        entities.add_row(Text(tr("评估对象", "Entities judged"), style="bold"), "")
        for entity, count in summary["entities"].items():
            entities.add_row(label(ENTITY_LABEL, entity), str(count))
        expiring = sum(
            1
            for f in report.findings
            if f.subject.type == "grant" and action_kind(f) == "renew_grant"
        )
        entities.add_row(tr("待续期授权", "grants to renew"), str(expiring))
        self.query_one("#entities", Static).update(entities)

        waiting: dict[str, int] = {}
        for finding in report.findings:
            kind = action_kind(finding)
            if finding.superseded_by or kind is None:
                continue
            waiting[kind] = waiting.get(kind, 0) + 1
        queue = Table.grid(padding=(0, 2))
        queue.add_row(Text(tr("待处理动作", "Actions waiting"), style="bold"), "")
        ranked = sorted(waiting.items(), key=lambda item: -item[1])
        for kind, count in ranked[:CARD_ROWS]:
            queue.add_row(action_label(self.qapp.kinds, kind), str(count))
        if len(ranked) > CARD_ROWS:  # the rest on the Actions tab; the chart stays in view
            rest = sum(count for _, count in ranked[CARD_ROWS:])
            more = len(ranked) - CARD_ROWS
            queue.add_row(
                tr(f"……另有 {more} 种（o 查看全部）", f"… {more} more kinds (o: all)"), str(rest)
            )
        self.query_one("#queue", Static).update(queue)

        self.show_history([run.findings for run in history] or [len(report.findings)])

    def show_history(self, totals: list[int]) -> None:
        """Findings per stored run, oldest first. One run is said in words: a sparkline of
        one value is a solid bar that reads as a trend."""
        title, chart = self.query_one("#history-title", Static), self.query_one(Sparkline)
        chart.display = len(totals) > 1
        title.set_class(len(totals) < 2, "alone")
        if len(totals) < 2:
            title.update(
                tr(
                    f"历次评估的发现数：目前只有一次评估（{totals[0]} 条），再评估一次即可看到趋势",
                    f"Findings over past runs: one run so far ({totals[0]}); "
                    "the trend shows from the second",
                )
            )
            return
        chart.data = totals
        title.update(
            tr(
                f"历次评估的发现数（最近 {len(totals)} 次：{min(totals)}–{max(totals)}，"
                f"最新 {totals[-1]}）",
                f"Findings over past runs (last {len(totals)}: {min(totals)}–{max(totals)}, "
                f"latest {totals[-1]})",
            )
        )

    def show_expiring(self, grants: list[Any]) -> None:
        soon = sorted(
            (
                f
                for f in grants
                if f.values.get("status") == "active"
                and f.values.get("days_to_expiry") is not None
                and 0 <= f.values["days_to_expiry"] <= 7
                and not f.values.get("is_permanent")
            ),
            key=lambda f: f.values["days_to_expiry"],
        )
        card = Table.grid(padding=(0, 2))
        card.add_row(
            Text(
                tr(f"本周到期的授权（{len(soon)}）", f"Grants expiring this week ({len(soon)})"),
                style="bold",
            ),
            "",
        )
        for fact in soon[:CARD_ROWS]:
            card.add_row(
                f"{fact.entity_id} {fact.values.get('creator.nickname') or ''}",
                tr(f"{fact.values['days_to_expiry']} 天", f"{fact.values['days_to_expiry']} d"),
            )
        if len(soon) > CARD_ROWS:
            more = len(soon) - CARD_ROWS
            card.add_row(tr(f"……另有 {more} 个（g 查看）", f"… and {more} more (g)"), "")
        self.query_one("#expiring", Static).update(card)

    def show_backtest(self, result: Any) -> None:
        """The chart, its progress (None) or its failure (a message)."""
        chart = self.query_one("#backtest-chart", Static)
        if result is None:
            chart.update(tr("正在回测…", "Backtesting…"))
        elif isinstance(result, str):
            chart.update(Text(result, style="red"))
        else:
            chart.update(backtest_chart(result))
