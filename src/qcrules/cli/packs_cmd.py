"""`qcrules packs …`, `qcrules rule`, `qcrules explain`, `qcrules plugins`."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.markup import escape

from qcrules.cli.base import echo_json, err_console, out_console, print_diagnostics
from qcrules.errors import EXIT_INVALID_PACK, PackError, UsageError
from qcrules.i18n import did_you_mean, language, pick, tr
from qcrules.output.formats import ENTITY_ZH, LEVEL_ZH


def _packset(state, files=()):
    from qcrules.service import load_packs

    workspace = state.workspace(require=False)
    return load_packs(
        workspace.config if workspace.config.path else None,
        extra_files=[Path(f) for f in files],
        apply_enable=False,
    )


def _valid_packset(state, files=()):
    packset = _packset(state, files)
    if packset.errors:
        raise PackError(
            f"{len(packset.errors)} problem(s) in rule packs",
            diagnostics=packset.diagnostics,
        )
    print_diagnostics(packset.diagnostics, packset.sources)
    return packset


def _enabled(state, pack) -> bool:
    config = state.workspace(require=False).config
    if config.path is None:
        return True
    return (not config.packs.enable or pack.id in config.packs.enable) and (
        pack.id not in config.packs.disable
    )


@click.group("packs")
def packs_group() -> None:
    """Rule packs: list, show, validate, test, doc, fields."""


@packs_group.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_obj
def packs_list(state, fmt) -> int:
    """The packs in effect, with origin, version and rule count."""
    packset = _valid_packset(state)
    rows = [
        {
            "id": p.id,
            "version": p.version,
            "origin": p.origin,
            "entity": p.entity,
            "rules": len(p.rules),
            "tests": len(p.tests),
            "enabled": _enabled(state, p),
            "path": str(p.path) if p.path else None,
            "title": pick(p.title),
        }
        for p in packset.packs
    ]
    if fmt == "json":
        echo_json(rows)
        return 0
    from rich.table import Table

    table = Table(header_style="bold")
    for column, zh in (
        ("id", "规则包"),
        ("version", "版本"),
        ("origin", "来源"),
        ("rules", "规则数"),
        ("enabled", "启用"),
        ("title", "名称"),
        ("path", "路径"),
    ):
        table.add_column(tr(zh, column))
    for row in rows:
        table.add_row(
            row["id"],
            row["version"],
            _origin(row["origin"]),
            str(row["rules"]),
            tr("是", "yes") if row["enabled"] else tr("否", "no"),
            row["title"],
            row["path"] or "",
        )
    out_console().print(table)
    return 0


def _origin(origin: str) -> str:
    """Where a pack comes from, in the words of the TUI's Packs tab (内置, 文件夹, 插件 …)."""
    zh = {"builtin": "内置", "folder": "文件夹"}.get(origin, f"插件 {origin}")
    return tr(zh, origin)


@packs_group.command("show")
@click.argument("pack_id")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_obj
def packs_show(state, pack_id, fmt) -> int:
    """One pack: its parameters (with workspace overrides) and rules."""
    packset = _valid_packset(state)
    pack = next((p for p in packset.packs if p.id == pack_id), None)
    if pack is None:
        raise UsageError(
            f"unknown pack {pack_id!r}" + did_you_mean(pack_id, [p.id for p in packset.packs]),
            hint="`qcrules packs list` shows the packs",
        )
    if fmt == "json":
        echo_json(
            {
                "id": pack.id,
                "version": pack.version,
                "origin": pack.origin,
                "path": str(pack.path) if pack.path else None,
                "entity": pack.entity,
                "title": pack.title,
                "guard": pack.guard,
                "params": pack.params,
                "param_ranges": {k: r.to_json() for k, r in pack.param_ranges.items()},
                "rules": [
                    {
                        "id": r.id,
                        "name": r.name,
                        "level": r.level,
                        "entity": r.entity,
                        "when": r.when.strip(),
                        "guard": r.guard,
                        "action": r.action_kind,
                        "source": r.source,
                        "enabled": r.enabled,
                        "gate": r.gate,
                    }
                    for r in pack.rules
                ],
                "tests": [t.name for t in pack.tests],
            }
        )
        return 0
    console = out_console()
    console.print(
        f"[bold]{pack.id}[/] {pack.version} — {pick(pack.title)}  ({_origin(pack.origin)}: {pack.path})",
        highlight=False,
    )
    if pack.guard:
        console.print(f"guard: {pack.guard}", highlight=False, markup=False)
    console.print(
        tr("参数：", "params: ")
        + ", ".join(
            f"{k}={v}" + (f" ({pack.param_ranges[k].short()})" if k in pack.param_ranges else "")
            for k, v in pack.params.items()
        ),
        highlight=False,
        markup=False,
    )
    from rich.table import Table

    table = Table(header_style="bold")
    for column, zh in (
        ("id", "规则"),
        ("name", "名称"),
        ("level", "级别"),
        ("entity", "对象"),
        ("action", "建议动作"),
        ("when", "条件"),
    ):
        table.add_column(tr(zh, column), overflow="fold")
    from qcrules import service

    kinds = service.action_kinds() if language() == "zh" else {}
    for rule in pack.rules:
        kind = kinds.get(rule.action_kind or "")
        table.add_row(
            rule.id,
            rule.name,
            tr(LEVEL_ZH.get(rule.level, rule.level), rule.level),
            tr(ENTITY_ZH.get(rule.entity, rule.entity), rule.entity),
            kind.zh if kind is not None else rule.action_kind,
            " ".join(rule.when.split()),
        )
    console.print(table)
    return 0


@packs_group.command("validate")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_obj
def packs_validate(state, files, fmt) -> int:
    """Validate the packs in effect (and FILES): every problem at once, exit 4 if any."""
    packset = _packset(state, files)
    if fmt == "json":
        echo_json([d.to_json() for d in packset.diagnostics])
    else:
        print_diagnostics(packset.diagnostics, packset.sources)
    errors = len(packset.errors)
    warnings = len(packset.diagnostics) - errors
    rules = sum(len(p.rules) for p in packset.packs)
    summary = tr(
        f"{len(packset.packs)} 个规则包、{rules} 条规则；{errors} 个错误，{warnings} 个警告",
        f"{len(packset.packs)} packs, {rules} rules: {errors} errors, {warnings} warnings",
    )
    err_console().print(summary, highlight=False)
    return EXIT_INVALID_PACK if errors else 0


@packs_group.command("test")
@click.argument("pack_ids", nargs=-1)
@click.option(
    "--file",
    "files",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Also load this pack file.",
)
@click.pass_obj
def packs_test(state, pack_ids, files) -> int:
    """Run the [[tests]] inside packs through the engine; exit 1 if any fails."""
    from qcrules.service import run_pack_tests

    packset = _valid_packset(state, files)
    packs = [p for p in packset.packs if not pack_ids or p.id in pack_ids]
    unknown = set(pack_ids) - {p.id for p in packs}
    if unknown:
        raise UsageError(
            f"unknown pack(s): {', '.join(sorted(unknown))}",
            hint=f"packs: {', '.join(p.id for p in packset.packs)}",
        )
    results = run_pack_tests(packs)
    console = out_console()
    failed = 0
    for result in results:
        if result.passed:
            console.print(
                f"[green]PASS[/] {escape(result.pack)}: {escape(result.test.name)}", highlight=False
            )
            continue
        failed += 1
        console.print(
            f"[red]FAIL[/] {escape(result.pack)}: {escape(result.test.name)}", highlight=False
        )
        if result.missing:
            console.print(
                f"     expected to fire but did not: {', '.join(result.missing)}", highlight=False
            )
        if result.unexpected:
            console.print(
                f"     fired but not expected: {', '.join(result.unexpected)}", highlight=False
            )
        if result.insufficient:
            console.print(
                f"     insufficient data for: {', '.join(result.insufficient)}", highlight=False
            )
    total = len(results)
    console.print(f"{total - failed} passed, {failed} failed", highlight=False)
    return 1 if failed else 0


@packs_group.command("doc")
@click.argument("pack_ids", nargs=-1)
@click.option("--output", "-o", type=click.Path(dir_okay=False))
@click.pass_obj
def packs_doc(state, pack_ids, output) -> int:
    """Markdown documentation of the packs (rules, parameters, actions, sources)."""
    from qcrules.cli.base import atomic_output, output_path
    from qcrules.docs import packs_markdown

    output = output_path(output)
    packset = _valid_packset(state)
    packs = [p for p in packset.packs if not pack_ids or p.id in pack_ids]
    text = packs_markdown(packs, packset.actions)
    if not pack_ids:  # the whole catalog: the core rules too
        from qcrules.docs import core_rules_markdown
        from qcrules.service import CORE_RULES

        text += "\n" + core_rules_markdown(CORE_RULES, packset.actions)
    if output:
        with atomic_output(output) as partial:
            partial.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


@packs_group.command("fields")
@click.option("--entity", type=click.Choice(["creator", "grant", "merchant"]))
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_obj
def packs_fields(state, entity, fmt) -> int:
    """The fact schema: every field a rule may read, with type, unit and meaning."""
    from qcrules.service import workspace_schema

    specs = workspace_schema().specs(entity)
    zh = language() == "zh"
    if fmt == "json":
        echo_json(
            [
                {
                    "name": s.name,
                    "entity": s.entity,
                    "type": s.type,
                    "unit": s.unit,
                    "doc": s.doc_zh if zh else s.doc_en,
                    "source": s.source,
                }
                for s in specs
            ]
        )
        return 0
    from rich.table import Table

    table = Table(header_style="bold")
    for column, zh in (
        ("entity", "对象"),
        ("field", "字段"),
        ("type", "类型"),
        ("unit", "单位"),
        ("meaning", "含义"),
        ("source", "来源"),
    ):
        table.add_column(tr(zh, column), overflow="fold")
    for s in specs:
        entity = ENTITY_ZH.get(s.entity, s.entity) if zh else s.entity
        table.add_row(
            entity, s.name, s.type, s.unit, s.doc_zh if zh else s.doc_en, _origin(s.source)
        )
    out_console().print(table)
    return 0


@click.command("rule")
@click.argument("rule_id", required=False)
@click.option("--all", "show_all", is_flag=True, help="Every rule.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_obj
def rule_cmd(state, rule_id, show_all, fmt) -> int:
    """What a rule does, why, an example, its action and its seed source (like `ruff rule`)."""
    from qcrules.docs import core_rule_info, core_rule_text, rule_info, rule_text
    from qcrules.service import CORE_RULES

    if not rule_id and not show_all:
        raise UsageError("give a rule id or --all", hint="e.g. `qcrules rule MON004`")
    packset = _valid_packset(state)
    actions = packset.actions
    core = [] if rule_id and not show_all else sorted(CORE_RULES)
    if show_all:
        chosen = [(p, r) for p in packset.packs for r in p.rules]
    elif rule_id.upper() in CORE_RULES:
        chosen, core = [], [rule_id.upper()]
    else:
        chosen = [packset.require_rule(rule_id)]
    if fmt == "json":
        data = [rule_info(p, r, actions) for p, r in chosen]
        data += [core_rule_info(c, CORE_RULES[c]) for c in core]
        echo_json(data if show_all else data[0])
        return 0
    texts = [rule_text(p, r, actions) for p, r in chosen]
    texts += [core_rule_text(c, CORE_RULES[c], actions) for c in core]
    sys.stdout.write("\n\n".join(texts) + "\n")
    return 0


@click.command("explain")
@click.argument("rule_id")
@click.argument("entity_id")
@click.option("--merchant", help="The merchant, when a creator is judged for several.")
@click.option("--as-of", "as_of", help="Explain as of a past date.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_obj
def explain_cmd(state, rule_id, entity_id, merchant, as_of, fmt) -> int:
    """Why RULE did or did not fire for ENTITY: each sub-condition with its values."""
    from qcrules import service
    from qcrules.cli.evaluate_cmd import parse_date
    from qcrules.docs import explanation_json, explanation_text
    from qcrules.safety import for_terminal

    explanations = service.explain(
        state.workspace(), rule_id, entity_id, merchant=merchant, as_of=parse_date(as_of, "--as-of")
    )
    if fmt == "json":
        data = [explanation_json(e) for e in explanations]
        echo_json(data)
    else:
        text = "\n\n".join(explanation_text(e) for e in explanations)
        sys.stdout.write(for_terminal(text) + "\n")  # the values shown are data
    return 0


@click.command("plugins")
@click.option("--all", "show_all", is_flag=True, help="Include qcrules' own built-in plugin.")
def plugins_cmd(show_all) -> int:
    """Installed plugins as JSON: name, version, hooks."""
    from qcrules import service

    rows = service.plugins()
    if not show_all:
        rows = [r for r in rows if r["name"] != "qcrules.builtin"]
    echo_json(rows)
    service.report_plugin_problems()
    return 0


def register(group: click.Group) -> None:
    group.add_command(packs_group)
    group.add_command(rule_cmd)
    group.add_command(explain_cmd)
    group.add_command(plugins_cmd)
