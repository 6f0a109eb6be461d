"""`qcrules grants list|request|mark` — the execute step (seed 二): request a grant the safe
way, see what the rules say before anything is written, and follow it through its states."""

from __future__ import annotations

import functools
import sys

import click
from rich.cells import cell_len
from rich.markup import escape

from qcrules import service
from qcrules.cli.base import (
    echo_json,
    err_console,
    error_prefix,
    hint_prefix,
    out_console,
)
from qcrules.errors import EXIT_FINDINGS
from qcrules.i18n import tr
from qcrules.service import (
    AUTH_LABEL,
    CHANNEL_LABEL,
    CHANNEL_NAMES,
    GRANT_STATUSES,
    MARK_TARGETS,
    SCOPE_LABEL,
    STATUS_LABEL,
    zh_word,
)
from qcrules.service import SCOPES as GRANT_SCOPES
from qcrules.service import label as grant_label

FORMATS = click.Choice(["table", "json"])
# the choices are the records' own, so the CLI cannot drift from what the service accepts
STATES = GRANT_STATUSES
SCOPES = GRANT_SCOPES
CHANNELS = tuple(CHANNEL_NAMES)  # with the CLI's spelling mobile_in_order


def _print_rows(rows: list[tuple[str, ...]]) -> None:
    """Aligned columns by display width (wide characters too), the header in bold."""
    console = out_console()
    widths = [max(cell_len(row[c]) for row in rows) for c in range(len(rows[0]) - 1)]
    for number, row in enumerate(rows):
        cells = [cell + " " * (w - cell_len(cell)) for cell, w in zip(row, widths, strict=False)]
        line = "  ".join([*cells, row[-1]])
        console.print(escape(line), style="bold" if number == 0 else None, highlight=False)


def _end_text(ends_at: str | None) -> str:
    """A grant's end as the list shows it: the day, 永久 (2099-12-31), or 未知 — an export
    without an end date says nothing about how long it runs, which is not "permanent"."""
    if ends_at is None:
        return tr("未知", "unknown")
    return tr("永久", "permanent") if ends_at >= service.PERMANENT_END.isoformat() else ends_at


@click.group("grants")
def grants_group() -> None:
    """Grants (授权): list them, request one with safe defaults, mark its progress."""


def _list(obj, merchant, state, creator, fmt) -> int:
    grants = service.list_grants(obj.workspace(), merchant=merchant, state=state, creator=creator)
    if fmt == "json":
        echo_json([g.to_json() for g in grants])
        return 0
    if grants:
        rows = [
            (
                tr("授权ID", "grant"),
                tr("商家", "merchant"),
                tr("达人", "creator"),
                tr("状态", "status"),
                tr("类型", "type"),
                tr("范围", "scope"),
                tr("渠道", "channel"),
                tr("开始", "starts"),
                tr("结束", "ends"),
                tr("剩余天数", "days left"),
            )
        ]
        for g in grants:
            left = g.days_left
            rows.append(
                (
                    g.grant_id,
                    g.merchant_id,
                    f"{g.aweme_id} {g.nickname or ''}".strip(),
                    grant_label(STATUS_LABEL, g.status),
                    zh_word(AUTH_LABEL, g.auth_type),
                    zh_word(SCOPE_LABEL, g.scope),
                    zh_word(CHANNEL_LABEL, g.channel) if g.channel else "—",
                    g.starts_at or "—",
                    _end_text(g.ends_at),
                    "—" if left is None else str(left),
                )
            )
        _print_rows(rows)
    out_console().print(tr(f"{len(grants)} 个授权", f"{len(grants)} grant(s)"), highlight=False)
    return 0


@grants_group.command("list")
@click.option("--merchant", help="Only this merchant's grants.")
@click.option("--state", "status", type=click.Choice(STATES), help="Only grants in this state.")
@click.option("--creator", help="Only this creator's grants: aweme_id or 抖音号.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_obj
def list_grants_cmd(obj, merchant, status, creator, fmt) -> int:
    """Grants with their state, terms and days left."""
    return _list(obj, merchant, status, creator, fmt)


def _verdict_lines(verdicts, mark: str) -> list[str]:
    return [f"  {mark} {v.rule} {v.level:<8} {v.message}" for v in verdicts]


def print_check(check, fmt: str) -> None:
    """The judged request: its terms, the verdicts, the to-do list, the steps."""
    if fmt == "json":
        echo_json(check.to_json())
        return
    console = out_console()
    g = check.grant
    state = zh_word(STATUS_LABEL, g["status"])  # 已申请 in zh; the stored word in en
    if check.written:
        head = tr(
            f"已记录授权 {g['grant_id']}（{state}，审计 #{check.audit_id}）",
            f"Recorded grant {g['grant_id']} ({g['status']}, audit #{check.audit_id})",
        )
    elif check.refused:
        head = tr("授权申请被拒绝：未写入任何内容", "Grant request refused: nothing was written")
    elif check.dry_run:
        head = tr(
            f"将会记录授权 {g['grant_id']}（{state}）——--dry-run，未写入",
            f"Would record grant {g['grant_id']} ({g['status']}) — --dry-run, nothing written",
        )
    else:
        head = tr("授权申请", "Grant request")
    lines = [head]
    who = f"{g['aweme_id']} {check.nickname}".strip()
    scope = grant_label(SCOPE_LABEL, g["scope"]) + (
        f" {g['video_id']}" if g.get("video_id") else ""
    )
    term = (
        tr(f"{check.days} 天", f"{check.days} days")
        if check.days is not None
        else tr("永久", "permanent")
    )
    lines.append(
        tr(
            f"  商家 {g['merchant_id']} · 达人 {who} · {grant_label(AUTH_LABEL, g['auth_type'])} · "
            f"{scope} · {g['starts_at']} → {g['ends_at']}（{term}）",
            f"  merchant {g['merchant_id']} · creator {who} · {grant_label(AUTH_LABEL, g['auth_type'])}"
            f" · {scope} · {g['starts_at']} → {g['ends_at']} ({term})",
        )
    )
    lines.append(
        tr("  渠道：", "  channel: ")
        + grant_label(CHANNEL_LABEL, g["channel"])
        + tr("  合作码：", "  合作码: ")
        + (check.code_masked or tr("无（存为草稿）", "none (kept as a draft)"))
    )
    if g.get("renewal_of"):
        lines.append(tr(f"  续期自 {g['renewal_of']}", f"  renews {g['renewal_of']}"))
    if check.excluded:
        lines.append(tr("\n达人池", "\nPool"))
        lines.append(f"  ✘ {check.excluded['message']}")
        if not check.accepted_risk:
            lines.append(
                tr(
                    "    商家已决定不与该达人合作：申请被拒绝，除非接受风险",
                    "    the merchant decided not to work with this creator: refused unless "
                    "the risk is accepted",
                )
            )
    if check.gates:
        if check.accepted_risk:
            lines.append(
                tr(
                    f"\n已接受的风险（原因：{check.accepted_risk}）",
                    f"\nRisks accepted (reason: {check.accepted_risk})",
                )
            )
        else:
            lines.append(
                tr(
                    "\n拒绝：以下规则评判授权条款",
                    "\nRefused by the rules that judge the grant's terms",
                )
            )
        lines += _verdict_lines(check.gates, "✘")
    else:
        if check.excluded and check.accepted_risk:
            lines.append(
                tr(
                    f"\n已接受的风险（原因：{check.accepted_risk}）",
                    f"\nRisks accepted (reason: {check.accepted_risk})",
                )
            )
        lines.append(tr("\n授权条款：通过", "\nTerms: pass (no gate rule fired)"))
    lines.append(tr("\n待办", "\nTo do"))
    lines += _verdict_lines(check.todo, "☐") or [tr("  无", "  nothing")]
    lines.append(tr("\n达人筛选（参考）", "\nCreator screening (context)"))
    lines += _verdict_lines(check.context, "·") or [tr("  无发现", "  no findings")]
    lines.append(
        tr("\n千川操作步骤", "\nSteps in 千川") + f" ({grant_label(CHANNEL_LABEL, g['channel'])})"
    )
    lines += [f"  ☐ {n}. {s.text}" for n, s in enumerate(check.steps, 1)]
    lines.append(tr("\n达人确认", "\nCreator's confirmation"))
    lines.append(f"  ☐ {check.confirmation}")
    lines.append(tr("\n授权协议", "\nAgreement"))
    lines.append(f"  ☐ {check.agreement}")
    for line in lines:
        console.print(escape(line), highlight=False)


def _refusal_hint(check) -> str:
    accept = tr(
        '或用 --accept-risk "原因" 记录接受风险',
        'or record the accepted risk with --accept-risk "REASON"',
    )
    if not check.excluded:
        return (
            tr(
                "改用安全条款（合作达人、单视频或直播间、15/30 天），",
                "use safe terms (cooperative, single video or live room, 15/30 days), ",
            )
            + accept
        )
    merchant = check.excluded["merchant_id"]
    return (
        tr(
            f"若要与该达人合作，先把它移回 {merchant} 的达人池（TUI 达人页，"
            "或 qcrules import pool 导入状态为 candidate 的一行）"
            + ("，并改用安全条款" if check.gates else "")
            + "；",
            f"to work with this creator, put it back in {merchant}'s pool first (the TUI's "
            "Creators tab, or qcrules import pool with a row of status candidate)"
            + (" and use safe terms" if check.gates else "")
            + "; ",
        )
        + accept
    )


@grants_group.command("request")
@click.option("--merchant", required=True, help="The merchant (商家) asking for the grant.")
@click.option("--creator", required=True, help="The creator (达人): aweme_id or 抖音号.")
@click.option(
    "--scope",
    type=click.Choice(SCOPES),
    required=True,
    help="single_video or live_room (safe); account / all_works: every work (refused).",
)
@click.option("--video", help="The video id, for a single-video grant.")
@click.option("--days", type=int, help="Term in days (default 15, the guide's safe term).")
@click.option("--until", help="End date (YYYY-MM-DD; 2099-12-31 or 'permanent': no end).")
@click.option("--channel", type=click.Choice(CHANNELS), default="pc", show_default=True)
@click.option(
    "--auth-type",
    type=click.Choice(["cooperative", "self_operated", "official"]),
    default="cooperative",
    show_default=True,
    help="合作达人 (cooperative) unless the account is the merchant's own.",
)
@click.option("--code", help="The creator's 合作码 (stored, shown masked); without it: a draft.")
@click.option("--renewal-of", help="The grant this one renews.")
@click.option("--accept-risk", help="Record the request despite gate rules, with this reason.")
@click.option("--dry-run", is_flag=True, help="Judge and show; write nothing.")
@click.option("--actor", help="Who asks (default: $QCRULES_ACTOR or your login).")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_obj
def request_cmd(
    obj,
    merchant,
    creator,
    scope,
    video,
    days,
    until,
    channel,
    auth_type,
    code,
    renewal_of,
    accept_risk,
    dry_run,
    actor,
    fmt,
) -> int:
    """Request a grant: the permission rules judge it before anything is written; rules on
    its terms, or the creator's exclusion from the merchant's pool, refuse it (exit 1)
    unless --accept-risk gives a reason."""
    from qcrules.cli.evaluate_cmd import parse_date
    from qcrules.service import PERMANENT_END, GrantRequest

    end = PERMANENT_END if until and until.strip().lower() == "permanent" else None
    end = end or parse_date(until, "--until")
    request = GrantRequest(
        merchant_id=merchant,
        aweme_id=creator,
        scope=scope,
        video_id=video,
        days=days,
        until=end,
        channel=channel,
        auth_type=auth_type,
        code=code,
        renewal_of=renewal_of,
    )
    check = service.request_grant(
        obj.workspace(), request, accept_risk=accept_risk, dry_run=dry_run, actor=actor
    )
    print_check(check, fmt)
    if check.refused:
        risks = [check.excluded["message"]] if check.excluded else []
        rules = "; ".join(risks + [f"{v.rule} ({v.level}): {v.message}" for v in check.gates])
        err_console().print(
            error_prefix()
            + escape(tr(f"授权申请被拒绝：{rules}", f"the grant request is refused: {rules}")),
            highlight=False,
        )
        err_console().print(
            hint_prefix() + escape(_refusal_hint(check)),
            highlight=False,
        )
        sys.exit(EXIT_FINDINGS)
    return 0


@grants_group.command("mark")
@click.argument("grant_id")
@click.argument("target", metavar="STATE", type=click.Choice(MARK_TARGETS))
@click.option("--on", "on", help="When it happened (YYYY-MM-DD; default today).")
@click.option("--note", help="A note for the audit log.")
@click.option("--code", help="The 合作码, when a draft becomes requested.")
@click.option("--actor", help="Who marks it (default: $QCRULES_ACTOR or your login).")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_obj
def mark_cmd(obj, grant_id, target, on, note, code, actor, fmt) -> int:
    """Move GRANT_ID to STATE (approved: the creator confirmed, the grant is active);
    audited, and `qcrules actions undo` takes it back."""
    from qcrules.cli.evaluate_cmd import parse_date

    outcome = service.mark_grant(
        obj.workspace(),
        grant_id,
        target,
        on=parse_date(on, "--on"),
        note=note,
        code=code,
        actor=actor,
    )
    if fmt == "json":
        echo_json(outcome.to_json())
        return 0
    console = out_console()
    shown = (
        outcome.after if outcome.target == outcome.after else f"{outcome.target} → {outcome.after}"
    )
    word = functools.partial(zh_word, STATUS_LABEL)
    zh_shown = (
        word(outcome.after)
        if outcome.target == outcome.after
        else f"{word(outcome.target)} → {word(outcome.after)}"
    )
    console.print(
        escape(
            tr(
                f"授权 {grant_id}：{word(outcome.before)} → {zh_shown}（审计 #{outcome.audit_id}）",
                f"grant {grant_id}: {outcome.before} → {shown} (audit #{outcome.audit_id})",
            )
        ),
        highlight=False,
    )
    console.print("  " + escape(outcome.change.describe()), highlight=False)
    moves = service.grant_moves(outcome.after)
    console.print(
        "  "
        + (
            tr("下一步可改为：", "next: ") + tr("、", ", ").join(map(word, moves))
            if moves
            else tr("终态", "a final state")
        )
        + tr("；qcrules actions undo 可撤销", "; qcrules actions undo takes it back"),
        highlight=False,
    )
    return 0


@grants_group.command("signed")
@click.argument("grant_id")
@click.option("--note", help="Where the signed copy is kept, who signed.")
@click.option("--actor", help="Who records it (default: $QCRULES_ACTOR or your login).")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_obj
def signed_cmd(obj, grant_id, note, actor, fmt) -> int:
    """Record that both sides signed GRANT_ID's agreement (授权协议, see `qcrules agreement`):
    PRM009 no longer asks for it. Audited; `qcrules actions undo` takes it back."""
    outcome = service.record_agreement(obj.workspace(), grant_id, note=note, actor=actor)
    if fmt == "json":
        echo_json(outcome.to_json())
        return 0
    out_console().print(
        escape(
            tr(
                f"授权 {grant_id}：已签协议（审计 #{outcome.audit_id}）；qcrules actions undo 可撤销",
                f"grant {grant_id}: agreement signed (audit #{outcome.audit_id}); "
                "qcrules actions undo takes it back",
            )
        ),
        highlight=False,
    )
    return 0


def register(group: click.Group) -> None:
    group.add_command(grants_group)
