"""How the TUI shows things: labels in zh/en, values formatted as an operator reads them
(percent, ¥, days, states in words), bars and sparklines. Pure functions of data, so every
tab widget draws a finding, a grant or a day the same way."""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from rich.text import Text
from textual.css.query import NoMatches

from qcrules.findings import Finding, RunReport
from qcrules.i18n import tr
from qcrules.safety import for_terminal, safe_data
from qcrules.service import (
    AUTH_LABEL,
    CHANNEL_LABEL,
    SCOPE_LABEL,
    STATUS_LABEL,
)

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
STATE_MARK = {"applied": "✔", "dismissed": "✘", "held": "⏸"}
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


def change_text(change: Any) -> str:
    """A record change as an operator reads it — 授权 G-1：生效中 → 已撤销, not the row's
    columns: a grant's or a pool entry's state, a hold, a new grant; anything else (a
    plugin's table) as the change describes itself. Safe for the terminal."""
    key, before, after = change.key, change.before or {}, change.after or {}
    if change.table == "grants":
        what = tr(f"授权 {key.get('grant_id')}", f"grant {key.get('grant_id')}")
        if not before and after:
            shown = label(STATUS_LABEL, str(after.get("status") or ""))
            return for_terminal(tr(f"新建{what}（{shown}）", f"new {what} ({shown})"))
        if before.get("status") != after.get("status") and after:
            was, now = (label(STATUS_LABEL, str(s.get("status") or "")) for s in (before, after))
            return for_terminal(f"{what}{tr('：', ': ')}{was} → {now}")
        if after and bool(before.get("has_agreement")) != bool(after.get("has_agreement")):
            was, now = (
                tr("已签", "signed") if s.get("has_agreement") else tr("未签", "not signed")
                for s in (before, after)
            )
            return for_terminal(f"{what}{tr('：协议', ': agreement')} {was} → {now}")
    if change.table == "pool":
        who = tr(
            f"达人 {key.get('aweme_id')}（商家 {key.get('merchant_id')}）",
            f"creator {key.get('aweme_id')} ({key.get('merchant_id')})",
        )
        was, now = (label(POOL_LABEL, str(s.get("status") or "—")) for s in (before, after))
        return for_terminal(f"{who}{tr('：', ': ')}{was} → {now}")
    if change.table == "holds":
        entity = label(ENTITY_LABEL, str(key.get("entity_type") or ""))
        who = f"{entity} {key.get('entity_id')}"
        if not after:
            return for_terminal(tr(f"解除暂停：{who}", f"hold released: {who}"))
        reason = after.get("reason") or ""
        return for_terminal(tr(f"暂停 {who}（原因：{reason}）", f"hold {who} (reason: {reason})"))
    return for_terminal(change.describe())


def listed_records(workspace: Any, facts: dict[str, list[Any]]) -> tuple[list[Any], list[Any]]:
    """The creators and grants the tabs list, safe for the terminal: a run's facts, and the
    pool's creators no rule judges (so an excluded one stays findable and can come back)."""
    from qcrules import service

    creators = service.creators_to_list(workspace, facts.get("creator", []))
    return [safe_fact(f) for f in creators], [safe_fact(f) for f in facts.get("grant", [])]


def safe_fact(fact: Any) -> Any:
    """A fact as the TUI shows it: no control sequence from the data reaches the terminal."""
    return replace(
        fact,
        entity_id=for_terminal(fact.entity_id, one_line=True),
        values=safe_data(fact.values),
    )


def label(table: dict[str, tuple[str, str]], key: str) -> str:
    zh, en = table.get(key, (key, key))
    return tr(zh, en)


def action_params(params: dict[str, Any]) -> str:
    """An action's parameters as an operator reads them: 30 天, not {'days': 30}."""
    words = []
    for name, value in params.items():
        if name == "days":
            words.append(tr(f"{value} 天", f"{value} days"))
        else:
            words.append(f"{name} {value}")
    return tr("，", ", ").join(words)


def ratio_text(value: float | None, fmt: str, style: str = "") -> Text:
    return Text("—" if value is None else fmt.format(value), style=style)


def below_style(value: float | None, line: float | None) -> str:
    if value is None or line is None:
        return ""
    return "bold red" if value < line else "green"


def num(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.2%}"


def field_value(spec: Any, name: str, value: Any) -> str:
    """A fact value as an operator reads it: percent, ¥, days, 是/否, states in words."""
    if value is None:
        return tr("缺失", "missing")
    if isinstance(value, bool):
        return tr("是", "yes") if value else tr("否", "no")
    if name in VALUE_LABELS:
        return label(VALUE_LABELS[name], str(value))
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


def trend(values: list[float | None]) -> str:
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
        out.append(f"{label(LEVEL_LABEL, level):<9}", style=LEVEL_STYLE[level])
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
    ends: dict[str, Any] = {}  # a merchant's last day in the sheet: where its windows end
    for row in sheet.rows:
        by_grant.setdefault(row.grant_id, []).append(row)
        ends[row.merchant_id] = max(row.day, ends.get(row.merchant_id, row.day))
    grant_rows = sorted(by_grant.items())
    cells = []
    for grant_id, days in grant_rows:
        # the 7 calendar days ending there, as the facts' 7d windows: a day without rows
        # spent nothing; a day without GMV (or orders) leaves the window's ROI (CVR) unknown
        since = ends[days[0].merchant_id] - timedelta(days=6)
        last = [d for d in days if d.day >= since]
        clicks = sum(d.clicks for d in last)
        shows = sum(d.impressions for d in last)
        spend = sum(d.spend for d in last)
        gmv = None if any(d.gmv is None for d in last) else sum(d.gmv for d in last)
        orders = None if any(d.orders is None for d in last) else sum(d.orders for d in last)
        ctr = clicks / shows if shows else None
        roi = gmv / spend if spend and gmv is not None else None
        cvr = orders / clicks if clicks and orders is not None else None
        band = ctr_band(ctr, sheet.bands_for(days[0].merchant_id))
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
                ratio_text(
                    ctr, "{:.2%}", "bold red" if band in OUT_OF_BAND else ("green" if band else "")
                ),
                Text(trend([d.ctr for d in days])),
                ratio_text(roi, "{:.2f}", below_style(roi, days[0].break_even_roi)),
                Text(trend([d.roi for d in days])),
                ratio_text(cvr, "{:.2%}", below_style(cvr, days[0].industry_cvr)),
                Text(str(out), style="bold red" if out else "green"),
            ]
        )
    return grant_rows, cells


def bar_chart(days: list[Any], bands: dict[str, float]) -> Text:
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
        out.append(f" {pct(d.ctr)}\n")
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


def while_open(handler):
    """A table's highlight or a field's change can arrive while the app closes (a worker
    filled it just before quit): its pane is gone then, nothing to show — not a crash."""

    @functools.wraps(handler)
    def guarded(self, *args, **kwargs):
        try:
            return handler(self, *args, **kwargs)
        except NoMatches:
            app = self.app
            if app._exit or app._closing or not app.screen_stack or not app.is_running:
                return None
            raise

    return guarded


def action_label(kinds: dict[str, Any], kind: str) -> str:
    """An action kind by the name an operator knows (暂停, 续期…), or the kind itself."""
    known = kinds.get(kind)
    return tr(known.zh, known.en) if known is not None else kind


def worst(findings: list[Finding]) -> Text:
    """A records table's findings cell: how many, and the most severe level."""
    if not findings:
        return Text("—", style="dim")
    top = min(findings, key=lambda f: LEVELS.index(f.level) if f.level in LEVELS else 9)
    return Text(
        f"{len(findings)} · {label(LEVEL_LABEL, top.level)}",
        style=LEVEL_STYLE.get(top.level, ""),
    )


def field_line(fields: dict[tuple[str, str], Any], entity: str, name: str, value: Any) -> Text:
    """`  授权状态  生效中` in zh, `  status  active` in en: the label a user knows."""
    spec = fields.get((entity, name))
    text = tr(spec.doc_zh, name) if spec is not None else name
    line = Text(f"  {text}  ", style="dim")
    line.append(for_terminal(field_value(spec, name, value), one_line=True) + "\n")
    return line


def action_kind(finding: Finding) -> str | None:
    """The kind of a finding's suggested action; None while its entity is on hold (it keeps
    its findings but gets no actions) or when the rule suggests none."""
    return finding.action.kind if finding.action is not None else None


def action_text(kinds: dict[str, Any], finding: Finding) -> str:
    """The suggested action as the findings table says it; a held finding says so."""
    kind = action_kind(finding)
    if kind is not None:
        return action_label(kinds, kind)
    return tr("⏸ 暂停中，无动作", "⏸ on hold: no action") if finding.hold else "—"


def safe_finding(finding: Finding) -> Finding:
    """A finding as the TUI shows it: no control sequence from the data (ids, nicknames,
    messages, evidence) reaches the terminal."""
    subject = finding.subject
    action = finding.action
    return replace(
        finding,
        subject=replace(
            subject,
            id=for_terminal(subject.id, one_line=True),
            merchant=safe_data(subject.merchant),
            creator=safe_data(subject.creator),
            name=safe_data(subject.name),
            handle=safe_data(subject.handle),
        ),
        message=safe_data(finding.message),
        name=safe_data(finding.name),
        evidence=safe_data(finding.evidence),
        source=safe_data(finding.source),
        action=replace(action, params=safe_data(action.params), steps=safe_data(action.steps))
        if action is not None
        else None,
        hold=safe_data(finding.hold),
    )


def safe_report(report: RunReport) -> RunReport:
    """A run's report as the TUI shows it (`safe_finding` for each finding)."""
    return replace(
        report,
        run=replace(report.run, id=for_terminal(report.run.id, one_line=True)),
        findings=[safe_finding(f) for f in report.findings],
    )
