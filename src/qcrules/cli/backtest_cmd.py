"""`qcrules backtest` and `qcrules whatif` — a rule's effect before trusting it."""

from __future__ import annotations

import csv
import sys

import click
from rich.table import Table
from rich.text import Text

from qcrules import service
from qcrules.cli.base import echo_json, out_console
from qcrules.cli.evaluate_cmd import parse_date
from qcrules.errors import UsageError
from qcrules.i18n import tr
from qcrules.output.formats import entity_label

LEVEL_STYLE = {"critical": "bold red", "error": "red", "warn": "yellow", "info": "cyan"}
SET_HELP = "Override a pack parameter, typed as in [params] of qcrules.toml (repeatable)."


def _required_date(value: str, option: str):
    day = parse_date(value, option)
    assert day is not None
    return day


@click.command("backtest")
@click.option("--from", "start", required=True, help="The first day (2026-11-01).")
@click.option("--to", "end", required=True, help="The last day (2026-11-30).")
@click.option("--pack", "packs", multiple=True, help="Only this pack (repeatable).")
@click.option("--select", multiple=True, help="Only rules with this id or prefix (repeatable).")
@click.option("--merchant", help="Only this merchant's creators, grants and pool.")
@click.option("--set", "sets", multiple=True, metavar="PACK.PARAM=V", help=SET_HELP)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
)
@click.option(
    "--jobs",
    type=int,
    default=1,
    show_default=True,
    help="Split the days over this many processes (one per core); the result is the same.",
)
@click.pass_obj
def backtest_cmd(state, start, end, packs, select, merchant, sets, fmt, jobs) -> int:
    """Evaluate every day of a range as of that day (its windows end there); nothing is
    stored. Shows per day the findings, and those new or resolved since the day before."""
    result = service.backtest(
        state.workspace(),
        _required_date(start, "--from"),
        _required_date(end, "--to"),
        packs=list(packs),
        select=list(select),
        merchant=merchant,
        sets=list(sets),
        jobs=jobs,
    )
    if fmt == "json":
        echo_json(result.to_json())
    elif fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["as_of", "rule", "level", "findings", "new", "resolved"])
        for day in result.days:
            new = {}
            for finding in day.new:
                new[finding["rule"]] = new.get(finding["rule"], 0) + 1
            gone = {}
            for finding in day.resolved:
                gone[finding["rule"]] = gone.get(finding["rule"], 0) + 1
            for rule in sorted(set(day.by_rule) | set(new) | set(gone)):
                writer.writerow(
                    [
                        day.as_of.isoformat(),
                        rule,
                        result.levels.get(rule, ""),
                        day.by_rule.get(rule, 0),
                        new.get(rule, 0),
                        gone.get(rule, 0),
                    ]
                )
    else:
        _backtest_table(result)
    return 0


def _backtest_table(result) -> None:
    console = out_console()
    days = Table(title=tr("逐日回测", "Backtest, day by day"), title_justify="left")
    days.add_column(tr("日期", "Day"))
    days.add_column(tr("发现", "Findings"), justify="right")
    for level in ("critical", "error", "warn", "info"):
        days.add_column(level, justify="right", style=LEVEL_STYLE[level])
    days.add_column(tr("新增", "New"), justify="right")
    days.add_column(tr("消失", "Resolved"), justify="right")
    for day in result.days:
        days.add_row(
            day.as_of.isoformat(),
            str(day.findings),
            *(str(day.by_level.get(level, 0)) for level in ("critical", "error", "warn", "info")),
            f"+{len(day.new)}" if day.new else "",
            f"-{len(day.resolved)}" if day.resolved else "",
        )
    console.print(days)
    rules = Table(title=tr("按规则", "By rule"), title_justify="left")
    rules.add_column(tr("规则", "Rule"))
    rules.add_column(tr("级别", "Level"))
    rules.add_column(tr("首次触发", "First seen"))
    rules.add_column(tr("触发天数", "Days firing"), justify="right")
    rules.add_column(tr("涉及对象", "Entities"), justify="right")
    for rule, summary in result.rules.items():
        level = result.levels.get(rule, "")
        rules.add_row(
            rule,
            Text(level, style=LEVEL_STYLE.get(level, "")),
            summary["first_seen"],
            str(summary["days_firing"]),
            str(summary["entities"]),
        )
    if result.rules:
        console.print(rules)
    else:
        console.print(tr("这段时间没有规则触发。", "No rule fired in this range."))


@click.command("whatif")
@click.option("--set", "sets", multiple=True, required=True, metavar="PACK.PARAM=V", help=SET_HELP)
@click.option("--merchant", help="Only this merchant's creators, grants and pool.")
@click.option("--as-of", "as_of", help="Evaluate as of a past date (default: today).")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.pass_obj
def whatif_cmd(state, sets, merchant, as_of, fmt) -> int:
    """Evaluate with parameter overrides next to the current parameters and show the
    findings they add and remove; nothing is stored and qcrules.toml is not changed."""
    if not sets:
        raise UsageError(
            tr("至少给一个 --set 规则包.参数=值", "give at least one --set PACK.PARAM=VALUE")
        )
    result = service.whatif(
        state.workspace(), list(sets), merchant=merchant, as_of=parse_date(as_of, "--as-of")
    )
    if fmt == "json":
        echo_json(result.to_json())
        return 0
    console = out_console()
    for pack, values in result.params.items():
        for name, change in values.items():
            console.print(
                Text(f"{pack}.{name}: {change['current']!r} → {change['new']!r}", style="bold")
            )
    for sign, style, findings in (("+", "green", result.added), ("-", "red", result.removed)):
        for finding in findings:
            line = Text(f"{sign} ", style=style)
            line.append(f"{finding.level:<8}", style=LEVEL_STYLE.get(finding.level, ""))
            line.append(f" {finding.rule} ", style="bold")
            line.append(entity_label(finding.subject.to_json()))
            line.append(f"  {finding.message}", style="dim")
            console.print(line)
    console.print(
        tr(
            f"新增 {len(result.added)}，消失 {len(result.removed)}，不变 {result.unchanged}"
            f"（截至 {result.as_of}）",
            f"{len(result.added)} added, {len(result.removed)} removed, {result.unchanged} "
            f"unchanged (as of {result.as_of})",
        )
    )
    return 0


def register(group: click.Group) -> None:
    group.add_command(backtest_cmd)
    group.add_command(whatif_cmd)
