"""`qcrules import KIND FILE...` — CSV/XLSX exports into the workspace, all or nothing per file.

Thin: options in, `service.import_files` does the work, the report comes out. Results go to
stdout, warnings and errors to stderr; the progress bar (stderr) only for big files on a TTY.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from qcrules import service
from qcrules.cli.base import (
    echo_json,
    err_console,
    error_prefix,
    hint_prefix,
    note_prefix,
    out_console,
    warning_prefix,
)
from qcrules.errors import EXIT_ERROR, EXIT_OK
from qcrules.i18n import tr
from qcrules.service import (
    ENUM_ALIASES,
    ENUM_CANONICAL,
    KINDS,
    TYPES,
    FileReport,
    ImportResult,
    all_names,
    kind_spec,
)

MAX_PROBLEMS_SHOWN = 200
PROGRESS_MIN_BYTES = 2_000_000


def _help_columns(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is None or ctx.resilient_parsing:
        return
    out_console().print(columns_help(kind_spec(value).name), highlight=False)
    ctx.exit(0)


def columns_help(kind: str):
    """The header map of one kind as a table: what `--help-columns KIND` prints."""
    from rich.table import Table

    from qcrules.service import plugin_aliases

    spec = KINDS[kind]
    extra = plugin_aliases(kind)
    zh = tr("zh", "en") == "zh"
    table = Table(
        title=tr(f"{spec.title[0]}（{kind}）文件的列", f"columns of a {kind} file"),
        caption=tr(
            "表头匹配忽略大小写、空格、全角括号和单位后缀，如 (元)、（%）。",
            "Headers match ignoring case, spaces, full-width brackets and unit suffixes "
            "such as (元) or (%).",
        )
        + (
            tr(" 无法识别的列保存在 extra 中。", " Unknown columns are kept in `extra`.")
            if spec.keeps_extra
            else tr(" 无法识别的列会被忽略（有警告）。", " Unknown columns are ignored (warning).")
        )
        + (
            tr(
                " 点击率、ROI、转化率列不采信，由原始计数计算。",
                " CTR, ROI and CVR columns are ignored: qcrules derives them from the counts.",
            )
            if kind == "metrics"
            else ""
        ),
        show_lines=False,
    )
    table.add_column(tr("列", "column"), no_wrap=True)
    table.add_column(tr("必需", "required"))
    table.add_column(tr("类型", "type"))
    table.add_column(tr("也可写作", "also accepted"), overflow="fold")
    table.add_column(tr("取值格式", "values"), overflow="fold")
    for column in spec.columns:
        required = tr("是", "yes") if column.required else ""
        if column.name == "merchant_id" and kind != "merchants":
            required = tr("是（或 --merchant）", "yes (or --merchant)")
        if column.name in spec.key:
            required += tr("，键", ", key") if required else tr("键", "key")
        if column.type == "enum" and column.enum:
            formats = "\n".join(
                f"{c}: {', '.join(ENUM_ALIASES[column.enum].get(c, ()))}"
                for c in ENUM_CANONICAL[column.enum]
            )
        else:
            formats = TYPES[column.type][1 if zh else 0]
        if column.secret:
            formats += tr("（凭证：输出中打码）", " (a credential: masked in output)")
        table.add_row(
            column.name,
            required,
            column.type,
            ", ".join(all_names(spec, column, extra)[1:]),
            formats,
        )
    return table


@click.command("import")
@click.argument("kind", metavar="{merchants|creators|pool|grants|metrics}")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--merchant",
    metavar="ID",
    help="Merchant for rows without one; `import creators` also adds each creator to its pool.",
)
@click.option("--dry-run", is_flag=True, help="Check everything and report; write nothing.")
@click.option(
    "--skip-invalid", is_flag=True, help="Import the good rows; write the bad ones to --rejects."
)
@click.option(
    "--rejects",
    metavar="FILE",
    type=click.Path(path_type=Path),
    help="Where --skip-invalid writes rejected rows (default FILE.rejects.csv; a folder for several).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Report format on stdout.",
)
@click.option(
    "--help-columns",
    metavar="KIND",
    is_eager=True,
    expose_value=False,
    callback=_help_columns,
    help="Print the accepted columns, header aliases and value formats of KIND, then exit.",
)
@click.pass_obj
def import_cmd(
    state,
    kind: str,
    files: tuple[Path, ...],
    merchant: str | None,
    dry_run: bool,
    skip_invalid: bool,
    rejects: Path | None,
    fmt: str,
) -> int:
    """Import CSV or XLSX files (千川, 电商罗盘, 蝉妈妈, 星图 exports) of one KIND.

    Each file is checked completely first and written in one transaction: one bad row rejects
    the file with every bad row listed, unless --skip-invalid. Re-importing updates rows in
    place. See the columns with `qcrules import --help-columns KIND`.
    """
    spec = kind_spec(kind)
    if rejects is not None and not skip_invalid:
        raise click.UsageError(
            tr("--rejects 需要与 --skip-invalid 一起使用", "--rejects needs --skip-invalid")
        )
    workspace = state.workspace()
    with _ProgressView(enabled=fmt == "text" and _wants_progress(files)) as view:
        result = service.import_files(
            workspace,
            spec.name,
            list(files),
            merchant=merchant,
            dry_run=dry_run,
            skip_invalid=skip_invalid,
            rejects=rejects,
            progress=view.update if view.enabled else None,
        )
    if fmt == "json":
        echo_json(result.to_dict())
    else:
        _print_text(result)
    return EXIT_OK if result.ok else EXIT_ERROR


def _wants_progress(files: tuple[Path, ...]) -> bool:
    if not err_console().is_terminal:
        return False
    return any(p.is_file() and p.stat().st_size >= PROGRESS_MIN_BYTES for p in files)


class _ProgressView:
    """A rich progress bar on stderr, one task per file."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.progress = None
        self.tasks: dict[str, int] = {}

    def __enter__(self) -> _ProgressView:
        if self.enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TimeElapsedColumn(),
                console=err_console(),
                transient=True,
            )
            self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.stop()

    def update(self, file: str, phase: str, done: int, total: int | None) -> None:
        if self.progress is None:
            return
        label = {
            "read": tr("读取", "reading"),
            "check": tr("校验", "checking"),
            "write": tr("写入", "writing"),
        }.get(phase, phase)
        description = f"{Path(file).name}: {label}"
        task = self.tasks.get(file)
        if task is None:
            task = self.tasks[file] = self.progress.add_task(description, total=total)
        self.progress.update(task, description=description, completed=done, total=total)


def _print_text(result: ImportResult) -> None:
    out = out_console()
    err = err_console()
    for report in result.files:
        name = escape(report.path)
        for warning in report.warnings:  # headers and cells from the file: never markup
            err.print(f"{warning_prefix()}{name}: {escape(warning)}", highlight=False)
        for note in report.notes:
            err.print(f"{note_prefix()}{name}: {escape(note)}", highlight=False)
        if report.failed:
            _print_failure(report)
            continue
        out.print(_summary(report), highlight=False, markup=False)
        if report.pool:
            pool = report.pool
            if report.dry_run:
                line = tr(
                    f"  达人池 {pool['merchant']}：将加入 {pool['added']} 个候选，"
                    f"{pool['kept']} 个已在池中（状态不变）",
                    f"  pool {pool['merchant']}: would add {pool['added']} as candidate, "
                    f"{pool['kept']} already there (status kept)",
                )
            else:
                line = tr(
                    f"  达人池 {pool['merchant']}：加入 {pool['added']} 个候选，"
                    f"{pool['kept']} 个已在池中（状态不变）",
                    f"  pool {pool['merchant']}: {pool['added']} added as candidate, "
                    f"{pool['kept']} already there (status kept)",
                )
            out.print(line, highlight=False, markup=False)
        if report.rejected:
            where = (
                tr(f"，写入 {report.rejects_path}", f", written to {report.rejects_path}")
                if report.rejects_path
                else ""
            )
            err.print(
                f"{warning_prefix()}{name}: "
                + escape(
                    tr(
                        f"跳过 {report.rejected} 行无效数据{where}",
                        f"skipped {report.rejected} invalid rows{where}",
                    )
                ),
                highlight=False,
            )
            _print_problems(report)


def _summary(report: FileReport) -> str:
    name = report.path
    if report.dry_run:
        return tr(
            f"{name}：试运行，{report.rows} 行 — 将新增 {report.inserted}，更新 {report.updated}；未写入任何数据",
            f"{name}: dry run, {_rows(report.rows)} — would insert {report.inserted}, "
            f"update {report.updated}; nothing written",
        )
    return tr(
        f"{name}：{report.rows} 行 — 新增 {report.inserted}，更新 {report.updated}（{report.seconds:.1f} 秒）",
        f"{name}: {_rows(report.rows)} — {report.inserted} inserted, {report.updated} updated "
        f"({report.seconds:.1f}s)",
    )


def _rows(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


def _print_failure(report: FileReport) -> None:
    err = err_console()
    if report.rejected:
        head = tr(
            f"{report.path}：{report.rejected} 行无效；整个文件未导入",
            f"{report.path}: {report.rejected} invalid rows; nothing was imported from this file",
        )
    else:
        head = tr(f"{report.path}：未导入", f"{report.path}: not imported")
    err.print(error_prefix() + escape(head), highlight=False)
    _print_problems(report)
    if report.rejected:
        err.print(
            hint_prefix()
            + tr(
                "修正这些行后重新导入，或用 --skip-invalid 只导入有效行",
                "fix these rows and import again, or use --skip-invalid to import the valid rows",
            ),
            highlight=False,
        )


def _print_problems(report: FileReport) -> None:
    err = err_console()
    for problem in report.problems[:MAX_PROBLEMS_SHOWN]:
        err.print("  " + problem.format(report.path), highlight=False, markup=False)
    hidden = len(report.problems) - MAX_PROBLEMS_SHOWN
    if hidden > 0:
        err.print(
            "  "
            + tr(
                f"……另有 {hidden} 个问题（--format json 列出全部；--skip-invalid 写出拒绝文件）",
                f"… and {hidden} more (--format json lists them all; --skip-invalid writes a rejects file)",
            ),
            highlight=False,
        )


def register(group: click.Group) -> None:
    group.add_command(import_cmd)
