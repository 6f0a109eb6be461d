"""`qcrules evaluate` — the headless run for CI and schedulers."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click

from qcrules import service
from qcrules.cli.base import (
    _warn,
    atomic_output,
    err_console,
    output_path,
    print_diagnostics,
)
from qcrules.errors import UsageError
from qcrules.i18n import tr
from qcrules.safety import check_day


def parse_date(value: str | None, option: str) -> date | None:
    """A date option; beyond the years qcrules works in (DAY_RANGE) it is a usage error,
    not an overflow in the date arithmetic of windows (`--as-of 0001-01-01`)."""
    if value is None:
        return None
    try:
        day = date.fromisoformat(value.replace("/", "-"))
    except ValueError as exc:
        raise UsageError(
            f"{option} {value!r} is not a date", hint="write it as 2026-11-27"
        ) from exc
    check_day(day, option)
    return day


FAIL_ON = ("critical", "error", "warn", "info", "never")
LEAN_FORMATS = ("table", "json", "jsonl", "github", "markdown", "sarif")


@click.command("evaluate")
@click.option("--pack", "packs", multiple=True, help="Only this pack (repeatable).")
@click.option("--select", multiple=True, help="Only rules with this id or prefix (repeatable).")
@click.option("--ignore", multiple=True, help="Skip rules with this id or prefix (repeatable).")
@click.option("--merchant", help="Only this merchant's creators, grants and pool.")
@click.option("--as-of", "as_of", help="Evaluate as of a past date (windows end there).")
@click.option(
    "--format",
    "fmt",
    default="table",
    show_default=True,
    help="table, json, jsonl, junit, github, markdown, sarif (plugins may add more).",
)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write results here.")
@click.option(
    "--fail-on",
    type=click.Choice(FAIL_ON),
    default="error",
    show_default=True,
    help="Exit 1 when a finding is at or above this level.",
)
@click.option(
    "--baseline",
    type=click.Path(dir_okay=False),
    help="Earlier JSON output: only findings not in it count.",
)
@click.option("--no-store", is_flag=True, help="Do not record this run in the workspace.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when findings are found.")
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Judge the merchants in this many processes (one per core); the result is the same.",
)
@click.option(
    "--shard",
    metavar="K/N",
    help="Only share K of N of the merchants (stable by merchant id), stored as a share; "
    "`qcrules runs merge` joins the N shares into one run.",
)
@click.pass_obj
def evaluate_cmd(
    state,
    packs,
    select,
    ignore,
    merchant,
    as_of,
    fmt,
    output,
    fail_on,
    baseline,
    no_store,
    exit_zero,
    jobs,
    shard,
) -> int:
    """Evaluate the rule packs on the workspace's records.

    Exit codes: 0 nothing at or above --fail-on; 1 findings at or above it; 2 usage,
    configuration, input or internal error; 4 an invalid rule pack.
    """
    from qcrules.service import EvaluateOptions

    formats = service.output_formats()
    if fmt not in formats:
        raise UsageError(f"unknown format {fmt!r}", hint=f"formats: {', '.join(formats)}")
    output = output_path(output)  # before the run: a bad path stores and writes nothing
    share = service.parse_shard(shard) if shard is not None else None
    if share is not None and merchant is not None:
        raise UsageError(
            "--shard and --merchant cannot be combined",
            hint="a shard is already a set of merchants; drop one of them",
        )
    if jobs > 1 and fmt == "junit":
        raise UsageError(
            "--format junit lists every check, which --jobs does not bring back from its processes",
            hint="drop --jobs for a junit report",
        )
    workspace = state.workspace()
    options = EvaluateOptions(
        packs=list(packs),
        select=list(select),
        ignore=list(ignore),
        merchant=merchant,
        as_of=parse_date(as_of, "--as-of"),
        fail_on=fail_on,
        baseline=Path(baseline) if baseline else None,
        store=not no_store,
        exit_zero=exit_zero,
        jobs=jobs,
        shard=share,
        # the built-in formats but junit read only the report: facts are let go batch by batch
        keep_facts=fmt not in LEAN_FORMATS,
    )
    result = service.evaluate(workspace, options)
    if options.store and share is None:
        _say_what_the_queue_now_holds(options)
    print_diagnostics(result.packset.diagnostics, result.packset.sources)
    service.report_plugin_problems()
    if output:
        with (
            atomic_output(output) as partial,
            open(partial, "w", encoding="utf-8", newline="") as stream,
        ):
            formats[fmt].render(result, stream)
        err_console().print(f"wrote {fmt} to {output}")
    else:
        formats[fmt].render(result, sys.stdout)
    return result.exit_code


def _say_what_the_queue_now_holds(options: service.EvaluateOptions) -> None:
    """A stored run becomes the action queue everyone works from (`actions list`, the TUI):
    one narrowed to a merchant, some rules or packs, or dated in the past replaces it with
    that part or that day. Said, so that no colleague's queue empties without a word."""
    narrowed = [
        f"{flag} {value if isinstance(value, str) else ','.join(value)}"
        for flag, value in (
            ("--merchant", options.merchant),
            ("--pack", options.packs),
            ("--select", options.select),
            ("--ignore", options.ignore),
        )
        if value
    ]
    past = options.as_of is not None and options.as_of < date.today()
    if not narrowed and not past:
        return
    what = " ".join(narrowed) if narrowed else f"--as-of {options.as_of}"
    _warn(
        tr(
            f"这次评估（{what}）已保存，行动队列现在只含它的发现；"
            "要查看而不替换队列，请加 --no-store",
            f"this run ({what}) is stored: the action queue now holds its findings only; "
            "to look without replacing the queue, add --no-store",
        )
    )


def register(group: click.Group) -> None:
    group.add_command(evaluate_cmd)
