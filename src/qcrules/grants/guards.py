"""What stands in a grant request's way before any rule judges it: a second live renewal of
one grant, or a second live grant of the same merchant, creator and scope for the same days,
is refused (a UsageError, exit 2) naming the grant already there and how to follow it up; a
creator the merchant excluded from its pool is found here (`pool_exclusion`) for the request
to refuse unless the risk is accepted; a grant that cannot be renewed (permanent, end
unknown, revoked or rejected) and a 合作码 that is not one are refused. Each runs wherever
the proposal is built — the CLI, a dry run, the TUI form — and again under the write lock."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from qcrules.errors import UsageError
from qcrules.grants.vocab import LIVE, STATUS_LABEL, label, mask_code
from qcrules.i18n import tr
from qcrules.model.db import table
from qcrules.model.tables import PERMANENT_END, AuditEntry, Grant, PoolMember

# the scopes that grant the same thing: an account-level grant (抖音号授权, as a 千川 export
# names it) is every work of the account, which a new request records as all_works
SAME_SCOPE = {"all_works": ("all_works", "account"), "account": ("all_works", "account")}


def refuse_second_renewal(conn, grant_id: str) -> None:
    """One live renewal per grant (the has_renewal fact counts the same ones): a second would
    be a second request to the creator for the same term. Called under the write lock by
    every writer of renewals, so two operators cannot both renew."""
    grants = table(Grant)
    row = conn.execute(
        select(grants.c.grant_id, grants.c.status)
        .where(grants.c.renewal_of == grant_id)
        .where(grants.c.status.not_in(("rejected", "revoked")))
        .limit(1)
    ).first()
    if row is not None:
        raise UsageError(
            tr(
                f"授权 {grant_id} 已有续期 {row.grant_id}（{label(STATUS_LABEL, row.status)}）",
                f"grant {grant_id} already has a renewal, {row.grant_id} ({row.status})",
            ),
            hint=tr(
                f"跟进 {row.grant_id}；若它作废，先把它标记为已拒绝或已撤销",
                f"follow up {row.grant_id}; if it fell through, mark it rejected or revoked first",
            ),
        )


def _overlaps(found: dict[str, Any], starts: date | None, ends: date | None) -> bool:
    """Whether two terms share a day (both ends inclusive; no start or no end: open there)."""
    their_start, their_end = found["starts_at"], found["ends_at"]
    if their_end is not None and starts is not None and their_end < starts:
        return False
    return not (their_start is not None and ends is not None and ends < their_start)


def _term(found: dict[str, Any]) -> str:
    ends = found["ends_at"]
    if ends is None:
        end = tr("结束日未知", "end unknown")
    elif ends >= PERMANENT_END:
        end = tr("永久", "permanent")
    else:
        end = str(ends)
    return f"{found['starts_at'] or '?'} → {end}"


def refuse_duplicate(conn, row: dict[str, Any]) -> None:
    """One live grant per merchant, creator and scope (and video) at a time: a draft,
    request or active grant whose term shares a day with the proposed one would ask the
    creator twice for the same thing (identical terms, or a second request of another length
    beside the first). A renewal starts where the grant it renews ends, so that grant is not
    counted; any other live grant is. Called by check and write alike (under the write lock
    for the write), so the form, a dry run and the CLI all say so before anything is
    written."""
    grants = table(Grant)
    scopes = SAME_SCOPE.get(row["scope"], (row["scope"],))
    query = (
        select(grants)
        .where(grants.c.merchant_id == row["merchant_id"])
        .where(grants.c.aweme_id == row["aweme_id"])
        .where(grants.c.scope.in_(scopes))
        .where(grants.c.status.in_(LIVE))
        .order_by(grants.c.grant_id)
    )
    video = row.get("video_id")
    query = query.where(
        grants.c.video_id.is_(None) if video is None else grants.c.video_id == video
    )
    if row.get("renewal_of"):
        query = query.where(grants.c.grant_id != row["renewal_of"])
    found = next(
        (
            dict(r)
            for r in conn.execute(query).mappings()
            if _overlaps(r, row["starts_at"], row["ends_at"])
        ),
        None,
    )
    if found is None:
        return
    grant_id = found["grant_id"]
    status = label(STATUS_LABEL, found["status"])
    identical = (found["auth_type"], found["starts_at"], found["ends_at"]) == (
        row["auth_type"],
        row["starts_at"],
        row["ends_at"],
    )
    if identical:
        message = tr(
            f"已有相同的授权 {grant_id}（{status}）：同一商家、达人、授权类型、范围与起止日期",
            f"grant {grant_id} ({status}) already asks for this: the same merchant, "
            "creator, type, scope and dates",
        )
    else:
        message = tr(
            f"授权 {grant_id}（{status}，{_term(found)}）与这次申请时间重叠：同一商家、达人与范围"
            "，达人会被重复申请",
            f"grant {grant_id} ({status}, {_term(found)}) overlaps this request: the same "
            "merchant, creator and scope for some of the same days would ask the creator twice",
        )
    if found["status"] == "draft":
        hint = tr(
            f"发出它：qcrules grants mark {grant_id} requested [--code 合作码]；"
            f"条款不对就先撤销它：qcrules grants mark {grant_id} revoked",
            f"send it instead: qcrules grants mark {grant_id} requested [--code CODE]; if its "
            f"terms are wrong, revoke it first: qcrules grants mark {grant_id} revoked",
        )
    elif found["status"] == "active":
        hint = tr(
            f"要延长就续期它：qcrules grants request … --renewal-of {grant_id}"
            f"（从它结束的次日开始）；要换条款，先撤销它：qcrules grants mark {grant_id} revoked",
            f"to extend it, renew it: qcrules grants request … --renewal-of {grant_id} (it "
            f"starts the day after {grant_id} ends); to change its terms, revoke it first: "
            f"qcrules grants mark {grant_id} revoked",
        )
    else:
        hint = tr(
            f"跟进 {grant_id}；若它作废，先把它标记为已拒绝或已撤销"
            f"（qcrules grants mark {grant_id} rejected|revoked）",
            f"follow up {grant_id}; if it fell through, mark it rejected or revoked first "
            f"(qcrules grants mark {grant_id} rejected|revoked)",
        )
    raise UsageError(message, hint=hint)


# the audit kinds that exclude a creator: by hand (the Creators tab) and the queue's action
EXCLUDING = ("apply:pool:excluded", "apply:exclude_creator")


def pool_exclusion(conn, merchant_id: str, aweme_id: str) -> dict[str, Any] | None:
    """The creator's exclusion from the merchant's pool (达人池), or None when it is not
    excluded: since when, and why — the pool row's note (an import's), else the note of the
    latest exclusion in the audit log (a hand change's or an applied action's reason) — with
    the sentence that says so in the user's language."""
    pool = table(PoolMember)
    row = (
        conn.execute(
            select(pool).where(pool.c.merchant_id == merchant_id).where(pool.c.aweme_id == aweme_id)
        )
        .mappings()
        .first()
    )
    if row is None or row["status"] != "excluded":
        return None
    note = (row["note"] or "").strip() or _exclusion_note(conn, merchant_id, aweme_id)
    since = row["updated_at"]
    since = since.date() if hasattr(since, "date") else None
    why = tr(f"（原因：{note}）", f" (note: {note})") if note else ""
    return {
        "merchant_id": merchant_id,
        "aweme_id": aweme_id,
        "note": note or None,
        "since": since.isoformat() if since else None,
        "message": tr(
            f"达人 {aweme_id} 已被商家 {merchant_id} 排除出达人池{why}",
            f"creator {aweme_id} is excluded from {merchant_id}'s pool{why}",
        ),
    }


def _exclusion_note(conn, merchant_id: str, aweme_id: str) -> str | None:
    audit = table(AuditEntry)
    entries = conn.execute(
        select(audit.c.id, audit.c.note)
        .where(audit.c.entity_type == "creator")
        .where(audit.c.entity_id == aweme_id)
        .where(audit.c.merchant_id == merchant_id)
        .where(audit.c.kind.in_(EXCLUDING))
        .order_by(audit.c.id.desc())
        .limit(20)
    ).all()
    if not entries:
        return None
    undone = set(
        conn.execute(
            select(audit.c.undoes).where(audit.c.undoes.in_([e.id for e in entries]))
        ).scalars()
    )
    for entry in entries:
        if entry.id not in undone:  # the exclusion in force: its note, or none
            return (entry.note or "").strip() or None
    return None


def check_code(code: str | None) -> None:
    """A 合作码 as 抖音 gives it: printable, on one line, at most 64 characters — one with a
    control character or pasted paragraphs would be stored on the creator and shown later."""
    text = (code or "").strip()
    if not text:
        return
    if len(text) > 64 or not text.isprintable():
        raise UsageError(
            tr(
                f"--code {mask_code(text)} 不像合作码（含控制字符或超过 64 个字符）",
                f"--code {mask_code(text)} is not a 合作码 (a control character, or over 64 "
                "characters)",
            ),
            hint=tr(
                "从抖音 设置 → 账号与安全 复制合作码本身",
                "copy the code itself from Douyin: Settings → Account and security",
            ),
        )


def refuse_renewing(old: dict[str, Any]) -> None:
    """Only a live grant with a known, dated end is renewed (as the queue's renew_grant):
    a renewal of a permanent one, or of one whose end is unknown, started today beside it —
    two live grants for the same days, and the creator asked twice."""
    gid = old["grant_id"]
    if old["status"] in ("revoked", "rejected"):
        raise UsageError(
            tr(
                f"授权 {gid} {_STATUS_ZH.get(old['status'], old['status'])}：不能续期",
                f"grant {gid} is {old['status']}: it cannot be renewed",
            ),
            hint=tr(
                "要重新合作，发起新的授权（去掉 --renewal-of）",
                "to work together again, request a new grant (drop --renewal-of)",
            ),
        )
    if old["ends_at"] is None or old["ends_at"] >= PERMANENT_END:
        permanent = old["ends_at"] is not None
        raise UsageError(
            tr(
                f"授权 {gid} "
                + ("是永久授权：无需续期" if permanent else "的结束日未知：无从续期"),
                f"grant {gid} "
                + ("is permanent: it needs no renewal" if permanent else "has no known end"),
            ),
            hint=tr(
                "永久授权应改为 15 或 30 天（PRM002）：解除后发起新的授权"
                if permanent
                else "先在千川查到它的结束日并导入，再续期",
                "a permanent grant should become 15 or 30 days (PRM002): revoke it, then request "
                "a new one"
                if permanent
                else "look its end up in 千川 and import it, then renew",
            ),
        )


_STATUS_ZH = {"revoked": "已撤销", "rejected": "已拒绝"}


__all__ = [
    "check_code",
    "pool_exclusion",
    "refuse_duplicate",
    "refuse_renewing",
    "refuse_second_renewal",
]
