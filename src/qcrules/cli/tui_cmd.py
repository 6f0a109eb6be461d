"""`qcrules tui` — the Textual UI on the workspace."""

from __future__ import annotations

import sys

import click

from qcrules.errors import UsageError
from qcrules.i18n import tr


def interactive() -> bool:
    """Whether a person is at a terminal (the TUI needs one; pipes and CI get text)."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def run_tui(workspace, *, as_of=None, store: bool = True) -> None:
    from qcrules.tui import QcrulesApp

    QcrulesApp(workspace, as_of=as_of, store=store).run()


@click.command("tui")
@click.option("--as-of", "as_of", help="Evaluate as of a past date (windows end there).")
@click.option("--no-store", is_flag=True, help="Do not record the runs made in the UI.")
@click.pass_obj
def tui_cmd(state, as_of, no_store) -> int:
    """The Textual UI: findings with their evidence, source and suggested action."""
    from qcrules.cli.evaluate_cmd import parse_date

    day = parse_date(as_of, "--as-of")
    workspace = state.workspace()
    if not interactive():
        raise UsageError(
            tr("qcrules tui 需要在终端中运行", "qcrules tui needs a terminal"),
            hint=tr(
                "在脚本或 CI 中请用 qcrules evaluate",
                "in scripts and CI, use qcrules evaluate",
            ),
        )
    _ = workspace.db  # opened before the screen is taken: its errors and warnings print plainly
    run_tui(workspace, as_of=day, store=not no_store)
    return 0


def register(group: click.Group) -> None:
    group.add_command(tui_cmd)
