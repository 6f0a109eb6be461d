"""`qcrules actions list|apply|dismiss|hold|undo|log` — the action queue, headless."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.cells import cell_len
from rich.markup import escape
from rich.table import Table

from qcrules import service
from qcrules.cli.base import echo_json, err_console, out_console
from qcrules.errors import UsageError
from qcrules.i18n import language, tr
from qcrules.output.formats import ENTITY_ZH, LEVEL_ZH

FORMATS = click.Choice(["table", "json"])


def _kind_label(kinds: dict, kind: str) -> str:
    known = kinds.get(kind)
    return tr(known.zh, known.en) if known is not None else kind


def _entity_word(entity_type: str) -> str:
    return ENTITY_ZH.get(entity_type, entity_type) if language() == "zh" else entity_type


def _level_word(level: str) -> str:
    return LEVEL_ZH.get(level, level) if language() == "zh" else level


def _what(outcome) -> str:
    """What was done as the operator says it (续期授权; an undo's 授权标记为已通过)."""
    kinds, kind = service.action_kinds(), outcome.kind
    audit_kind = kind if outcome.verb == "undo" and kind not in kinds else f"apply:{kind}"
    return service.audit_kind_label(kinds, audit_kind)


def _print_outcome(outcome, fmt: str) -> None:
    if fmt == "json":
        echo_json(outcome.to_json())
        return
    console = out_console()
    verb = {
        "apply": tr("执行", "applied"),
        "dismiss": tr("已忽略", "dismissed"),
        "hold": tr("已暂停", "on hold"),
        "undo": tr("已撤销", "undone"),
    }[outcome.verb]
    if outcome.dry_run:
        verb = tr("将会执行（--dry-run，未改动）", "would apply (--dry-run, nothing changed)")
    who = f"{_entity_word(outcome.entity_type)} {outcome.entity_id}"
    if outcome.merchant_id:
        who += f" @{outcome.merchant_id}"
    what = tr(f"{_what(outcome)} — ", f"{outcome.kind} — ") if outcome.verb != "hold" else ""
    head = tr(f"{verb}：{what}{who}", f"{verb}: {what}{who}")
    if outcome.audit_id is not None:
        head += tr(f"（审计 #{outcome.audit_id}）", f"  (audit #{outcome.audit_id})")
    console.print(escape(head), highlight=False)
    for change in outcome.changes:
        console.print("  " + escape(change.describe()), highlight=False)
    if not outcome.changes and outcome.verb == "apply":
        console.print(
            "  " + tr("（记录为已完成，无数据改动）", "(recorded as done; no record changes)"),
            highlight=False,
        )
    if outcome.result is not None:
        console.print("  " + escape(json.dumps(outcome.result, ensure_ascii=False, default=str)))
    if outcome.note:
        console.print("  " + tr("备注：", "note: ") + escape(outcome.note), highlight=False)
    if outcome.steps:
        console.print("  " + tr("手动步骤：", "by hand: ") + escape(outcome.steps), highlight=False)


@click.group("actions")
def actions_group() -> None:
    """The queue of suggested actions, and the audit log: apply, dismiss, hold, undo."""


@actions_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also applied, dismissed, held, superseded.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_obj
def list_cmd(state, show_all: bool, fmt: str) -> int:
    """Suggested actions of the last stored run (open ones unless --all)."""
    items = service.action_queue(state.workspace())
    if not show_all:
        items = [i for i in items if i.state == "open"]
    if fmt == "json":
        echo_json([i.to_json() for i in items])
        return 0
    kinds = service.action_kinds()
    rows = [
        (
            tr("编号", "id"),
            tr("状态", "state"),
            tr("级别", "level"),
            tr("规则", "rule"),
            tr("对象", "entity"),
            tr("建议动作", "action"),
            tr("问题", "finding"),
        )
    ]
    for item in items:
        entity = f"{_entity_word(item.entity_type)} {item.entity_id}"
        if item.merchant_id and item.entity_type != "merchant":
            entity += f" @{item.merchant_id}"
        action = _kind_label(kinds, item.kind)
        if item.params:
            action += " (" + ", ".join(f"{k}={v}" for k, v in item.params.items()) + ")"
        rows.append(
            (
                item.ref,
                item.state_text,
                _level_word(item.level),
                item.rule,
                entity,
                action,
                item.message,
            )
        )
    console = out_console()
    if items:  # one line per action, columns aligned by display width (wide characters too)
        widths = [max(cell_len(row[c]) for row in rows) for c in range(len(rows[0]) - 1)]
        for number, row in enumerate(rows):
            cells = [
                cell + " " * (w - cell_len(cell)) for cell, w in zip(row, widths, strict=False)
            ]
            line = "  ".join([*cells, row[-1]])
            console.print(escape(line), style="bold" if number == 0 else None, highlight=False)
    console.print(
        tr(f"{len(items)} 个动作", f"{len(items)} action(s)")
        + ("" if show_all else tr("（待处理；--all 显示全部）", " open (--all shows every state)")),
        highlight=False,
    )
    return 0


@actions_group.command("apply")
@click.argument("refs", nargs=-1)
@click.option("--rule", help="Every open action of this rule (with no ids given).")
@click.option("--kind", help="Every open action of this kind, e.g. renew_grant.")
@click.option("--merchant", help="Every open action for this merchant.")
@click.option("--level", help="Every open action of this level or above.")
@click.option("--note", help="What you did, for the audit log.")
@click.option("--actor", help="Who did it (default: $QCRULES_ACTOR or your login).")
@click.option("--dry-run", is_flag=True, help="Show the changes; make none.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_obj
def apply_cmd(state, refs, rule, kind, merchant, level, note, actor, dry_run, fmt) -> int:
    """Carry out suggested actions by id (a fingerprint prefix from `actions list`), or every
    open action the filters select — all or nothing, in one audited transaction."""
    workspace = state.workspace()
    filters = {"rule": rule, "kind": kind, "merchant": merchant, "level": level}
    by_id = bool(refs)
    if refs and any(filters.values()):
        raise UsageError(
            tr("给动作编号或筛选条件，不要同时给", "give action ids or filters, not both")
        )
    if not refs:
        if not any(filters.values()):
            raise UsageError(
                tr("要执行哪些动作？", "which actions?"),
                hint=tr(
                    "给动作编号（qcrules actions list），或 --rule/--kind/--merchant/--level",
                    "give action ids (qcrules actions list), or --rule/--kind/--merchant/--level",
                ),
            )
        refs = [item.fingerprint for item in service.select_actions(workspace, **filters)]
        if not refs:
            raise UsageError(
                tr("没有符合条件的待处理动作", "no open action matches"),
                hint=tr("qcrules actions list 列出待处理动作", "qcrules actions list shows them"),
            )
    outcomes = service.apply_actions(workspace, list(refs), note=note, actor=actor, dry_run=dry_run)
    if fmt == "json" and (len(outcomes) > 1 or not by_id):
        # filters may select one action or many: their answer is always a list
        echo_json([outcome.to_json() for outcome in outcomes])
        return 0
    for outcome in outcomes:
        _print_outcome(outcome, fmt)
    return 0


@actions_group.command("dismiss")
@click.argument("refs", nargs=-1, required=True)
@click.option("--reason", required=True, help="Why it is set aside (kept in the audit log).")
@click.option("--actor", help="Who decided (default: $QCRULES_ACTOR or your login).")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_obj
def dismiss_cmd(state, refs, reason: str, actor, fmt: str) -> int:
    """Set suggested actions aside, with a reason; they stay dismissed until undone."""
    workspace = state.workspace()
    for ref in refs:  # every id checked first: a typo in the last dismisses none of them
        service.find_action(workspace, ref)
    for ref in refs:
        _print_outcome(service.dismiss_action(workspace, ref, reason, actor=actor), fmt)
    return 0


@actions_group.command("hold")
@click.argument("entity")
@click.option("--reason", required=True, help="Why the entity is held.")
@click.option(
    "--type",
    "entity_type",
    type=click.Choice(["grant", "creator", "merchant"]),
    help="What ENTITY is, when its id alone does not say.",
)
@click.option("--merchant", help="Hold the creator for this merchant only.")
@click.option("--until", help="Hold until this date (YYYY-MM-DD); default: until released.")
@click.option("--actor", help="Who decided (default: $QCRULES_ACTOR or your login).")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_obj
def hold_cmd(state, entity, reason, entity_type, merchant, until, actor, fmt) -> int:
    """Put ENTITY (a grant id, aweme_id, merchant id, or an action id) on hold: it keeps
    its findings but gets no actions. `qcrules actions undo` releases it."""
    from qcrules.cli.evaluate_cmd import parse_date
    from qcrules.errors import UsageError

    workspace = state.workspace()
    day = parse_date(until, "--until")
    try:
        kind = service.find_entity(workspace, entity, entity_type)
    except UsageError as not_a_record:  # perhaps an action id: hold that action's entity
        try:
            item = service.find_action(workspace, entity)
        except UsageError:
            raise not_a_record from None
        kind, entity, merchant = item.entity_type, item.entity_id, merchant or item.merchant_id
    if kind == "merchant":
        merchant = None
    outcome = service.hold_entity(
        workspace, kind, entity, reason, merchant_id=merchant, until=day, actor=actor
    )
    _print_outcome(outcome, fmt)
    return 0


@actions_group.command("undo")
@click.argument("audit_id", type=click.IntRange(1, 2**53), required=False)
@click.option("--actor", help="Who takes it back (default: $QCRULES_ACTOR or your login).")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_obj
def undo_cmd(state, audit_id, actor, fmt: str) -> int:
    """Take back the last apply, dismiss or hold (or AUDIT_ID from `actions log`)."""
    _print_outcome(service.undo(state.workspace(), audit_id, actor=actor), fmt)
    return 0


@actions_group.command("log")
@click.option("--limit", type=click.IntRange(1, 1_000_000), default=30, show_default=True)
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_obj
def log_cmd(state, limit: int, fmt: str) -> int:
    """The audit log, newest first: every change with who, when and what."""
    entries = service.audit_log(state.workspace(), limit)
    if fmt == "json":
        echo_json([e.to_json() for e in entries])
        return 0
    if not entries:
        err_console().print(tr("审计日志为空", "the audit log is empty"))
        return 0
    kinds = service.action_kinds()
    table = Table(box=None, pad_edge=False, header_style="bold")
    for header in (
        "#",
        tr("时间", "at"),
        tr("人", "actor"),
        tr("操作", "change"),
        tr("对象", "entity"),
        tr("备注", "note"),
    ):
        table.add_column(header)
    for e in entries:
        change = tr(service.audit_kind_label(kinds, e.kind), e.kind)
        change += f" #{e.undoes}" if e.undoes else ""
        if e.undone:
            change += tr("（已撤销）", " (undone)")
        table.add_row(
            str(e.id),
            e.at,
            escape(e.actor),
            escape(change),
            escape(f"{_entity_word(e.entity.type)} {e.entity.id}"),
            escape(e.note or ""),
        )
    out_console().print(table)
    return 0


@click.command("agreement")
@click.argument("grant_id")
@click.option(
    "--template",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Your own template: text with ${placeholders} (see --placeholders).",
)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--placeholders", is_flag=True, help="List the placeholders a template can use.")
@click.pass_obj
def agreement_cmd(state, grant_id: str, template, output, placeholders: bool) -> int:
    """The authorization agreement (授权协议) for GRANT_ID, from the built-in template or yours."""
    if placeholders:
        from qcrules.service import PLACEHOLDERS

        for name, meaning in PLACEHOLDERS.items():
            click.echo(f"${{{name}}}\t{meaning}")
        return 0
    from qcrules.cli.base import atomic_output, output_path

    # `grants request` suggests -o agreements/<id>.md: a missing folder inside the workspace
    # is made on writing (outside it, a missing folder is more likely a typo)
    workspace = state.workspace()
    output = output_path(output, folders_in=workspace.root)
    document = service.agreement(workspace, grant_id, template=template)
    if output is None:
        click.echo(document.text, nl=False)
    else:
        with atomic_output(output, make_folders=True) as partial:
            partial.write_text(document.text, encoding="utf-8")
        err_console().print(tr(f"已写入 {output}", f"wrote {output}"), highlight=False)
    return 0


def register(group: click.Group) -> None:
    group.add_command(actions_group)
    group.add_command(agreement_cmd)
