"""`qcrules runs` — the stored evaluation runs, and joining the shares of a sharded one."""

from __future__ import annotations

import click

from qcrules import service
from qcrules.cli.base import echo_json, err_console, out_console
from qcrules.i18n import tr


@click.group("runs")
def runs_group() -> None:
    """Stored evaluation runs (whole runs and the shares of `evaluate --shard`)."""


@runs_group.command("list")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_obj
def runs_list(state, limit: int, fmt: str) -> int:
    """The newest runs first; a share shows its K/N."""
    rows = service.list_runs(state.workspace(), limit)
    if fmt == "json":
        echo_json([row.to_json() for row in rows])
        return 0
    from rich.table import Table

    table = Table(header_style="bold")
    for column, zh in (
        ("id", "编号"),
        ("as of", "截至"),
        ("share", "分片"),
        ("findings", "发现"),
        ("exit", "退出码"),
        ("started", "开始时间"),
    ):
        table.add_column(tr(zh, column), no_wrap=column == "id")
    for row in rows:
        share = row.part or (
            tr(f"合并 {len(row.merged_from)} 份", f"merged {len(row.merged_from)}")
            if row.merged_from
            else ""
        )
        table.add_row(
            row.id,
            row.as_of.isoformat(),
            share,
            str(row.findings),
            str(row.exit_code),
            f"{row.started_at:%Y-%m-%d %H:%M:%S}",
        )
    out_console().print(table)
    return 0


@runs_group.command("merge")
@click.argument("run_ids", nargs=-1)
@click.option("--as-of", "as_of", help="The day whose shares to join (default: the newest).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_obj
def runs_merge(state, run_ids, as_of, fmt: str) -> int:
    """Join the shares 1/N … N/N of `evaluate --shard` into one whole run.

    Without RUN_IDS: the newest run of each share as of --as-of (or the newest sharded
    day). The whole run becomes the last run (queue, TUI, report); its exit code is the
    one an unsharded evaluate would give."""
    from qcrules.cli.evaluate_cmd import parse_date

    merged = service.merge_shares(
        state.workspace(), as_of=parse_date(as_of, "--as-of"), run_ids=list(run_ids) or None
    )
    if fmt == "json":
        echo_json(merged.to_json())
    else:
        total = merged.findings
        if merged.existing:
            said = tr(
                f"{merged.as_of} 的 {merged.shares} 份已合并过：运行 {merged.run}"
                f"（{total} 条发现），没有再合并",
                f"the {merged.shares} shares of {merged.as_of} were joined before, into run "
                f"{merged.run} ({total} findings); nothing new was made",
            )
        else:
            said = tr(
                f"已把 {merged.as_of} 的 {merged.shares} 份合并为运行 {merged.run}"
                f"（{total} 条发现）",
                f"joined {merged.shares} shares of {merged.as_of} into run "
                f"{merged.run} ({total} findings)",
            )
        err_console().print(said, highlight=False)
    return merged.exit_code


def register(group: click.Group) -> None:
    group.add_command(runs_group)
