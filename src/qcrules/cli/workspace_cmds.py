"""`qcrules init` — create a workspace."""

from __future__ import annotations

from pathlib import Path

import click

from qcrules import service
from qcrules.cli.base import err_console
from qcrules.i18n import tr


@click.command("init")
@click.argument("folder", type=click.Path(file_okay=False), default=".")
def init_cmd(folder: str) -> int:
    """Create a workspace: qcrules.toml and the database (SQLite in WAL mode by default)."""
    workspace = service.init_workspace(Path(folder))
    console = err_console()
    console.print(
        tr("已创建工作区：", "Created workspace: ") + str(workspace.config.path), highlight=False
    )
    return 0


def register(group: click.Group) -> None:
    group.add_command(init_cmd)
