"""The `qcrules` command line: thin — it parses options, calls the service, prints.

Exit codes (contracts.md): 0 ok, 1 findings at or above --fail-on, 2 usage/config/input/internal
error, 4 invalid rule pack. Diagnostics go to stderr, results to stdout or --output.
"""

from __future__ import annotations

import contextlib
import sys
import traceback

import click

from qcrules import __version__
from qcrules.cli.base import CliState, err_console, print_diagnostics, print_error
from qcrules.errors import EXIT_ERROR, QcrulesError
from qcrules.i18n import tr


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    envvar=None,
    help="qcrules.toml to use (else $QCRULES_CONFIG, else the nearest one upward).",
)
@click.option(
    "--database-url",
    help="Database URL; overrides $QCRULES_DATABASE_URL and [database] url.",
)
@click.option(
    "-V",
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=lambda ctx, _param, value: _print_version(ctx) if value else None,
    help="Show the version and the engine in use, then exit.",
)
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, database_url: str | None) -> None:
    """qcrules — 巨量千川 全域推广 达人授权 as rules, not spreadsheets."""
    ctx.obj = CliState(config_file=config_file, database_url=database_url)
    ctx.call_on_close(ctx.obj.close)


def _print_version(ctx: click.Context) -> None:
    import platform

    from qcrules.service import durable_available

    ok, reason = durable_available()
    engine = "durable-rules 2.0.28" if ok else f"python (plain-Python reading; {reason})"
    click.echo(f"qcrules {__version__} (engine: {engine}; Python {platform.python_version()})")
    ctx.exit(0)


def _register_commands() -> None:
    from qcrules.cli import evaluate_cmd, packs_cmd, workspace_cmds

    workspace_cmds.register(cli)
    evaluate_cmd.register(cli)
    packs_cmd.register(cli)
    from qcrules.cli import (
        actions_cmd,
        backtest_cmd,
        grants_cmd,
        import_cmd,
        report_cmd,
        runs_cmd,
        tui_cmd,
    )

    import_cmd.register(cli)
    actions_cmd.register(cli)
    grants_cmd.register(cli)
    report_cmd.register(cli)
    backtest_cmd.register(cli)
    runs_cmd.register(cli)
    tui_cmd.register(cli)


_register_commands()


_plugin_commands_added = False


def _add_plugin_commands() -> None:
    """Subcommands from plugins (`qcrules_register_commands`), added once per process."""
    global _plugin_commands_added
    if _plugin_commands_added:
        return
    _plugin_commands_added = True
    from qcrules.service import get_host

    get_host().add_commands(cli)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI, turning every error into its contract exit code and a clear message."""
    try:
        _add_plugin_commands()
        result = cli.main(args=argv, prog_name="qcrules", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        err_console().print(tr("已中止", "aborted"))
        sys.exit(EXIT_ERROR)
    except click.exceptions.NoArgsIsHelpError as exc:  # bare `qcrules`: the help, not an error
        exc.show()
        sys.exit(0)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_ERROR)
    except QcrulesError as exc:
        _report_plugin_problems()
        diagnostics = getattr(exc, "diagnostics", None)
        if diagnostics:
            print_diagnostics(diagnostics)
        print_error(exc.message, exc.hint)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception:  # an internal error: still exit 2, with the traceback for the report
        traceback.print_exc()
        err_console().print(
            tr(
                "[bold red]内部错误[/]——请连同上面的 traceback 一起报告",
                "[bold red]internal error[/] — please report it with the traceback above",
            ),
            highlight=False,
        )
        sys.exit(EXIT_ERROR)
    _report_plugin_problems()
    sys.exit(result if isinstance(result, int) else 0)


def _report_plugin_problems() -> None:
    """Whatever command ran, a plugin problem met on the way (a field refused, a hook that
    raised) is said on stderr, once, after the command's own output."""
    from qcrules.service import report_plugin_problems

    # a plugin host that failed to load (a misspelled hook) has had its error said already
    with contextlib.suppress(QcrulesError):
        report_plugin_problems()
