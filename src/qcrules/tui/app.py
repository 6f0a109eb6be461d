"""The Textual UI: the morning screen of an operator (投手).

It calls the service API only (no SQL, no engine). Evaluation and explanations run in
worker threads, so the screen never freezes; the findings table is filtered in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import (
    Button,
    DataTable,
    Footer,
    Header,
    Input,
    Select,
    Sparkline,
    Static,
    TabbedContent,
    TabPane,
)

from qcrules import service
from qcrules.i18n import tr
from qcrules.safety import for_terminal, safe_data
from qcrules.service import AUTH_LABEL, CHANNEL_LABEL, SCOPE_LABEL, STATUS_LABEL
from qcrules.tui.keys import bind, said, speak
from qcrules.tui.memory import QuietCollector
from qcrules.tui.screens import ConfirmChange, HelpScreen
from qcrules.tui.widgets import add_columns
from qcrules.tui.widgets.actions import ActionsPane
from qcrules.tui.widgets.charts import GrantCharts
from qcrules.tui.widgets.paged import PagedTable
from qcrules.workspace import Workspace

LEVELS = ("critical", "error", "warn", "info")
LEVEL_STYLE = {
    "critical": "bold white on red",
    "error": "bold red",
    "warn": "yellow",
    "info": "cyan",
}
LEVEL_LABEL = {
    "critical": ("严重", "critical"),
    "error": ("错误", "error"),
    "warn": ("警告", "warn"),
    "info": ("提示", "info"),
}
# the tabs where a key's action applies (any other action works on every tab)
ACTION_TABS: dict[str, tuple[str, ...]] = {
    "apply": ("findings", "actions"),
    "dismiss": ("findings", "actions"),
    "hold": ("findings", "actions", "grants"),
    "explain": ("findings",),
    "cycle_level": ("findings",),
    "sort_next": ("findings",),
    "sort_reverse": ("findings",),
    "pool": ("creators",),
    "request_grant": ("creators", "grants"),
    "renew_grant": ("grants",),
    "mark_grant": ("grants",),
}
STATE_MARK = {"applied": "✔", "dismissed": "✘", "held": "⏸"}
VERB_LABEL = {"hold": ("暂停", "hold"), "dismiss": ("忽略", "dismiss"), "undo": ("撤销", "undo")}
POOL_ACT_LABEL = {
    "in_pool": ("加入达人池", "add to the pool"),
    "candidate": ("移出达人池", "remove from the pool"),
    "excluded": ("排除出达人池", "exclude from the pool"),
}
SHEET_DAYS = 14  # the monitoring tab's window
POOL_LABEL = {
    "in_pool": ("已入池", "in pool"),
    "candidate": ("候选", "candidate"),
    "excluded": ("已排除", "excluded"),
    "—": ("未入池", "not in pool"),
}
VALUE_LABELS = {  # fact fields whose values are words an operator knows in zh
    "status": STATUS_LABEL,
    "pool_status": POOL_LABEL,
    "auth_type": AUTH_LABEL,
    "scope": SCOPE_LABEL,
    "channel": CHANNEL_LABEL,
}
POOL_STYLE = {"in_pool": "green", "excluded": "red", "candidate": "yellow"}
BLOCKS = "▁▂▃▄▅▆▇█"
OUT_OF_BAND = {"low", "below", "above", "broad"}
STATE_LABEL = {
    "open": ("待处理", "open"),
    "applied": ("已执行", "applied"),
    "dismissed": ("已忽略", "dismissed"),
    "held": ("暂停中", "on hold"),
    "superseded": ("被取代", "superseded"),
}
ENTITY_LABEL = {
    "creator": ("达人", "creator"),
    "grant": ("授权", "grant"),
    "merchant": ("商家", "merchant"),
}


def _safe_fact(fact: Any) -> Any:
    """A fact as the TUI shows it: no control sequence from the data reaches the terminal."""
    return replace(
        fact,
        entity_id=for_terminal(fact.entity_id, one_line=True),
        values=safe_data(fact.values),
    )


def _label(table: dict[str, tuple[str, str]], key: str) -> str:
    zh, en = table.get(key, (key, key))
    return tr(zh, en)


def _action_params(params: dict[str, Any]) -> str:
    """An action's parameters as an operator reads them: 30 天, not {'days': 30}."""
    words = []
    for name, value in params.items():
        if name == "days":
            words.append(tr(f"{value} 天", f"{value} days"))
        else:
            words.append(f"{name} {value}")
    return tr("，", ", ").join(words)


def _ratio_text(value: float | None, fmt: str, style: str = "") -> Text:
    return Text("—" if value is None else fmt.format(value), style=style)


def _below_style(value: float | None, line: float | None) -> str:
    if value is None or line is None:
        return ""
    return "bold red" if value < line else "green"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.2%}"


def field_value(spec: Any, name: str, value: Any) -> str:
    """A fact value as an operator reads it: percent, ¥, days, 是/否, states in words."""
    if value is None:
        return tr("缺失", "missing")
    if isinstance(value, bool):
        return tr("是", "yes") if value else tr("否", "no")
    if name in VALUE_LABELS:
        return _label(VALUE_LABELS[name], str(value))
    unit = spec.unit if spec is not None else ""
    if isinstance(value, int | float):
        if unit == "ratio":
            return f"{value:.2%}"
        if unit == "CNY":
            return f"¥{value:,.2f}"
        if unit == "days":
            return tr(f"{value:g} 天", f"{value:g} days")
        return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"
    return str(value)


def _trend(values: list[float | None]) -> str:
    """A sparkline of the days (a space where a day has no value)."""
    known = [v for v in values if v is not None]
    if not known:
        return ""
    low, high = min(known), max(known)
    span = (high - low) or 1.0
    return "".join(
        " " if v is None else BLOCKS[min(len(BLOCKS) - 1, int((v - low) / span * len(BLOCKS)))]
        for v in values
    )


BACKTEST_DAYS = 30  # the dashboard's backtest chart


def count_bars(values: list[int]) -> str:
    """Counts per day as bars scaled to the largest (· for a day with none)."""
    top = max(values, default=0)
    if not top:
        return "·" * len(values)
    return "".join(
        "·" if not v else BLOCKS[min(len(BLOCKS) - 1, max(0, round(v / top * len(BLOCKS)) - 1))]
        for v in values
    )


def backtest_chart(result: Any) -> Text:
    """Findings per day by level over the backtest's days, one bar row per level."""
    out = Text()
    days = result.days
    if not days:
        return out
    for level in LEVELS:
        counts = [d.by_level.get(level, 0) for d in days]
        out.append(f"{_label(LEVEL_LABEL, level):<9}", style=LEVEL_STYLE[level])
        out.append(count_bars(counts), style=LEVEL_STYLE[level].replace("bold white on red", "red"))
        out.append(f"  {counts[-1]}  (max {max(counts)})\n")
    totals = [d.findings for d in days]
    out.append(f"{tr('合计', 'total'):<9}", style="bold")
    out.append(count_bars(totals))
    out.append(f"  {totals[-1]}  (max {max(totals)})\n")
    first, last = days[0].as_of, days[-1].as_of
    pad = " " * max(1, len(days) - 10)
    out.append(" " * 9 + f"{first:%m-%d}{pad}{last:%m-%d}\n", style="dim")
    return out


def sheet_table(sheet: Any) -> tuple[list[tuple[str, list[Any]]], list[list[Text]]]:
    """The monitoring tab's rows: per grant its days and the cells of its table row (built
    off the UI thread: 20k grants on a large workspace)."""
    from qcrules.report import ctr_band

    by_grant: dict[str, list[Any]] = {}
    for row in sheet.rows:
        by_grant.setdefault(row.grant_id, []).append(row)
    grant_rows = sorted(by_grant.items())
    cells = []
    for grant_id, days in grant_rows:
        last = days[-7:]
        clicks = sum(d.clicks for d in last)
        shows = sum(d.impressions for d in last)
        spend = sum(d.spend for d in last)
        gmv = sum(d.gmv or 0 for d in last)
        orders = sum(d.orders or 0 for d in last)
        ctr = clicks / shows if shows else None
        roi = gmv / spend if spend else None
        cvr = orders / clicks if clicks else None
        band = ctr_band(ctr, sheet.bands)
        out = sum(
            1
            for d in days
            if d.ctr_band in OUT_OF_BAND or d.roi_band == "below" or d.cvr_band == "below"
        )
        cells.append(
            [
                Text(grant_id),
                Text(days[0].nickname),
                Text(days[0].merchant_id),
                _ratio_text(
                    ctr, "{:.2%}", "bold red" if band in OUT_OF_BAND else ("green" if band else "")
                ),
                Text(_trend([d.ctr for d in days])),
                _ratio_text(roi, "{:.2f}", _below_style(roi, days[0].break_even_roi)),
                Text(_trend([d.roi for d in days])),
                _ratio_text(cvr, "{:.2%}", _below_style(cvr, days[0].industry_cvr)),
                Text(str(out), style="bold red" if out else "green"),
            ]
        )
    return grant_rows, cells


def _bar_chart(days: list[Any], bands: dict[str, float]) -> Text:
    """CTR per day as bars on a fixed scale, with the normal band's edges drawn in."""
    width = 40
    top = max([bands["ctr_broad"] * 1.2, *(d.ctr or 0 for d in days)])

    def column(value: float) -> int:
        return min(width - 1, int(value / top * width))

    edges = {column(bands["ctr_normal_min"]), column(bands["ctr_normal_max"])}
    out = Text(
        "\n" + tr("点击率（| 为正常区间边界）\n", "CTR (| marks the normal band)\n"), style="bold"
    )
    for d in days:
        bar = column(d.ctr) + 1 if d.ctr is not None else 0
        line = "".join("█" if i < bar else ("|" if i in edges else " ") for i in range(width))
        style = "red" if d.ctr_band in OUT_OF_BAND else "green"
        out.append(f"{d.day:%m-%d} ")
        out.append(line, style=style)
        out.append(f" {_pct(d.ctr)}\n")
    return out


@dataclass(frozen=True)
class Columns:
    """The findings table's columns: key and zh/en header."""

    # the key columns first: at 80×24 level, rule, entity and action stay in view
    keys: tuple[str, ...] = ("level", "rule", "entity", "action", "name", "merchant", "message")

    def headers(self) -> list[str]:
        names = {
            "level": tr("级别", "Level"),
            "rule": tr("规则", "Rule"),
            "entity": tr("对象", "Entity"),
            "name": tr("名称", "Name"),
            "merchant": tr("商家", "Merchant"),
            "message": tr("问题", "Finding"),
            "action": tr("建议动作", "Suggested action"),
        }
        return [names[key] for key in self.keys]


def _while_open(handler):
    """A table's highlight or a field's change can arrive while the app closes (a worker
    filled it just before quit): its pane is gone then, nothing to show — not a crash."""
    import functools

    from textual.css.query import NoMatches

    @functools.wraps(handler)
    def guarded(self, *args, **kwargs):
        try:
            return handler(self, *args, **kwargs)
        except NoMatches:
            if self._exit or self._closing or not self.screen_stack or not self.is_running:
                return None
            raise

    return guarded


class QcrulesCommands(Provider):
    """Command palette entries: every key binding's action, searchable by its zh/en name,
    listed with its key as soon as the palette opens."""

    async def discover(self) -> Hits:
        app = self.app
        assert isinstance(app, QcrulesApp)
        for text, action, help_text in app.palette_entries():
            yield DiscoveryHit(text, app.action_runner(action), help=help_text)

    async def search(self, query: str) -> Hits:
        app = self.app
        assert isinstance(app, QcrulesApp)
        matcher = self.matcher(query)
        for text, action, help_text in app.palette_entries():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), app.action_runner(action), help=help_text)


class QcrulesApp(App[None]):
    """Verdicts and suggested actions of the packs in effect, for one workspace."""

    TITLE = "qcrules"
    CSS = """
    #dashboard-body { padding: 1 2; }
    .cards { height: auto; }
    .card { width: 1fr; height: auto; border: round $primary; padding: 0 1; margin: 0 1 1 0; }
    #history { height: 3; margin: 0 0 1 0; }
    #filters { height: 3; }
    #filter { width: 1fr; }
    #level-filter { width: 28; content-align: center middle; height: 3; }
    #findings-table { width: 3fr; }
    #detail-scroll { width: 2fr; border-left: solid $primary; padding: 0 1; }
    #rules-table { width: 3fr; }
    #grants-table { width: 3fr; }
    #creator-filter { height: 3; }
    #creators-table, #grant-state-table { width: 3fr; }
    #creator-detail-scroll, #grant-state-scroll { width: 2fr; border-left: solid $primary;
        padding: 0 1; }
    #grant-detail-scroll { width: 2fr; border-left: solid $primary; padding: 0 1; }
    #packs-side { width: 2fr; border-left: solid $primary; }
    #rule-detail-scroll { height: 1fr; padding: 0 1; }
    #whatif { height: 1fr; border-top: solid $primary; padding: 0 1; }
    #whatif-inputs { height: 3; }
    #whatif-param { width: 2fr; }
    #whatif-value { width: 1fr; }
    #backtest-chart { height: auto; margin: 0 0 1 0; }
    /* under 120 columns the finding's detail goes below the table, so the key columns
       (level, rule, entity, suggested action) keep the whole width */
    Screen.-narrow #findings-split { layout: vertical; }
    Screen.-narrow #findings-table { width: 1fr; height: 1fr; }
    Screen.-narrow #detail-scroll { width: 1fr; height: 9; border-left: none;
        border-top: solid $primary; }
    """
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (120, "-wide")]
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
        bind("p", "show_tab('packs')", "规则包", "Packs", id="packs"),
        bind("t", "test_packs", "运行包内测试", "Test packs", id="test-packs"),
        bind("escape", "clear_filter", "清除筛选", "Clear filter", show=False, id="clear"),
        bind("question_mark,f1", "help", "帮助", "Help", id="help"),
        bind("q", "quit", "退出", "Quit", id="quit"),
    ]

    def __init__(
        self, workspace: Workspace, *, as_of: date | None = None, store: bool = True
    ) -> None:
        from qcrules.tui.grant_form import GrantForm, MarkGrant

        # the footer, help and palette in the language in effect now, not at import
        speak(type(self), ActionsPane, ConfirmChange, HelpScreen, GrantForm, MarkGrant)
        super().__init__()
        self.workspace = workspace
        self.as_of = as_of
        self.store = store
        self.report: dict[str, Any] | None = None
        self.history: list[dict[str, Any]] = []
        self.level_filter: str | None = None
        self.shown: list[dict[str, Any]] = []  # the findings in the table, in its order
        self.sort_key: str | None = None
        self.sort_reverse = False
        self.columns = Columns()
        self.kinds = service.action_kinds()
        self.fields = {(spec.entity, spec.name): spec for spec in service.fact_fields()}
        self.explanation: str | None = None
        self.states: dict[str, str] = {}  # fingerprint -> state in the action queue
        # (entity type, id, merchant or None for any) -> the run's findings of that entity
        self.findings_by_entity: dict[tuple, list[dict[str, Any]]] = {}
        self.rules: list[tuple[Any, Any, bool]] = []  # (pack, rule, enabled) in the packs table
        self.pack_tests: dict[str, list[Any]] = {}  # pack id -> its test results
        self.sheet: Any = None  # the monitoring sheet of the last run's as-of date
        self.creator_facts: list[Any] = []  # the run's creator facts (one per merchant)
        self.creators_shown: list[Any] = []
        self.grant_facts: list[Any] = []
        self.holds: dict[tuple, dict] = {}  # (type, id, merchant or None) -> the hold in force
        self.grant_rows: list[tuple[str, list[Any]]] = []  # grant id -> its days, in the table
        self.backtest: Any = None  # the last BACKTEST_DAYS days (qcrules.backtest.Backtest)
        self._backtest_for: str | None = None  # the as-of day it was asked for
        self.whatif: Any = None  # the shown what-if (qcrules.backtest.WhatIf)
        self.whatif_overrides: dict[str, dict[str, Any]] | None = None
        self.sub_title = workspace.root.name
        self.collector = QuietCollector()
        self._backtest_children: list[Any] = []  # backtests running apart (Popen)

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

    # -- layout -------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(initial="findings"):
            with (
                TabPane(tr("概览", "Dashboard"), id="dashboard"),
                VerticalScroll(id="dashboard-body"),
            ):
                yield Static(tr("正在评估…", "Evaluating…"), id="run-info")
                with Horizontal(classes="cards"):
                    yield Static(id="levels", classes="card")
                    yield Static(id="by-pack", classes="card")
                    yield Static(id="entities", classes="card")
                with Horizontal(classes="cards"):
                    yield Static(id="queue", classes="card")
                    yield Static(id="expiring", classes="card")
                yield Static(tr("历次评估的发现数", "Findings over past runs"))
                yield Sparkline([], id="history")
                yield Static(
                    tr(
                        f"回测：近 {BACKTEST_DAYS} 天每天的发现数（按级别）",
                        f"Backtest: findings per day over the last {BACKTEST_DAYS} days, by level",
                    ),
                    classes="chart-title",
                )
                yield Static(tr("正在回测…", "Backtesting…"), id="backtest-chart")
            with TabPane(tr("发现", "Findings"), id="findings"), Vertical():
                with Horizontal(id="filters"):
                    yield Input(
                        placeholder=tr(
                            "筛选：规则、达人、授权、商家或文字（/）",
                            "Filter: rule, creator, grant, merchant or text (/)",
                        ),
                        id="filter",
                    )
                    yield Static(id="level-filter")
                with Horizontal(id="findings-split"):
                    yield PagedTable(id="findings-table", cursor_type="row", zebra_stripes=True)
                    with VerticalScroll(id="detail-scroll"):
                        yield Static(id="detail")
            with TabPane(tr("动作", "Actions"), id="actions"):
                yield ActionsPane(id="actions-pane")
            with TabPane(tr("达人池", "Creators"), id="creators"), Vertical():
                yield Input(
                    placeholder=tr(
                        "筛选达人：昵称、UID、商家或池状态",
                        "Filter creators: nickname, id, merchant or pool status",
                    ),
                    id="creator-filter",
                )
                with Horizontal():
                    yield PagedTable(id="creators-table", cursor_type="row", zebra_stripes=True)
                    with VerticalScroll(id="creator-detail-scroll"):
                        yield Static(id="creator-detail")
            with TabPane(tr("授权", "Grants"), id="grants"), Horizontal():
                yield PagedTable(id="grant-state-table", cursor_type="row", zebra_stripes=True)
                with VerticalScroll(id="grant-state-scroll"):
                    yield Static(id="grant-state-detail")
            with TabPane(tr("效果监测", "Monitoring"), id="monitoring"), Horizontal():
                yield PagedTable(id="grants-table", cursor_type="row", zebra_stripes=True)
                with VerticalScroll(id="grant-detail-scroll"):
                    yield Static(id="grant-detail")
                    yield GrantCharts(id="grant-charts")
            with TabPane(tr("规则包", "Packs"), id="packs"), Horizontal():
                yield DataTable(id="rules-table", cursor_type="row", zebra_stripes=True)
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
                            yield Select[str]([], id="whatif-param", prompt=tr("参数", "Parameter"))
                            yield Input(placeholder=tr("新值", "new value"), id="whatif-value")
                            yield Button(
                                tr("保存到 qcrules.toml", "Save to qcrules.toml"),
                                id="whatif-save",
                                disabled=True,
                            )
                        with VerticalScroll(id="whatif-scroll"):
                            yield Static(id="whatif-result")
        yield Footer()

    def on_mount(self) -> None:
        from qcrules.service import set_wait_notice

        set_wait_notice(self._lock_wait_notice)  # "another qcrules is writing…", in place
        self.set_interval(1.0, self.collector.tick)
        self._apply_user_settings()
        add_columns(
            self.query_one("#findings-table", DataTable),
            zip(self.columns.keys, self.columns.headers(), strict=True),
        )
        add_columns(
            self.query_one("#rules-table", DataTable),
            (
                ("pack", tr("规则包", "Pack")),
                ("rule", tr("规则", "Rule")),
                ("name", tr("名称", "Name")),
                ("level", tr("级别", "Level")),
                ("entity", tr("对象", "Entity")),
                ("action", tr("建议动作", "Action")),
                ("on", tr("启用", "On")),
            ),
        )
        add_columns(
            self.query_one("#creators-table", DataTable),
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
        add_columns(
            self.query_one("#grant-state-table", DataTable),
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
        add_columns(
            self.query_one("#grants-table", DataTable),
            (
                ("grant", tr("授权", "Grant")),
                ("name", tr("达人", "Creator")),
                ("merchant", tr("商家", "Merchant")),
                ("ctr", tr("点击率", "CTR")),
                ("ctr_trend", tr("点击率走势", "CTR trend")),
                ("roi", "ROI"),
                ("roi_trend", tr("ROI走势", "ROI trend")),
                ("cvr", tr("转化率", "CVR")),
                ("out", tr("超出区间天数", "days out of band")),
            ),
        )
        self._show_level_filter()
        self._load_packs()
        if self.store:
            self._load_stored()  # the last stored run at once; the new one replaces it
        self.action_evaluate()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key | events.MouseEvent):
            self.collector.touched()  # a full collection waits until the user pauses
        await super().on_event(event)

    def on_unmount(self) -> None:
        self.collector.stop()
        for child in self._backtest_children:  # quitting never waits for a backtest
            if child.poll() is None:
                child.kill()

    # -- evaluation ---------------------------------------------------------------------

    def action_evaluate(self) -> None:
        self.evaluation_error: str | None = None
        self.query_one("#findings-table", DataTable).loading = True
        self.query_one("#run-info", Static).update(tr("正在评估…", "Evaluating…"))
        self._evaluate()

    @work(thread=True, exclusive=True, group="evaluate")
    def _evaluate(self) -> None:
        from qcrules.errors import QcrulesError
        from qcrules.service import EvaluateOptions

        options = EvaluateOptions(as_of=self.as_of, fail_on="never", store=self.store)
        try:
            result = service.evaluate(self.workspace, options)
            history = service.recent_runs(self.workspace) if self.store else []
            states = self._queue_states() if self.store else {}
            as_of = date.fromisoformat(result.report["run"]["as_of"])
            holds = safe_data(service.holds(self.workspace, as_of))
            sheet = service.monitoring_sheet(self.workspace, as_of=as_of, days=SHEET_DAYS)
            sheet.rows = [
                replace(row, nickname=for_terminal(row.nickname, one_line=True))
                for row in sheet.rows
            ]
            grant_rows, cells = sheet_table(sheet)
            report, history = safe_data(result.report), safe_data(history)
            creators, grants = (
                [_safe_fact(fact) for fact in result.facts.get(kind, [])]
                for kind in ("creator", "grant")
            )
        except QcrulesError as exc:
            lines = [exc.message]
            for diagnostic in getattr(exc, "diagnostics", None) or []:
                lines += ["  " + line for line in diagnostic.render(None).splitlines()]
            if exc.hint:
                lines.append(tr("提示：", "hint: ") + exc.hint)
            self.call_from_thread(self._failed, for_terminal("\n".join(lines)))
            return
        self.call_from_thread(self._show_result, report, history, states)
        self.call_from_thread(self._show_sheet, sheet, grant_rows, cells)
        self.call_from_thread(self._show_records, creators, grants, holds)
        self.call_from_thread(self.collector.loaded)

    @work(thread=True, exclusive=True, group="stored")
    def _load_stored(self) -> None:
        from qcrules.errors import QcrulesError

        try:
            report = service.stored_report(self.workspace)
            if report is None:
                return
            history = safe_data(service.recent_runs(self.workspace))
            states = self._queue_states()
        except QcrulesError:
            return  # the evaluation that runs beside this says what is wrong
        self.call_from_thread(self._show_stored, safe_data(report), history, states)

    def _show_stored(
        self, report: dict[str, Any], history: list[dict[str, Any]], states: dict[str, str]
    ) -> None:
        if self.report is not None:
            return  # the new evaluation finished first
        self._show_result(report, history, states)
        if self.evaluation_error is not None:  # it failed first: say so over the stored run
            self._show_error_info()

    def _queue_states(self) -> dict[str, str]:
        return {item.fingerprint: item.state for item in service.action_queue(self.workspace)}

    def _failed(self, message: str) -> None:
        self.evaluation_error = message
        self.query_one("#findings-table", DataTable).loading = False
        self._show_error_info()
        self.notify(message, title=tr("评估失败", "Evaluation failed"), severity="error")

    def _show_error_info(self) -> None:
        message = self.evaluation_error or ""
        if self.report is not None and self.report["run"].get("stored"):
            message += tr(
                f"\n（仍显示上次保存的评估 {self.report['run']['id']}）",
                f"\n(still showing the stored run {self.report['run']['id']})",
            )
        self.query_one("#run-info", Static).update(Text(message, style="red"))

    def _show_result(
        self, report: dict[str, Any], history: list[dict[str, Any]], states: dict[str, str]
    ) -> None:
        self.report = report
        self.history = history
        self.states = states
        self.findings_by_entity = {}
        for finding in report["findings"]:
            entity = finding["entity"]
            for merchant in {entity.get("merchant"), None}:  # once when it has none
                key = (entity["type"], entity["id"], merchant)
                self.findings_by_entity.setdefault(key, []).append(finding)
        self._show_dashboard()
        self._fill_table()
        self.query_one(ActionsPane).reload()
        self._maybe_backtest()
        table = self.query_one("#findings-table", DataTable)
        table.loading = False
        if not isinstance(self.focused, Input):
            table.focus()  # keys move through the findings, unless the operator is typing
        total = len(report["findings"])
        run = report["run"]
        started = str(run["started_at"]).replace("T", " ").removesuffix("Z")
        self.sub_title = self.workspace.root.name
        if run.get("stored"):
            self.sub_title += tr(
                f" — 上次保存的评估 {started}，截至 {run['as_of']}",
                f" — stored run {started}, as of {run['as_of']}",
            )
            self.notify(
                tr(
                    f"显示上次保存的评估（{started}）：{total} 条发现；正在重新评估…",
                    f"Showing the stored run of {started}: {total} findings; evaluating again…",
                ),
                timeout=3,
            )
            return
        self.notify(
            tr(f"评估完成：{total} 条发现", f"Evaluated: {total} findings"),
            timeout=3,
        )

    # -- dashboard ----------------------------------------------------------------------

    def _show_dashboard(self) -> None:
        report = self.report
        assert report is not None
        run, summary = report["run"], report["summary"]
        info = Text()
        if run.get("stored"):
            info.append(tr("上次保存的评估（正在重新评估…）", "Stored run (evaluating again…) "))
        info.append(tr("最近一次评估 ", "Last run "), style="bold")
        info.append(f"{run['id']}  ")
        info.append(tr(f"截至 {run['as_of']}", f"as of {run['as_of']}"))
        info.append(f"  {run['duration_ms']} ms  ")
        info.append(tr(f"引擎 {run['engine']}", f"engine {run['engine']}"))
        info.append("\n" + tr("规则包：", "Packs: "))
        info.append(", ".join(f"{p['id']} {p['version']}" for p in run["packs"]))
        self.query_one("#run-info", Static).update(info)

        levels = Table.grid(padding=(0, 2))
        levels.add_row(Text(tr("按级别", "By level"), style="bold"), "")
        for level in LEVELS:
            count = summary["findings"].get(level, 0)
            levels.add_row(Text(_label(LEVEL_LABEL, level), style=LEVEL_STYLE[level]), str(count))
        levels.add_row(tr("数据不足", "insufficient data"), str(summary["insufficient_data"]))
        levels.add_row(tr("已豁免", "waived"), str(summary["waived"]))
        self.query_one("#levels", Static).update(levels)

        by_pack: dict[str, int] = {}
        for finding in report["findings"]:
            by_pack[finding["pack"]] = by_pack.get(finding["pack"], 0) + 1
        packs = Table.grid(padding=(0, 2))
        packs.add_row(Text(tr("按规则包", "By pack"), style="bold"), "")
        for pack, count in sorted(by_pack.items()):
            packs.add_row(pack, str(count))
        self.query_one("#by-pack", Static).update(packs)

        entities = Table.grid(padding=(0, 2))
        entities.add_row(Text(tr("评估对象", "Entities judged"), style="bold"), "")
        for entity, count in summary["entities"].items():
            entities.add_row(_label(ENTITY_LABEL, entity), str(count))
        expiring = sum(
            1
            for f in report["findings"]
            if f["entity"]["type"] == "grant" and f["action"]["kind"] == "renew_grant"
        )
        entities.add_row(tr("待续期授权", "grants to renew"), str(expiring))
        self.query_one("#entities", Static).update(entities)

        waiting: dict[str, int] = {}
        for finding in report["findings"]:
            if finding.get("superseded_by") or finding.get("hold"):
                continue
            kind = finding["action"]["kind"]
            waiting[kind] = waiting.get(kind, 0) + 1
        queue = Table.grid(padding=(0, 2))
        queue.add_row(Text(tr("待处理动作", "Actions waiting"), style="bold"), "")
        for kind, count in sorted(waiting.items(), key=lambda item: -item[1]):
            queue.add_row(self._action_label(kind), str(count))
        self.query_one("#queue", Static).update(queue)

        totals = [
            sum((run.get("summary") or {}).get("findings", {}).values()) for run in self.history
        ]
        self.query_one("#history", Sparkline).data = totals or [len(report["findings"])]

    # -- findings -----------------------------------------------------------------------

    def _matches_filter(self, finding: dict[str, Any], needle: str) -> bool:
        if self.level_filter and finding["level"] != self.level_filter:
            return False
        if not needle:
            return True
        entity = finding["entity"]
        haystack = " ".join(
            str(part or "")
            for part in (
                finding["rule"],
                finding["name"],
                finding["pack"],
                entity.get("id"),
                entity.get("name"),
                entity.get("merchant"),
                entity.get("creator"),
                finding["message"],
                finding["action"]["kind"],
                self._action_label(finding["action"]["kind"]),
            )
        )
        return needle.casefold() in haystack.casefold()

    def _fill_table(self) -> None:
        table = self.query_one("#findings-table", PagedTable)
        if self.report is None:
            table.show([], self._cells)
            return
        needle = self.query_one("#filter", Input).value.strip()
        self.shown = [f for f in self.report["findings"] if self._matches_filter(f, needle)]
        if self.sort_key is not None:
            self.shown.sort(key=lambda f: self._cell_text(f, self.sort_key))
        if self.sort_reverse:
            self.shown.reverse()
        table.show(self.shown, self._cells)
        self.explanation = None
        self._show_detail()

    def _cell_text(self, finding: dict[str, Any], key: str | None) -> Any:
        if key == "level":
            return LEVELS.index(finding["level"]) if finding["level"] in LEVELS else len(LEVELS)
        return self._cells(finding)[self.columns.keys.index(key or "rule")].plain

    def _cells(self, finding: dict[str, Any]) -> list[Text]:
        entity = finding["entity"]
        action = self._action_label(finding["action"]["kind"])
        if finding.get("superseded_by"):
            action += tr("（被取代）", " (superseded)")
        state = self.states.get(finding["fingerprint"], "open")
        if state in STATE_MARK:
            action = f"{STATE_MARK[state]} {action}"
        cells = {
            "level": Text(
                _label(LEVEL_LABEL, finding["level"]), style=LEVEL_STYLE.get(finding["level"], "")
            ),
            "rule": Text(finding["rule"]),
            "entity": Text(f"{_label(ENTITY_LABEL, entity['type'])} {entity['id']}"),
            "name": Text(str(entity.get("name") or "")),
            "merchant": Text(str(entity.get("merchant") or "")),
            "action": Text(action),
            "message": Text(finding["message"]),
        }
        return [cells[key] for key in self.columns.keys]

    def _action_label(self, kind: str) -> str:
        known = self.kinds.get(kind)
        return tr(known.zh, known.en) if known is not None else kind

    def selected(self) -> dict[str, Any] | None:
        """The finding under the cursor of the tab in view (Findings, or the Actions queue)."""
        if self.query_one(TabbedContent).active == "actions":
            item = self.query_one(ActionsPane).selected()
            return item.to_json() if item is not None else None
        table = self.query_one("#findings-table", DataTable)
        if not self.shown or table.cursor_row < 0 or table.cursor_row >= len(self.shown):
            return None
        return self.shown[table.cursor_row]

    def _show_detail(self) -> None:
        detail = self.query_one("#detail", Static)
        finding = self.selected()
        if finding is None:
            detail.update(
                tr("没有符合条件的发现。", "No findings match.") if self.report is not None else ""
            )
            return
        entity = finding["entity"]
        out = Text()
        out.append(f"{finding['rule']} {finding['name']}\n", style="bold")
        out.append(
            _label(LEVEL_LABEL, finding["level"]), style=LEVEL_STYLE.get(finding["level"], "")
        )
        out.append(f" · {finding['pack']}\n\n")
        out.append(f"{_label(ENTITY_LABEL, entity['type'])} {entity['id']}")
        if entity.get("name"):
            out.append(f"  {entity['name']}")
        if entity.get("merchant"):
            out.append(tr(f"  商家 {entity['merchant']}", f"  merchant {entity['merchant']}"))
        if entity.get("creator") and entity["type"] == "grant":
            out.append(tr(f"  达人 {entity['creator']}", f"  creator {entity['creator']}"))
        out.append("\n\n" + finding["message"] + "\n\n")
        out.append(tr("依据（evidence）\n", "Evidence\n"), style="bold")
        for name, value in finding["evidence"].items():
            out.append(self._field_line(finding["entity"]["type"], name, value))
        out.append("\n" + tr("建议动作：", "Suggested action: "), style="bold")
        out.append(self._action_label(finding["action"]["kind"]))
        if finding["action"].get("params"):
            words = _action_params(finding["action"]["params"])
            out.append(tr(f"（{words}）", f" ({words})"))
        if finding.get("superseded_by"):
            out.append(
                tr(
                    f"\n  被 {finding['superseded_by']} 的动作取代",
                    f"\n  superseded by {finding['superseded_by']}",
                ),
                style="dim",
            )
        if self.store:
            state = self.states.get(finding["fingerprint"], "open")
            out.append("\n" + tr("状态：", "State: "), style="bold")
            out.append(_label(STATE_LABEL, state))
            if state == "open":
                out.append(
                    tr("  （a 执行 · x 忽略 · h 暂停）", "  (a apply · x dismiss · h hold)"),
                    style="dim",
                )
        out.append("\n" + tr("来源：", "Source: "), style="bold")
        out.append(f"{finding['source']}\n")
        out.append(f"fingerprint {finding['fingerprint']}\n", style="dim")
        if self.explanation:
            out.append("\n" + self.explanation + "\n")
        else:
            out.append(
                tr("\n按 e 查看规则为何触发", "\nPress e to see why the rule fired"), style="dim"
            )
        detail.update(out)

    @on(DataTable.RowHighlighted, "#findings-table")
    @_while_open
    def _row_highlighted(self) -> None:
        self.explanation = None
        self._show_detail()

    @on(DataTable.HeaderSelected, "#findings-table")
    def _sort_by(self, event: DataTable.HeaderSelected) -> None:
        """A click on a header sorts by it; a second click on it reverses the order."""
        key = str(event.column_key.value)
        self.sort_reverse = not self.sort_reverse if key == self.sort_key else False
        self.sort_key = key
        self._show_level_filter()
        self._fill_table()

    def action_sort_next(self) -> None:
        """S: sort by the next column (the run's own order, most severe first, after the
        last one)."""
        order = [None, *self.columns.keys]
        self.sort_key = order[(order.index(self.sort_key) + 1) % len(order)]
        self.sort_reverse = False
        self._show_level_filter()
        self._fill_table()

    def action_sort_reverse(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self._show_level_filter()
        self._fill_table()

    @on(Input.Changed, "#filter")
    @_while_open
    def _filter_changed(self) -> None:
        self._fill_table()

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.query_one("#findings-table", DataTable).focus()

    def _show_level_filter(self) -> None:
        label = _label(LEVEL_LABEL, self.level_filter) if self.level_filter else tr("全部", "all")
        text = tr(f"级别：{label}（l）", f"Level: {label} (l)")
        if self.sort_key is not None or self.sort_reverse:
            names = dict(zip(self.columns.keys, self.columns.headers(), strict=True))
            column = names.get(self.sort_key or "", tr("默认", "default"))
            text += "\n" + tr("排序：", "Sort: ") + column + (" ▼" if self.sort_reverse else " ▲")
        self.query_one("#level-filter", Static).update(text)

    def action_cycle_level(self) -> None:
        order = [None, *LEVELS]
        self.level_filter = order[(order.index(self.level_filter) + 1) % len(order)]
        self._show_level_filter()
        self._fill_table()

    # the filter box and the table of each tab that has one
    FILTERS: ClassVar[dict[str, tuple[str, str]]] = {
        "findings": ("#filter", "#findings-table"),
        "creators": ("#creator-filter", "#creators-table"),
        "actions": ("#actions-filter", "#actions-table"),
    }

    def action_focus_filter(self) -> None:
        """`/` filters the tab in view; on a tab without a filter, the findings."""
        active = self.query_one(TabbedContent).active
        if active not in self.FILTERS:
            self.action_show_tab("findings")
            active = "findings"
        self.query_one(self.FILTERS[active][0], Input).focus()

    def action_clear_filter(self) -> None:
        """Esc empties the filter of the tab in view and returns to its table."""
        active = self.query_one(TabbedContent).active
        if active not in self.FILTERS:
            return
        box_id, table_id = self.FILTERS[active]
        self.query_one(box_id, Input).value = ""
        if active == "findings":
            self.level_filter = None
            self._show_level_filter()
        self.query_one(table_id).focus()

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        # focus follows the tab: a focused widget in a hidden tab would bring its tab back
        target = {
            "findings": "#findings-table",
            "actions": "#actions-table",
            "packs": "#rules-table",
            "monitoring": "#grants-table",
            "creators": "#creators-table",
            "grants": "#grant-state-table",
            "dashboard": "#dashboard-body",
        }[tab]
        self.query_one(target).focus()

    # -- explain ------------------------------------------------------------------------

    def action_explain(self) -> None:
        finding = self.selected()
        if finding is None or self.report is None:
            self.notify(tr("先选中一条发现", "Select a finding first"), severity="warning")
            return
        self.explanation = tr("正在解释…", "Explaining…")
        self._show_detail()
        self._explain(finding, date.fromisoformat(self.report["run"]["as_of"]))

    @work(thread=True, exclusive=True, group="explain")
    def _explain(self, finding: dict[str, Any], as_of: date) -> None:
        from qcrules.docs import explanation_text
        from qcrules.errors import QcrulesError

        entity = finding["entity"]
        try:
            explanations = service.explain(
                self.workspace,
                finding["rule"],
                entity["id"],
                merchant=entity.get("merchant"),
                as_of=as_of,
            )
            text = "\n\n".join(explanation_text(e) for e in explanations)
        except QcrulesError as exc:
            text = str(exc)
        self.call_from_thread(self._show_explanation, finding, for_terminal(text))

    def _show_explanation(self, finding: dict[str, Any], text: str) -> None:
        if self.selected() is finding:
            self.explanation = text
            self._show_detail()

    # -- acting on a finding ------------------------------------------------------------

    def _actionable(self) -> dict[str, Any] | None:
        finding = self.selected()
        if finding is None:
            self.notify(tr("先选中一条发现", "Select a finding first"), severity="warning")
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
        finding = self._actionable()
        if finding is not None:
            self._preview_apply(finding)

    @work(thread=True, exclusive=True, group="act")
    def _preview_apply(self, finding: dict[str, Any]) -> None:
        from qcrules.errors import QcrulesError

        try:
            outcome = service.apply_action(self.workspace, finding["fingerprint"], dry_run=True)
        except QcrulesError as exc:
            self.call_from_thread(self.notify, for_terminal(exc.message), severity="warning")
            return
        lines = [for_terminal(change.describe()) for change in outcome.changes] or [
            tr("不改动数据：记录为已完成", "No record changes: it is recorded as done")
        ]
        if outcome.result is not None:
            lines.append(for_terminal(outcome.result))
        if outcome.steps:
            lines.append(tr("手动步骤：", "By hand: ") + for_terminal(outcome.steps))
        title = tr(
            f"执行「{self._action_label(finding['action']['kind'])}」？",
            f"Apply “{self._action_label(finding['action']['kind'])}”?",
        )
        screen = ConfirmChange(
            title,
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
        finding = self._actionable()
        if finding is None:
            return
        screen = ConfirmChange(
            tr(f"忽略 {finding['rule']} 的建议动作？", f"Dismiss the action of {finding['rule']}?"),
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
        if self.query_one(TabbedContent).active == "grants":
            fact = self._selected_grant()
            if fact is None:
                self.notify(tr("先选中一个授权", "Select a grant first"), severity="warning")
                return
            entity = {"type": "grant", "id": fact.entity_id, "merchant": fact.merchant_id}
            target: dict[str, Any] | None = {"entity": entity}
            if not self.store:
                target = self._actionable()  # says why nothing can be held
        else:
            target = self._actionable()
        if target is None:
            return
        entity = target["entity"]
        what = f"{_label(ENTITY_LABEL, entity['type'])} {entity['id']}"
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
            self._actionable()
            return
        log = safe_data(service.audit_log(self.workspace, limit=20))
        last = next((e for e in log if not e["undone"] and e["undoes"] is None), None)
        if last is None:
            self.notify(tr("没有可撤销的操作", "There is nothing to undo"), severity="warning")
            return
        entity = last["entity"]
        what = f"{_label(ENTITY_LABEL, entity['type'])} {entity['id']}"
        when = str(last["at"]).replace("T", " ")[:16]
        screen = ConfirmChange(
            tr(
                f"撤销「{self._audit_label(last['kind'])}」？",
                f"Undo “{self._audit_label(last['kind'])}”?",
            ),
            tr(f"{what}，{last['actor']} 于 {when}", f"{what}, by {last['actor']} at {when}")
            + (f"\n{last['note']}" if last["note"] else ""),
            prompt=tr("备注（可选）", "Note (optional)"),
            confirm=tr("撤销", "Undo"),
            required=False,
        )
        self.push_screen(
            screen, lambda note: note is not None and self._act("undo", last, note or None)
        )

    def _audit_label(self, kind: str) -> str:
        """An audit entry's kind as the operator said it ("hold", "apply:pool:excluded",
        "grant:approved" → 暂停, 排除出池, 授权标记为已通过)."""
        verb, _, rest = kind.partition(":")
        if verb == "apply" and rest.startswith("pool:"):
            return _label(POOL_ACT_LABEL, rest.removeprefix("pool:"))
        if verb == "apply":
            return self._action_label(rest)
        if verb == "grant" and rest == "request":
            return tr("发起授权", "request a grant")
        if verb == "grant":
            return tr(f"授权标记为{_label(STATUS_LABEL, rest)}", f"mark the grant {rest}")
        return _label(VERB_LABEL, verb)

    def _lock_wait_notice(self, message: str) -> None:
        try:
            self.call_from_thread(self.notify, message, severity="warning")
        except RuntimeError:  # on the app's own thread
            self.notify(message, severity="warning")

    @work(thread=True, exclusive=True, group="act")
    def _act(self, verb: str, target: dict[str, Any], text: str | None) -> None:
        from qcrules.errors import QcrulesError

        try:
            if verb == "apply":
                outcome = service.apply_action(self.workspace, target["fingerprint"], note=text)
            elif verb == "dismiss":
                outcome = service.dismiss_action(self.workspace, target["fingerprint"], text or "")
            elif verb == "hold":
                entity = target["entity"]
                outcome = service.hold_entity(
                    self.workspace,
                    entity["type"],
                    entity["id"],
                    text or "",
                    merchant_id=entity.get("merchant") if entity["type"] != "merchant" else None,
                )
            else:
                outcome = service.undo(self.workspace, target["id"], note=text)
            states = self._queue_states()
            holds = safe_data(service.holds(self.workspace, self.as_of))
        except QcrulesError as exc:
            self.call_from_thread(self.notify, for_terminal(exc.message), severity="error")
            return
        summary = for_terminal("; ".join(change.describe() for change in outcome.changes))
        done = {
            "apply": tr("已执行", "Applied"),
            "dismiss": tr("已忽略", "Dismissed"),
            "hold": tr("已暂停", "On hold"),
            "undo": tr("已撤销", "Undone"),
        }[verb]
        message = f"{done}: {outcome.kind}" + (f" — {summary}" if summary else "")
        self.call_from_thread(self._after_act, states, message, holds)

    def _after_act(self, states: dict[str, str], message: str, holds: dict | None = None) -> None:
        changed = {
            fp for fp in states.keys() | self.states.keys() if states.get(fp) != self.states.get(fp)
        }
        self.states = states
        if holds is not None:
            self._refresh_holds(holds)
        self.query_one(ActionsPane).reload()
        table = self.query_one("#findings-table", PagedTable)
        for row, finding in enumerate(self.shown):  # only the rows whose state changed
            if finding["fingerprint"] in changed:
                for column, cell in enumerate(self._cells(finding)):
                    table.update_item(row, column, cell)
        self._show_detail()
        self.notify(message, timeout=4)

    def _refresh_holds(self, holds: dict) -> None:
        """The Grants tab's status column and detail follow a hold or its undo at once."""
        changed = {key[1] for key in self.holds.keys() ^ holds.keys() if key[0] == "grant"}
        self.holds = holds
        table = self.query_one("#grant-state-table", PagedTable)
        for row, fact in enumerate(self.grant_facts):
            if fact.entity_id in changed:
                table.update_item(row, 3, self._grant_status(fact))
        self._show_grant_state()

    # -- creators and grants ------------------------------------------------------------

    def _findings_of(self, entity_type: str, entity_id: str, merchant: str | None) -> list:
        """The run's findings of one entity (for one merchant, or all): an index lookup, as
        the creators table asks this once per row."""
        return self.findings_by_entity.get((entity_type, entity_id, merchant), [])

    def _worst(self, findings: list) -> Text:
        if not findings:
            return Text("—", style="dim")
        worst = min(findings, key=lambda f: LEVELS.index(f["level"]) if f["level"] in LEVELS else 9)
        return Text(
            f"{len(findings)} · {_label(LEVEL_LABEL, worst['level'])}",
            style=LEVEL_STYLE.get(worst["level"], ""),
        )

    def _show_records(self, creators: list[Any], grants: list[Any], holds: dict) -> None:
        self.creator_facts = creators
        self.grant_facts = grants
        self.holds = holds
        self._show_expiring(grants)
        self._fill_creators()
        self.query_one("#grant-state-table", PagedTable).show(grants, self._grant_cells)
        self._show_grant_state()

    def _grant_cells(self, fact: Any) -> list[Text]:
        v = fact.values
        left = v.get("days_to_expiry")
        expiring = left is not None and 0 <= left <= 7 and v.get("status") == "active"
        return [
            Text(fact.entity_id),
            Text(str(v.get("creator.nickname") or v.get("aweme_id") or "")),
            Text(str(fact.merchant_id or "")),
            self._grant_status(fact),
            Text(
                tr("永久", "permanent")
                if v.get("is_permanent")
                else str(left if left is not None else "—"),
                style="bold yellow" if expiring else "",
            ),
            self._worst(self._findings_of("grant", fact.entity_id, None)),
            Text(str(v.get("auth_type") or "")),
            Text(str(v.get("scope") or "")),
            Text(str(v.get("channel") or "")),
        ]

    def _grant_hold(self, fact: Any) -> dict | None:
        for merchant in (fact.merchant_id, None):
            hold = self.holds.get(("grant", fact.entity_id, merchant))
            if hold is not None:
                return hold
        return None

    def _grant_status(self, fact: Any) -> Text:
        status = Text(_label(STATUS_LABEL, str(fact.values.get("status") or "")))
        if self._grant_hold(fact) is not None:
            status.append(" " + STATE_MARK["held"], style="yellow")
        return status

    def _show_expiring(self, grants: list[Any]) -> None:
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
        for fact in soon[:12]:
            card.add_row(
                f"{fact.entity_id} {fact.values.get('creator.nickname') or ''}",
                tr(f"{fact.values['days_to_expiry']} 天", f"{fact.values['days_to_expiry']} d"),
            )
        if len(soon) > 12:
            card.add_row(tr(f"……另有 {len(soon) - 12} 个", f"… and {len(soon) - 12} more"), "")
        self.query_one("#expiring", Static).update(card)

    def _fill_creators(self) -> None:
        needle = self.query_one("#creator-filter", Input).value.strip().casefold()
        shown = []
        for fact in self.creator_facts:
            v = fact.values
            if needle:
                hay = " ".join(
                    str(x or "")
                    for x in (
                        fact.entity_id,
                        v.get("nickname"),
                        fact.merchant_id,
                        v.get("pool_status"),
                        _label(POOL_LABEL, v.get("pool_status") or ""),  # 已排除 finds them too
                    )
                ).casefold()
                if needle not in hay:
                    continue
            shown.append(fact)
        self.creators_shown = shown
        self.query_one("#creators-table", PagedTable).show(shown, self._creator_cells)
        self._show_creator()

    def _creator_cells(self, fact: Any) -> list[Text]:
        v = fact.values
        status = v.get("pool_status") or "—"
        return [
            Text(fact.entity_id),
            Text(str(v.get("nickname") or "")),
            Text(str(fact.merchant_id or "")),
            Text(_label(POOL_LABEL, status), style=POOL_STYLE.get(status, "")),
            Text(f"{v['fans_count']:,}" if v.get("fans_count") is not None else "—"),
            _ratio_text(v.get("ctr_7d"), "{:.2%}"),
            _ratio_text(v.get("roi_7d"), "{:.2f}"),
            self._worst(self._findings_of("creator", fact.entity_id, fact.merchant_id)),
        ]

    def _selected_creator(self) -> Any:
        row = self.query_one("#creators-table", DataTable).cursor_row
        return self.creators_shown[row] if 0 <= row < len(self.creators_shown) else None

    def _field_line(self, entity: str, name: str, value: Any) -> Text:
        """`  授权状态  生效中` in zh, `  status  active` in en: the label a user knows."""
        spec = self.fields.get((entity, name))
        label = tr(spec.doc_zh, name) if spec is not None else name
        line = Text(f"  {label}  ", style="dim")
        line.append(for_terminal(field_value(spec, name, value), one_line=True) + "\n")
        return line

    def _show_creator(self) -> None:
        detail = self.query_one("#creator-detail", Static)
        fact = self._selected_creator()
        if fact is None:
            detail.update(tr("没有符合条件的达人。", "No creators match."))
            return
        v = fact.values
        out = Text()
        out.append(f"{v.get('nickname') or ''}  {fact.entity_id}\n", style="bold")
        out.append(tr(f"商家 {fact.merchant_id}　池状态 ", f"merchant {fact.merchant_id} · pool "))
        status = v.get("pool_status") or "—"
        out.append(_label(POOL_LABEL, status), style=POOL_STYLE.get(status, ""))
        out.append(
            tr("　（+ 加入 · - 移出 · X 排除）\n\n", "  (+ add · - remove · X exclude)\n\n"),
            style="dim",
        )
        for name in (
            "fans_count",
            "active_fan_ratio",
            "completion_rate",
            "audience_match",
            "category_match",
            "ctr_7d",
            "roi_7d",
            "rebate_rate",
            "has_cooperation_code",
        ):
            out.append(self._field_line("creator", name, v.get(name)))
        findings = self._findings_of("creator", fact.entity_id, fact.merchant_id)
        out.append(
            "\n" + tr(f"发现（{len(findings)}）\n", f"Findings ({len(findings)})\n"), style="bold"
        )
        for f in findings:
            out.append(f"  {f['rule']} ", style=LEVEL_STYLE.get(f["level"], ""))
            out.append(f"{f['message']}\n    {tr('来源', 'source')}: {f['source']}\n")
        if not findings:
            out.append(tr("  无：通过筛选\n", "  none: it passes screening\n"), style="green")
        detail.update(out)

    @on(DataTable.RowHighlighted, "#creators-table")
    @_while_open
    def _creator_highlighted(self) -> None:
        self._show_creator()

    @on(Input.Changed, "#creator-filter")
    @_while_open
    def _creator_filter_changed(self) -> None:
        self._fill_creators()

    @on(Input.Submitted, "#creator-filter")
    def _creator_filter_done(self) -> None:
        self.query_one("#creators-table", DataTable).focus()

    def _show_grant_state(self) -> None:
        detail = self.query_one("#grant-state-detail", Static)
        row = self.query_one("#grant-state-table", DataTable).cursor_row
        if not 0 <= row < len(self.grant_facts):
            detail.update(tr("没有授权。", "No grants."))
            return
        fact = self.grant_facts[row]
        v = fact.values
        out = Text()
        out.append(f"{fact.entity_id}  {v.get('creator.nickname') or ''}\n", style="bold")
        for name in (
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
        ):
            if name == "video_id" and v.get("scope") != "single_video" and not v.get(name):
                continue  # only a single-video grant names a video: no "missing" elsewhere
            out.append(self._field_line("grant", name, v.get(name)))
        hold = self._grant_hold(fact)
        if hold is not None:
            until = hold["until"] or tr("解除为止", "released")
            out.append(
                tr(f"\n⏸ 暂停中，直到 {until}：", f"\n⏸ On hold until {until}: ")
                + f"{hold['reason']}\n",
                style="yellow",
            )
        findings = self._findings_of("grant", fact.entity_id, None)
        out.append(
            "\n" + tr(f"发现（{len(findings)}）\n", f"Findings ({len(findings)})\n"), style="bold"
        )
        for f in findings:
            out.append(f"  {f['rule']} ", style=LEVEL_STYLE.get(f["level"], ""))
            out.append(f"{f['message']}\n")
        out.append(
            tr(
                "\nn 发起授权 · w 续期 · s 改状态（已通过/生效/撤销…） · h 暂停",
                "\nn request a grant · w renew · s mark (approved, active, revoked…) · h hold",
            ),
            style="dim",
        )
        detail.update(out)

    # -- the execute step: request, renew, mark -----------------------------------------

    def _selected_grant(self) -> Any:
        row = self.query_one("#grant-state-table", DataTable).cursor_row
        return self.grant_facts[row] if 0 <= row < len(self.grant_facts) else None

    def action_request_grant(self) -> None:
        """The request form, pre-filled with the selected creator (or grant's pair)."""
        from qcrules.service import GrantRequest

        active = self.query_one(TabbedContent).active
        fact = self._selected_creator() if active == "creators" else self._selected_grant()
        merchant = (fact.merchant_id or "") if fact is not None else ""
        aweme = (fact.aweme_id or "") if fact is not None else ""
        self.open_grant_form(GrantRequest(merchant, aweme))

    def action_renew_grant(self) -> None:
        """The same form, pre-filled to renew the selected grant on safe terms."""
        from qcrules.errors import QcrulesError

        fact = self._selected_grant()
        if fact is None:
            self.notify(tr("先选中一个授权", "Select a grant first"), severity="warning")
            return
        try:
            request = service.renewal_request(self.workspace, fact.entity_id)
        except QcrulesError as exc:
            self.notify(exc.message, severity="error")
            return
        self.open_grant_form(request)

    def open_grant_form(self, request: Any) -> None:
        from qcrules.tui.grant_form import GrantForm

        self.push_screen(GrantForm(self.workspace, request, today=self.as_of), self._grant_saved)

    def _grant_saved(self, check: Any) -> None:
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
        self.action_evaluate()  # the new grant, with its findings, in every tab

    def action_mark_grant(self) -> None:
        from qcrules.tui.grant_form import MarkGrant

        fact = self._selected_grant()
        if fact is None:
            self.notify(tr("先选中一个授权", "Select a grant first"), severity="warning")
            return
        status = str(fact.values.get("status") or "")
        moves = service.grant_moves(status)
        if not moves:
            self.notify(tr(f"{status} 是终态", f"{status} is a final state"), severity="warning")
            return
        self.push_screen(
            MarkGrant(fact.entity_id, status, moves),
            lambda chosen: chosen is not None and self._mark(fact.entity_id, *chosen),
        )

    @work(thread=True, exclusive=True, group="act")
    def _mark(self, grant_id: str, target: str, note: str | None) -> None:
        from qcrules.errors import QcrulesError

        try:
            outcome = service.mark_grant(
                self.workspace, grant_id, target, note=note, today=self.as_of
            )
        except QcrulesError as exc:
            message = exc.message + (f" — {exc.hint}" if exc.hint else "")
            self.call_from_thread(self.notify, message, severity="error")
            return
        message = f"{grant_id}: {outcome.before} → {outcome.after}" + tr(
            "（u 撤销）", " (u undoes it)"
        )
        self.call_from_thread(self.notify, message, timeout=4)
        self.call_from_thread(self.action_evaluate)

    @on(DataTable.RowHighlighted, "#grant-state-table")
    @_while_open
    def _grant_state_highlighted(self) -> None:
        self._show_grant_state()

    def action_pool(self, status: str) -> None:
        fact = self._selected_creator()
        if fact is None:
            return
        current = fact.values.get("pool_status")
        if current == status:
            self.notify(tr("已是该状态", "It already has that status"), severity="warning")
            return
        name = fact.values.get("nickname") or fact.entity_id
        screen = ConfirmChange(
            tr(
                f"把 {name} 设为「{_label(POOL_LABEL, status)}」（商家 {fact.merchant_id}）？",
                f"Set {name} to “{_label(POOL_LABEL, status)}” for {fact.merchant_id}?",
            ),
            f"pool {fact.merchant_id}, {fact.entity_id}: status: {current or '—'} → {status}",
            prompt=tr("原因（必填）", "Reason (required)")
            if status == "excluded"
            else tr("备注（可选）", "Note (optional)"),
            confirm=tr("确定", "Confirm"),
            required=status == "excluded",
        )
        self.push_screen(
            screen, lambda note: note is not None and self._set_pool(fact, status, note or None)
        )

    @work(thread=True, exclusive=True, group="act")
    def _set_pool(self, fact: Any, status: str, note: str | None) -> None:
        from qcrules.errors import QcrulesError

        try:
            outcome = service.set_pool_status(
                self.workspace, fact.merchant_id, fact.entity_id, status, note=note
            )
        except QcrulesError as exc:
            self.call_from_thread(self.notify, exc.message, severity="error")
            return
        self.call_from_thread(self._pool_changed, fact, status, outcome)

    def _pool_changed(self, fact: Any, status: str, outcome: Any) -> None:
        fact.values["pool_status"] = status  # its row changes in place; the list stays as it is
        row = next((i for i, shown in enumerate(self.creators_shown) if shown is fact), None)
        if row is not None:
            cells = self._creator_cells(fact)
            self.query_one("#creators-table", PagedTable).update_item(row, 3, cells[3])
        self._show_creator()
        self.notify(
            "; ".join(c.describe() for c in outcome.changes)
            + tr("（按 r 重新评估）", " (r evaluates again)"),
            timeout=4,
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys act on the tab in view: finding keys on Findings, pool keys on Creators."""
        if action not in ACTION_TABS:
            return True
        # query_one stops at the first match; a query's truth walks the whole DOM, and
        # this runs for every binding on every focus change
        tabs = self.screen.query_one_optional(TabbedContent)
        return tabs is None or tabs.active in ACTION_TABS[action]

    def help_rows(self) -> list[tuple[str, str, str]]:
        """(keys, what, where) for every binding of the app and of its tabs' widgets."""
        tab_names = {
            "dashboard": tr("概览", "Dashboard"),
            "findings": tr("发现", "Findings"),
            "actions": tr("动作", "Actions"),
            "creators": tr("达人池", "Creators"),
            "grants": tr("授权", "Grants"),
            "monitoring": tr("效果监测", "Monitoring"),
            "packs": tr("规则包", "Packs"),
        }
        everywhere = tr("所有标签页", "every tab")
        rows = []
        for binding in self.BINDINGS:
            tabs = ACTION_TABS.get(binding.action.split("(")[0])
            where = tr("、", ", ").join(tab_names[t] for t in tabs) if tabs else everywhere
            rows.append((self._keys(binding), said(binding), where))
        for widget_class, tab in ((ActionsPane, "actions"),):
            for binding in widget_class.BINDINGS:
                rows.append((self._keys(binding), said(binding), tab_names[tab]))
        rows.append(("ctrl+p", tr("命令面板", "Command palette"), everywhere))
        return rows

    def _keys(self, binding: Binding) -> str:
        remapped = getattr(self, "user_keys", {}).get(binding.id or "")
        keys = [k.strip() for k in (remapped or binding.key).split(",")]
        return " / ".join(self.get_key_display(Binding(k, binding.action)) for k in keys)

    def binding_ids(self) -> set[str]:
        """Every binding id a user may remap in [tui.keys]."""
        bindings = [*self.BINDINGS, *ActionsPane.BINDINGS]
        return {b.id for b in bindings if isinstance(b, Binding) and b.id}

    def _apply_user_settings(self) -> None:
        """[tui] theme and [tui.keys] from qcrules.toml; a wrong name is a warning, not a
        crash, and the theme chosen later (palette: "Change theme") is kept there."""
        import difflib

        config = self.workspace.config
        self.setting_warnings: list[str] = []
        if config.tui_theme:
            if config.tui_theme in self.available_themes:
                self.theme = config.tui_theme
            else:
                close = difflib.get_close_matches(config.tui_theme, list(self.available_themes))
                self._setting_warning(
                    tr(
                        f"qcrules.toml 的 [tui] theme = {config.tui_theme!r} 不是已知主题",
                        f"[tui] theme = {config.tui_theme!r} in qcrules.toml is not a theme",
                    )
                    + (
                        tr(f"；是不是 {close[0]!r}？", f"; did you mean {close[0]!r}?")
                        if close
                        else ""
                    ),
                )
        known = self.binding_ids()
        keymap = {}
        for binding_id, keys in config.tui_keys.items():
            if binding_id in known:
                keymap[binding_id] = keys
                continue
            close = difflib.get_close_matches(binding_id, sorted(known), n=1)
            self._setting_warning(
                tr(
                    f"[tui.keys] 里的 {binding_id!r} 不是按键编号（已忽略）",
                    f"[tui.keys] {binding_id!r} is not a key binding id (ignored)",
                )
                + (
                    tr(f"；是不是 {close[0]!r}？", f"; did you mean {close[0]!r}?") if close else ""
                ),
            )
        self.user_keys = keymap  # help and the palette show these keys
        if keymap:
            self.set_keymap(keymap)
        self.theme_changed_signal.subscribe(self, self._theme_changed)

    def _setting_warning(self, message: str) -> None:
        self.setting_warnings.append(message)
        self.notify(message, severity="warning", timeout=30)  # read before it goes

    def _theme_changed(self, theme: Any) -> None:
        from qcrules.errors import QcrulesError

        if theme.name == self.workspace.config.tui_theme:
            return
        try:
            service.save_tui_theme(self.workspace, theme.name)
        except QcrulesError as exc:
            self.notify(exc.message, severity="warning")

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.help_rows()))

    @on(TabbedContent.TabActivated)
    def _tab_changed(self) -> None:
        self.refresh_bindings()
        self._maybe_backtest()

    # -- backtest -----------------------------------------------------------------------

    def _maybe_backtest(self) -> None:
        """The backtest chart is drawn when the dashboard or packs tab is first shown after
        an evaluation (it evaluates 30 days: not worth doing for every run)."""
        if self.report is None:
            return
        active = self.query_one(TabbedContent).active
        as_of = self.report["run"]["as_of"]
        if active in ("dashboard", "packs") and self._backtest_for != as_of:
            self._backtest_for = as_of
            self.query_one("#backtest-chart", Static).update(tr("正在回测…", "Backtesting…"))
            self._run_backtest(date.fromisoformat(as_of))

    @work(thread=True, exclusive=True, group="backtest")
    def _run_backtest(self, as_of: date) -> None:
        from datetime import timedelta

        from qcrules.errors import QcrulesError

        try:
            result = service.backtest_apart(  # a child process: the UI keeps the GIL
                self.workspace,
                as_of - timedelta(days=BACKTEST_DAYS - 1),
                as_of,
                started=self._backtest_children.append,
            )
        except QcrulesError as exc:
            if not self.is_running or self._exit:
                return  # killed as the app closed
            self.call_from_thread(
                self.query_one("#backtest-chart", Static).update,
                Text(for_terminal(exc.message), style="red"),
            )
            return
        self.call_from_thread(self._show_backtest, result)

    def _show_backtest(self, result: Any) -> None:
        self.backtest = result
        self.query_one("#backtest-chart", Static).update(backtest_chart(result))
        self._show_rule()

    # -- what-if --------------------------------------------------------------------------

    def _whatif_item(self) -> str | None:
        param = self.query_one("#whatif-param", Select).value
        value = self.query_one("#whatif-value", Input).value.strip()
        if not isinstance(param, str) or not value:
            return None
        return f"{param}={value}"

    @on(Select.Changed, "#whatif-param")
    @_while_open
    def _whatif_param_changed(self) -> None:
        param = self.query_one("#whatif-param", Select).value
        box = self.query_one("#whatif-value", Input)
        if isinstance(param, str):
            box.placeholder = tr(
                f"新值（现为 {self._param_now(param)}）",
                f"new value (now {self._param_now(param)})",
            )
        self._whatif_changed()

    def _param_now(self, param: str) -> Any:
        pack_id, _, name = param.partition(".")
        packset = getattr(self, "packset", None)
        for pack in [*packset.packs, *packset.disabled] if packset is not None else []:
            if pack.id == pack_id:
                return pack.params.get(name)
        return None

    @on(Input.Changed, "#whatif-value")
    @_while_open
    def _whatif_changed(self) -> None:
        self.query_one("#whatif-save", Button).disabled = True
        self.whatif = self.whatif_overrides = None
        item = self._whatif_item()
        if item is None:
            self.query_one("#whatif-result", Static).update("")
            return
        self.query_one("#whatif-result", Static).update(
            Text(tr("正在计算…", "Working it out…"), style="dim")
        )
        as_of = date.fromisoformat(self.report["run"]["as_of"]) if self.report else self.as_of
        self._run_whatif(item, as_of)

    @work(thread=True, exclusive=True, group="whatif")
    def _run_whatif(self, item: str, as_of: date | None) -> None:
        from textual.worker import get_current_worker

        from qcrules.errors import QcrulesError

        try:
            overrides = service.parse_param_sets(self.workspace, [item])
            result = service.whatif(self.workspace, overrides, as_of=as_of)
        except QcrulesError as exc:
            message = for_terminal(exc.message + (f"\n{exc.hint}" if exc.hint else ""))
            if not get_current_worker().is_cancelled:
                self.call_from_thread(self._show_whatif, item, None, None, message)
            return
        result = replace(result, added=safe_data(result.added), removed=safe_data(result.removed))
        if not get_current_worker().is_cancelled:
            self.call_from_thread(self._show_whatif, item, overrides, result, None)

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
                entity = finding["entity"]
                out.append(f"{sign} ", style=style)
                out.append(f"{finding['rule']} ", style=LEVEL_STYLE.get(finding["level"], ""))
                out.append(f"{entity['type']} {entity['id']}")
                if entity.get("name"):
                    out.append(f" {entity['name']}", style="dim")
                out.append("\n")
        self.query_one("#whatif-result", Static).update(out)
        self.query_one("#whatif-save", Button).disabled = False

    @on(Button.Pressed, "#whatif-save")
    def action_save_whatif(self) -> None:
        overrides = self.whatif_overrides
        if not overrides:
            return
        if not self.store:
            self.notify(
                tr(
                    "只读模式（--no-store）：不能保存参数",
                    "Read-only (--no-store): parameters are not saved",
                ),
                severity="warning",
            )
            return
        changes = "\n".join(
            f"[params.{pack}] {name} = {value!r}   ({tr('现为', 'now')} {self._param_now(f'{pack}.{name}')!r})"
            for pack, values in overrides.items()
            for name, value in values.items()
        )
        path = self.workspace.config.path

        def done(note: str | None) -> None:
            if note is not None:
                self._save_whatif(overrides)

        self.push_screen(
            ConfirmChange(
                tr("保存参数到 qcrules.toml？", "Save the parameter to qcrules.toml?"),
                f"{path}\n\n{changes}\n\n"
                + tr(
                    f"之后的评估将新增 {len(self.whatif.added)} 条、减少 {len(self.whatif.removed)} 条发现。",
                    f"Later evaluations will add {len(self.whatif.added)} and drop "
                    f"{len(self.whatif.removed)} findings.",
                ),
                prompt=tr("备注（可不填）", "Note (optional)"),
                confirm=tr("保存", "Save"),
                required=False,
            ),
            done,
        )

    @work(thread=True, exclusive=True, group="act")
    def _save_whatif(self, overrides: dict[str, dict[str, Any]]) -> None:
        from qcrules.errors import QcrulesError

        try:
            path = service.save_params(self.workspace, overrides)
        except QcrulesError as exc:
            self.call_from_thread(self.notify, exc.message, severity="error")
            return
        self.call_from_thread(self._saved_whatif, path)

    def _saved_whatif(self, path: Any) -> None:
        self.notify(tr(f"已保存到 {path}", f"Saved to {path}"), timeout=4)
        self.query_one("#whatif-value", Input).value = ""
        self._load_packs()
        self.action_evaluate()

    # -- monitoring ---------------------------------------------------------------------

    def _show_sheet(self, sheet: Any, grant_rows: list, cells: list) -> None:
        self.sheet = sheet
        self.grant_rows = grant_rows
        self.query_one("#grants-table", PagedTable).show(cells, list)
        self._show_grant()

    def _show_grant(self) -> None:
        detail = self.query_one("#grant-detail", Static)
        row = self.query_one("#grants-table", DataTable).cursor_row
        charts = self.query_one(GrantCharts)
        if self.sheet is None or not self.grant_rows or not 0 <= row < len(self.grant_rows):
            detail.update(tr("这段时间没有投放数据。", "No delivery in this period."))
            charts.clear()
            return
        grant_id, days = self.grant_rows[row]
        bands = self.sheet.bands
        charts.show(days, bands)
        out = Text()
        out.append(f"{grant_id}  {days[0].nickname}  {days[0].merchant_id}\n", style="bold")
        out.append(
            tr(
                f"点击率正常 {bands['ctr_normal_min']:.0%}–{bands['ctr_normal_max']:.0%}"
                f"（<{bands['ctr_low']:.0%} 过低，>{bands['ctr_broad']:.0%} 过泛）；"
                f"保本 ROI {_num(days[0].break_even_roi)}；行业转化率 {_pct(days[0].industry_cvr)}\n\n",
                f"CTR normal {bands['ctr_normal_min']:.0%}–{bands['ctr_normal_max']:.0%} "
                f"(<{bands['ctr_low']:.0%} too low, >{bands['ctr_broad']:.0%} too broad); "
                f"break-even ROI {_num(days[0].break_even_roi)}; industry CVR "
                f"{_pct(days[0].industry_cvr)}\n\n",
            ),
            style="dim",
        )
        grid = Table(box=None, padding=(0, 1), header_style="bold")
        for header in (
            tr("日期", "Date"),
            tr("消耗", "Spend"),
            tr("点击率", "CTR"),
            "ROI",
            tr("转化率", "CVR"),
        ):
            grid.add_column(header, justify="right")
        for d in days:
            grid.add_row(
                d.day.isoformat(),
                f"{d.spend:,.0f}",
                _ratio_text(d.ctr, "{:.2%}", "bold red" if d.ctr_band in OUT_OF_BAND else ""),
                _ratio_text(d.roi, "{:.2f}", "bold red" if d.roi_band == "below" else ""),
                _ratio_text(d.cvr, "{:.2%}", "bold red" if d.cvr_band == "below" else ""),
            )
        detail.update(Group(out, grid, _bar_chart(days, bands)))

    @on(DataTable.RowHighlighted, "#grants-table")
    @_while_open
    def _grant_highlighted(self) -> None:
        self._show_grant()

    # -- packs --------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="packs")
    def _load_packs(self) -> None:
        packset = service.packs(self.workspace)
        self.call_from_thread(self._show_packs, packset)

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
        table = self.query_one("#rules-table", DataTable)
        table.clear()
        for pack, rule, enabled in self.rules:
            on = enabled and rule.enabled
            table.add_row(
                Text(pack.id),
                Text(rule.id),
                Text(rule.name),
                Text(_label(LEVEL_LABEL, rule.level), style=LEVEL_STYLE.get(rule.level, "")),
                Text(_label(ENTITY_LABEL, rule.entity)),
                Text(self._action_label(rule.action_kind)),
                Text("✔" if on else "✘", style="green" if on else "dim"),
            )
        self._show_rule()

    def _show_rule(self) -> None:
        from qcrules.i18n import pick

        detail = self.query_one("#rule-detail", Static)
        out = Text()
        packset = getattr(self, "packset", None)
        for diagnostic in packset.diagnostics if packset is not None else []:
            out.append(diagnostic.render(None) + "\n\n", style="red")
        row = self.query_one("#rules-table", DataTable).cursor_row
        if not self.rules or not 0 <= row < len(self.rules):
            detail.update(out)
            return
        pack, rule, enabled = self.rules[row]
        out.append(f"{rule.id} {rule.name}\n", style="bold")
        out.append(_label(LEVEL_LABEL, rule.level), style=LEVEL_STYLE.get(rule.level, ""))
        out.append(f" · {pack.id} {pack.version} ({pack.origin})")
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
        out.append(self._action_label(rule.action_kind) + "\n")
        out.append(tr("来源：", "Source: "), style="bold")
        out.append(f"{rule.source}\n\n")
        why = pick(rule.why) or pick(rule.message)
        if why:
            out.append(why + "\n")
        if self.backtest is not None:
            days = self.backtest.days
            counts = [d.by_rule.get(rule.id, 0) for d in days]
            summary = self.backtest.rules.get(rule.id)
            out.append(
                tr(f"\n近 {len(days)} 天回测：", f"\nBacktest, last {len(days)} days: "),
                style="bold",
            )
            out.append(count_bars(counts) + "\n")
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
        results = self.pack_tests.get(pack.id)
        if results is None:
            out.append(
                tr("\n按 t 运行包内测试", "\nPress t to run the tests in the packs"), style="dim"
            )
        else:
            passed = sum(1 for r in results if r.passed)
            out.append(
                tr(
                    f"\n包内测试：{passed} 通过，{len(results) - passed} 失败\n",
                    f"\nPack tests: {passed} passed, {len(results) - passed} failed\n",
                ),
                style="bold",
            )
            for result in results:
                if rule.id in result.test.expect or rule.id in result.fired:
                    mark = "✔" if result.passed else "✘"
                    out.append(f"  {mark} {result.test.name}\n")
        detail.update(out)

    @on(DataTable.RowHighlighted, "#rules-table")
    @_while_open
    def _rule_highlighted(self) -> None:
        self._show_rule()
        row = self.query_one("#rules-table", DataTable).cursor_row
        if 0 <= row < len(self.rules) and not self.query_one("#whatif-value", Input).value:
            pack, rule, _ = self.rules[row]
            if rule.params_used:  # the what-if pane offers the rule's own parameter
                self.query_one("#whatif-param", Select).value = f"{pack.id}.{rule.params_used[0]}"

    def action_test_packs(self) -> None:
        self.action_show_tab("packs")
        self._test_packs()

    @work(thread=True, exclusive=True, group="packs")
    def _test_packs(self) -> None:
        from qcrules.errors import QcrulesError

        try:
            results = service.test_packs(self.workspace)
        except QcrulesError as exc:
            self.call_from_thread(self.notify, exc.message, severity="error")
            return
        self.call_from_thread(self._show_pack_tests, results)

    def _show_pack_tests(self, results: list[Any]) -> None:
        by_pack: dict[str, list[Any]] = {}
        for result in results:
            by_pack.setdefault(result.pack, []).append(result)
        self.pack_tests = by_pack
        failed = [r for r in results if not r.passed]
        self._show_rule()
        self.notify(
            tr(
                f"包内测试：{len(results) - len(failed)} 通过，{len(failed)} 失败",
                f"Pack tests: {len(results) - len(failed)} passed, {len(failed)} failed",
            ),
            severity="error" if failed else "information",
        )

    # -- command palette ----------------------------------------------------------------

    def palette_entries(self) -> list[tuple[str, str, str]]:
        """(name, action, help) for the palette; the help ends with the action's key (no
        square brackets: the palette reads help as markup)."""
        keys = {b.action: self._keys(b) for b in self.BINDINGS}
        keys.update({b.action: self._keys(b) for b in ActionsPane.BINDINGS})
        entries = []
        for text, action, help_text in self._palette_commands():
            key = keys.get(action)
            if key:
                help_text = f"{help_text}  ({key})" if help_text else f"({key})"
            entries.append((text, action, help_text))
        return entries

    def _palette_commands(self) -> list[tuple[str, str, str]]:
        return [
            (
                tr("评估：立即运行", "evaluate: now"),
                "evaluate",
                tr("重新评估所有规则", "run every rule"),
            ),
            (
                tr("发现：解释所选", "finding: explain"),
                "explain",
                tr("规则为何触发", "why it fired"),
            ),
            (
                tr("动作：执行所选", "action: apply"),
                "apply",
                tr("先预览改动", "shows the change first"),
            ),
            (tr("动作：忽略所选", "action: dismiss"), "dismiss", tr("需写明原因", "with a reason")),
            (tr("动作：暂停该对象", "action: hold"), "hold", tr("需写明原因", "with a reason")),
            (
                tr("动作：撤销上一次", "action: undo"),
                "undo",
                tr("按审计日志撤销", "from the audit log"),
            ),
            (tr("发现：筛选", "findings: filter"), "focus_filter", ""),
            (tr("发现：切换级别", "findings: next level"), "cycle_level", ""),
            (tr("视图：概览", "view: dashboard"), "show_tab('dashboard')", ""),
            (tr("视图：发现", "view: findings"), "show_tab('findings')", ""),
            (tr("视图：动作队列", "view: actions"), "show_tab('actions')", ""),
            (
                tr("动作：批量执行所筛选的", "actions: apply all shown"),
                "bulk_apply",
                tr("先列出全部改动，全部成功或全部不做", "lists every change; all or nothing"),
            ),
            (tr("视图：达人池", "view: creators"), "show_tab('creators')", ""),
            (tr("视图：授权", "view: grants"), "show_tab('grants')", ""),
            (tr("视图：效果监测", "view: monitoring"), "show_tab('monitoring')", ""),
            (tr("达人：加入达人池", "creator: add to pool"), "pool('in_pool')", ""),
            (tr("达人：移出达人池", "creator: remove from pool"), "pool('candidate')", ""),
            (tr("达人：排除", "creator: exclude"), "pool('excluded')", ""),
            (
                tr("授权：发起授权", "grant: request"),
                "request_grant",
                tr("安全默认值，实时规则检查", "safe defaults, live rule checks"),
            ),
            (
                tr("授权：续期", "grant: renew"),
                "renew_grant",
                tr("预填续期表单", "pre-filled form"),
            ),
            (
                tr("授权：改状态", "grant: mark"),
                "mark_grant",
                tr("已通过、生效、撤销…", "approved, …"),
            ),
            (tr("视图：规则包", "view: packs"), "show_tab('packs')", ""),
            (tr("规则包：运行包内测试", "packs: test"), "test_packs", ""),
            (tr("帮助：全部按键", "help: every key"), "help", ""),
        ]

    def action_bulk_apply(self) -> None:
        """From the palette: the Actions tab's bulk apply of the open actions it shows."""
        self.action_show_tab("actions")
        self.query_one(ActionsPane).action_bulk_apply()

    def action_runner(self, action: str):
        async def run() -> None:
            await self.run_action(action)

        return run
