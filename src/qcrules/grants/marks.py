"""Moving a grant through its states (requested, approved, active, rejected, revoked, expired):
the allowed moves, the day checked against the grant, audited and undoable."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from qcrules.errors import UsageError
from qcrules.grants.request import (
    _choice,
    _did_you_mean,
    _new_code,
    _one,
    check_code,
)
from qcrules.grants.vocab import (
    MARK_TARGETS,
    STATUS_LABEL,
    TRANSITIONS,
    mask_code,
)
from qcrules.i18n import tr
from qcrules.model.db import table
from qcrules.model.tables import (
    GRANT_STATUSES,
    PERMANENT_END,
    Creator,
    Grant,
)
from qcrules.workspace import Workspace

# --------------------------------------------------------------------------------------------
# moving a grant through its states


@dataclass
class MarkOutcome:
    grant_id: str
    before: str
    after: str
    target: str  # as asked: `approved` is recorded as such, the grant becomes active
    change: Any
    audit_id: int | None
    note: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "grant_id": self.grant_id,
            "from": self.before,
            "to": self.after,
            "marked": self.target,
            "change": self.change.to_json(),
            "audit_id": self.audit_id,
            "note": self.note,
        }


def allowed_moves(status: str) -> list[str]:
    """The states a grant in `status` may move to (`approved` beside `active`)."""
    moves = list(TRANSITIONS.get(status, ()))
    if "active" in moves:
        moves.insert(moves.index("active"), "approved")
    return moves


def _check_mark_day(grant: dict[str, Any], status_to: str, on: date, today: date) -> None:
    """When a move happened lies between the grant's own dates and today (a start may be
    scheduled later): an end before the start or a request in the future would make findings
    out of a typing slip (a revoke dated 2001 reads as months of spend after the end)."""
    if status_to in ("revoked", "expired"):
        floor = grant["starts_at"] or grant["requested_at"]
    elif status_to == "active":
        floor = grant["requested_at"]
    else:
        floor = None
    # an approval may be dated tomorrow (the creator confirmed after midnight in 北京 time);
    # no later: "approved" says it happened, and a start years ahead reads as permanent
    latest = today + timedelta(days=1) if status_to == "active" else today
    if on > latest:
        raise UsageError(
            tr(f"日期 {on} 在今天（{today}）之后", f"the date {on} is after today ({today})"),
            hint=tr("写下它实际发生的那一天", "give the day it actually happened"),
        )
    if floor is not None and on < floor:
        raise UsageError(
            tr(
                f"日期 {on} 早于授权 {grant['grant_id']} 的 {floor}",
                f"the date {on} is before grant {grant['grant_id']}'s {floor}",
            ),
            hint=tr(
                "授权不能在申请或开始之前生效或结束",
                "a grant cannot start or end before it was requested or started",
            ),
        )


def _grant(conn, grant_id: str) -> dict[str, Any]:
    """The grant's row, or a refusal naming the closest ids."""
    grant = _one(conn, Grant, "grant_id", grant_id)
    if grant is None:
        ids = list(conn.execute(select(table(Grant).c.grant_id)).scalars())
        raise UsageError(
            tr(f"没有授权 {grant_id!r}", f"there is no grant {grant_id!r}")
            + _did_you_mean(grant_id, ids),
            hint=tr("qcrules grants list 列出授权", "qcrules grants list shows them"),
        )
    return grant


def mark_grant(
    workspace: Workspace,
    grant_id: str,
    target: str,
    *,
    on: date | None = None,
    note: str | None = None,
    code: str | None = None,
    actor: str | None = None,
    today: date | None = None,
) -> MarkOutcome:
    """Move a grant to `target` along the state machine (module docstring), audited and
    undoable. `on` is when it happened (default today): the request date, the start (the
    term is kept), or an earlier end for a revoked or expired grant."""
    from qcrules.actions.changes import _changed, _write
    from qcrules.actions.items import Outcome, default_actor
    from qcrules.actions.queue import _audit

    _choice(target, MARK_TARGETS, tr("状态", "state"))
    status_to = "active" if target == "approved" else target
    day = on or today or date.today()
    with workspace.db.write("grants mark") as conn:
        grant = _grant(conn, grant_id)
        current = grant["status"]
        if current == status_to:  # said as what it is, not as a move that is not allowed
            raise UsageError(
                tr(
                    f"授权 {grant_id} 已经是{_zh(current)}",
                    f"grant {grant_id} is already {current}",
                ),
                hint=tr("不需要再标记", "nothing to mark"),
            )
        if current not in GRANT_STATUSES or status_to not in TRANSITIONS.get(current, ()):
            moves = allowed_moves(current)
            raise UsageError(
                tr(
                    f"授权 {grant_id} 是{_zh(current)}，不能改为{_zh(target)}",
                    f"grant {grant_id} is {current}; it cannot move to {target}",
                ),
                hint=(
                    tr(
                        "可改为：" + "、".join(map(_zh, moves)),
                        "allowed from here: " + ", ".join(moves),
                    )
                    if moves
                    else tr(
                        f"{_zh(current)}是终态；要继续合作请发起新的授权（qcrules grants request）",
                        f"{current} is final; request a new grant (qcrules grants request)",
                    )
                ),
            )
        if on is not None:
            _check_mark_day(grant, status_to, on, today or date.today())
        values: dict[str, Any] = {"status": status_to}
        check_code(code)
        given = (code or "").strip()
        if status_to == "requested":
            creator = _one(conn, Creator, "aweme_id", grant["aweme_id"]) or {}
            if not given and not (creator.get("cooperation_code") or "").strip():
                raise UsageError(
                    tr(
                        f"达人 {grant['aweme_id']} 还没有合作码：不能发起授权",
                        f"creator {grant['aweme_id']} has no 合作码 yet: the request cannot go",
                    ),
                    hint=tr(
                        "向达人索取合作码（抖音 设置 → 账号与安全），再加 --code CODE",
                        "ask the creator for it (Douyin: Settings → Account and security), "
                        "then add --code CODE",
                    ),
                )
            values["requested_at"] = day
        elif status_to == "active":
            start = grant["starts_at"]
            begin = day if start is None or start < day or on is not None else start
            values["starts_at"] = begin
            ends = grant["ends_at"]
            if ends is not None and ends < PERMANENT_END and start is not None:
                values["ends_at"] = begin + (ends - start)
            elif ends is not None and ends < begin:
                raise UsageError(
                    tr(
                        f"授权 {grant_id} 的结束日 {ends} 已过：批准后会是一个没有期限的授权",
                        f"grant {grant_id}'s end date {ends} has passed: approved, it would "
                        "end before it starts",
                    ),
                    hint=tr(
                        "与达人约定新的期限，用 qcrules grants request 重新发起；这个标为已拒绝",
                        "agree a new term with the creator and request it again "
                        "(qcrules grants request); mark this one rejected",
                    ),
                )
        elif status_to in ("revoked", "expired"):
            # ended on `on`, or today (never before it started: a revoke before a scheduled
            # start ends it at the start); an earlier known end stays
            ends = grant["ends_at"]
            floor = grant["starts_at"] or grant["requested_at"]
            ended = day if on is not None or floor is None else max(day, floor)
            if ends is None or ended < ends:
                values["ends_at"] = ended
        change = _changed(conn, "grants", {"grant_id": grant_id}, **values)
        _write(conn, change, change.after)
        changes = [change]
        if given:
            changes.append(_new_code(conn, grant["aweme_id"], given))
        kind = f"grant:{target}"
        outcome = Outcome(kind, kind, "grant", grant_id, grant["merchant_id"], changes, note)
        result = {"from": current, "to": status_to, "on": day.isoformat()}
        if given:
            result["cooperation_code"] = mask_code(given)
        audit_id = _audit(conn, outcome, actor or default_actor(), None, result=result)
    return MarkOutcome(grant_id, current, status_to, target, change, audit_id, note)


def record_agreement(
    workspace: Workspace,
    grant_id: str,
    *,
    note: str | None = None,
    actor: str | None = None,
    dry_run: bool = False,
) -> MarkOutcome:
    """Record that both sides signed the grant's agreement (授权协议): `has_agreement`, which
    PRM009 asks for, audited and undoable — the one way to close PRM009 without re-importing
    the grants file. `dry_run`: the same checks (refused alike), the change not written (the
    TUI shows it before asking)."""
    from qcrules.actions.changes import _changed, _write
    from qcrules.actions.items import Outcome, default_actor
    from qcrules.actions.queue import _audit

    opened = workspace.db.begin() if dry_run else workspace.db.write("grants signed")
    with opened as conn:  # a dry run reads only: no lock, no new data version
        grant = _grant(conn, grant_id)
        status = grant["status"]
        if grant["has_agreement"]:
            raise UsageError(
                tr(
                    f"授权 {grant_id} 已记为已签协议", f"grant {grant_id} already has its agreement"
                ),
                hint=tr(
                    "记错了可用 qcrules actions undo 撤销",
                    "if that was a slip, qcrules actions undo",
                ),
            )
        if status in ("revoked", "expired", "rejected"):
            raise UsageError(
                tr(
                    f"授权 {grant_id} 是{_zh(status)}：协议已无意义",
                    f"grant {grant_id} is {status}: an agreement no longer applies",
                ),
                hint=tr(
                    "为新的授权签协议（qcrules agreement <授权ID>）",
                    "sign one for the new grant (qcrules agreement <grant id>)",
                ),
            )
        change = _changed(conn, "grants", {"grant_id": grant_id}, has_agreement=True)
        if dry_run:
            return MarkOutcome(grant_id, status, status, "signed", change, None, note)
        _write(conn, change, change.after)
        kind = "grant:signed"
        outcome = Outcome(kind, kind, "grant", grant_id, grant["merchant_id"], [change], note)
        audit_id = _audit(
            conn, outcome, actor or default_actor(), None, result={"has_agreement": True}
        )
    return MarkOutcome(grant_id, status, status, "signed", change, audit_id, note)


__all__ = [
    "MarkOutcome",
    "_check_mark_day",
    "allowed_moves",
    "mark_grant",
    "record_agreement",
]


def _zh(status: str) -> str:
    """A grant state in Chinese, for the zh half of a message."""
    return STATUS_LABEL.get(status, (status, status))[0]
