"""`qcrules init` and `qcrules demo` — create a workspace, or try one."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click

from qcrules import service
from qcrules.cli.base import echo_json, err_console
from qcrules.i18n import tr


@click.command("init")
@click.argument("folder", type=click.Path(file_okay=False), default=".")
@click.option("--demo", is_flag=True, help="Fill it with a generated, realistic demo data set.")
@click.option(
    "--seed",
    type=click.IntRange(0, 2**32 - 1),
    default=7,
    show_default=True,
    help="Seed of the demo data.",
)
@click.pass_obj
def init_cmd(state, folder: str, demo: bool, seed: int) -> int:
    """Create a workspace: qcrules.toml and the database (SQLite in WAL mode by default;
    `qcrules --database-url URL init` puts it on that database)."""
    import os

    url = state.database_url or os.environ.get("QCRULES_DATABASE_URL", "").strip() or None
    workspace = service.init_workspace(Path(folder), demo=demo, seed=seed, database_url=url)
    console = err_console()
    console.print(
        tr("已创建工作区：", "Created workspace: ") + str(workspace.config.path), highlight=False
    )
    if demo:
        console.print(
            tr("已生成演示数据。下一步：", "Demo data generated. Next: ")
            + f"cd {workspace.root} && qcrules evaluate",
            highlight=False,
        )
    elif any((counts := service.workspace_records(workspace)).values()):
        console.print(
            tr("已加入现有数据库：", "Joined an existing database: ")
            + service.describe_records(counts)
            + tr("。下一步：", ". Next: ")
            + f"cd {workspace.root} && qcrules evaluate",
            highlight=False,
        )
    else:
        console.print(
            tr("下一步：导入数据，例如 ", "Next: import your data, e.g. ")
            + "qcrules import creators creators.csv",
            highlight=False,
        )
    return 0


@click.command("demo")
@click.option(
    "--seed",
    type=click.IntRange(0, 2**32 - 1),
    default=7,
    show_default=True,
    help="Seed of the demo data.",
)
@click.option("--keep/--no-keep", default=True, help="Keep the demo folder afterwards.")
@click.option(
    "--no-tui", is_flag=True, help="Print the findings instead of opening the UI (as in CI)."
)
def demo_cmd(seed: int, keep: bool, no_tui: bool) -> int:
    """A ready demo workspace in a temporary folder, then the UI on it (in a terminal; its
    findings table otherwise)."""
    from qcrules.cli.tui_cmd import interactive, run_tui
    from qcrules.service import EvaluateOptions

    folder = Path(tempfile.mkdtemp(prefix="qcrules-demo-"))
    console = err_console()
    console.print(tr("正在生成演示工作区：", "Generating a demo workspace in ") + str(folder))
    workspace = service.init_workspace(folder, demo=True, seed=seed)
    try:
        if interactive() and not no_tui:
            run_tui(workspace)
        else:
            result = service.evaluate(workspace, EvaluateOptions(fail_on="never"))
            service.output_formats()["table"].render(result, sys.stdout)
    finally:
        workspace.close()
    if not keep:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
        return 0
    console.print(
        tr(
            f"演示工作区在 {folder}。试试：cd {folder} && qcrules tui，或 qcrules rule MON004",
            f"The demo workspace is in {folder}. Try: cd {folder} && qcrules tui, "
            "or qcrules rule MON004",
        ),
        highlight=False,
    )
    return 0


@click.group("db")
def db_group() -> None:
    """The workspace's database schema (Alembic migrations)."""


@db_group.command("upgrade")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def db_upgrade_cmd(state, as_json: bool) -> int:
    """Bring the schema to this release's (safe to repeat; an SQLite file is backed up first)."""
    result = service.db_upgrade(state.workspace())
    if as_json:
        echo_json(result.to_json(), indent=None)
        return 0
    console = err_console()
    if not result.changed:
        console.print(
            tr(f"结构已是最新（{result.after}）", f"schema is up to date ({result.after})")
        )
        return 0
    if result.backup:
        console.print(tr("已备份到 ", "backed up to ") + str(result.backup), highlight=False)
    console.print(
        tr(
            f"结构已升级：{result.before} → {result.after}",
            f"schema upgraded: {result.before} → {result.after}",
        ),
        highlight=False,
    )
    return 0


@db_group.command("current")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def db_current_cmd(state, as_json: bool) -> int:
    """The schema's revision, and whether it is this release's."""
    info = service.db_current(state.workspace())
    if as_json:
        echo_json(info, indent=None)
    elif info["up_to_date"]:
        click.echo(f"{info['revision']} (head)")
    else:
        click.echo(
            f"{info['revision']} "
            + tr(
                f"（需要 {info['head']}：运行 qcrules db upgrade）",
                f"(needs {info['head']}: run qcrules db upgrade)",
            )
            if info["known"]
            else f"{info['revision']} " + tr("（比此 qcrules 新）", "(newer than this qcrules)")
        )
    return 0


def register(group: click.Group) -> None:
    group.add_command(init_cmd)
    group.add_command(demo_cmd)
    group.add_command(db_group)
