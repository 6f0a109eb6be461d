"""`qcrules report` — the monitoring sheet (效果监测表)."""

from __future__ import annotations

from pathlib import Path

import click

from qcrules import service
from qcrules.cli.base import atomic_output, err_console, output_path
from qcrules.errors import UsageError
from qcrules.i18n import tr


@click.command("report")
@click.option("--format", "fmt", type=click.Choice(["csv", "html", "xlsx"]), default="csv")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--days", type=int, default=14, show_default=True, help="Days up to --as-of.")
@click.option("--as-of", "as_of", help="The last day of the sheet (default: today).")
@click.option("--merchant", help="Only this merchant's grants.")
@click.option("--grant", "grants", multiple=True, help="Only this grant (repeatable).")
@click.pass_obj
def report_cmd(state, fmt: str, output, days: int, as_of, merchant, grants) -> int:
    """CTR, ROI and CVR per grant and day, each against the monitoring rules' band."""
    from qcrules.cli.evaluate_cmd import parse_date
    from qcrules.report import render_csv, render_html, write_xlsx

    output = output_path(output)
    if fmt == "xlsx" and output is None:
        raise UsageError(
            tr("xlsx 是二进制文件，需要 --output", "xlsx is a binary file: it needs --output"),
            hint=tr("例如 --output 效果监测.xlsx", "for example --output monitoring.xlsx"),
        )
    sheet = service.monitoring_sheet(
        state.workspace(),
        as_of=parse_date(as_of, "--as-of"),
        days=days,
        merchant=merchant,
        grants=list(grants) or None,
    )
    if output is None:
        click.echo(render_csv(sheet) if fmt == "csv" else render_html(sheet), nl=False)
        return 0
    with atomic_output(output) as partial:  # never leave half a file behind
        if fmt == "xlsx":
            write_xlsx(sheet, partial)
        else:
            text = render_csv(sheet) if fmt == "csv" else render_html(sheet)
            # a BOM so that Excel reads the Chinese headers of a CSV file right
            partial.write_text(text, encoding="utf-8-sig" if fmt == "csv" else "utf-8")
    err_console().print(
        tr(f"已写入 {output}（{len(sheet.rows)} 行）", f"wrote {output} ({len(sheet.rows)} rows)"),
        highlight=False,
    )
    return 0


def register(group: click.Group) -> None:
    group.add_command(report_cmd)
