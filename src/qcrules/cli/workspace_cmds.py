"""`qcrules init` and `qcrules demo` — create a workspace, or try one."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click

from qcrules import service
from qcrules.cli.base import err_console
from qcrules.i18n import tr


@click.command("init")
@click.argument("folder", type=click.Path(file_okay=False), default=".")
@click.option("--demo", is_flag=True, help="Fill it with a generated, realistic demo data set.")
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the demo data.")
def init_cmd(folder: str, demo: bool, seed: int) -> int:
    """Create a workspace: qcrules.toml and the database (SQLite in WAL mode by default)."""
    workspace = service.init_workspace(Path(folder), demo=demo, seed=seed)
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
    else:
        console.print(
            tr("下一步：导入数据，例如 ", "Next: import your data, e.g. ")
            + "qcrules import creators creators.csv",
            highlight=False,
        )
    return 0


@click.command("demo")
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the demo data.")
@click.option("--keep/--no-keep", default=True, help="Keep the demo folder afterwards.")
@click.option(
    "--no-tui", is_flag=True, help="Print the findings instead of opening the UI (as in CI)."
)
def demo_cmd(seed: int, keep: bool, no_tui: bool) -> int:
    """A ready demo workspace in a temporary folder, then the UI on it (in a terminal; its
    findings table otherwise)."""
    from qcrules.cli.tui_cmd import interactive, run_tui
    from qcrules.evaluation import EvaluateOptions

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


def register(group: click.Group) -> None:
    group.add_command(init_cmd)
    group.add_command(demo_cmd)
