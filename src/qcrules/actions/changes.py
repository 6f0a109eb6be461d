"""The record changes an action makes, and the row snapshots the audit log keeps (and undo puts
back): pool status, grant ends and scopes, renewals as new grants, secrets masked."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy import types as sa_types

from qcrules.actions.items import SAFE_GRANT_DAYS, Change, QueueItem, _now
from qcrules.actions.kinds import steps_text
from qcrules.errors import UsageError
from qcrules.i18n import language, tr
from qcrules.model.db import table
from qcrules.model.tables import (
    Creator,
    Grant,
    Hold,
    Merchant,
    PoolMember,
    is_permanent_end,
)

# --------------------------------------------------------------------------------------------
# row snapshots (what the audit log keeps, and undo puts back)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _snapshot(row: Any) -> dict[str, Any] | None:
    return None if row is None else {k: _jsonable(v) for k, v in dict(row).items()}


def _typed(tbl, values: dict[str, Any]) -> dict[str, Any]:
    """Snapshot values back to column types (dates and datetimes from ISO text)."""
    out = {}
    for name, value in values.items():
        if name not in tbl.c:
            continue
        if isinstance(value, str):
            column_type = tbl.c[name].type
            column_type = getattr(column_type, "impl", column_type)  # UTCDateTime wraps one
            if isinstance(column_type, sa_types.DateTime):
                value = datetime.fromisoformat(value)
            elif isinstance(column_type, sa_types.Date):
                value = date.fromisoformat(value)
        out[name] = value
    return out


_TABLES = {
    "grants": Grant,
    "pool": PoolMember,
    "merchants": Merchant,
    "holds": Hold,
    "creators": Creator,
}


def _read(conn, name: str, key: dict[str, Any]) -> dict[str, Any] | None:
    tbl = table(_TABLES[name])
    where = and_(*(tbl.c[k] == v for k, v in key.items()))
    return _snapshot(conn.execute(select(tbl).where(where)).mappings().first())


def _write(conn, change: Change, values: dict[str, Any] | None) -> None:
    """Make the row `change.key` be `values` (None: no row)."""
    tbl = table(_TABLES[change.table])
    where = and_(*(tbl.c[k] == v for k, v in change.key.items()))
    exists = conn.execute(select(tbl).where(where)).first() is not None
    if values is None:
        if exists:
            conn.execute(delete(tbl).where(where))
        return
    typed = _typed(tbl, values)
    if exists:
        # only the columns this change changes: an import's columns written since stay
        before = _typed(tbl, change.before or {})
        changed = {k: v for k, v in typed.items() if k not in before or before[k] != v}
        if changed:
            conn.execute(update(tbl).where(where).values(changed))
    else:
        conn.execute(insert(tbl).values({**_typed(tbl, change.key), **typed}))


# --------------------------------------------------------------------------------------------
# what applying changes (rule-catalog.md § Actions)


def _changed(conn, name: str, key: dict[str, Any], **values: Any) -> Change:
    before = _read(conn, name, key)
    if before is None:
        raise UsageError(
            tr(f"{name} 里没有 {key}", f"{name} has no row {key}"),
            hint=tr("记录可能已被删除；重新评估后再试", "it may have been deleted; evaluate again"),
        )
    after = {**before, **{k: _jsonable(v) for k, v in values.items()}}
    after["updated_at"] = _now().isoformat()
    return Change(name, key, before, after)


def _pool(conn, item: QueueItem, status: str, today: date) -> Change:
    key = {"merchant_id": item.merchant_id, "aweme_id": item.entity_id}
    before = _read(conn, "pool", key)
    after = {**(before or {**key, "note": None}), "status": status}
    if before is None or before.get("added_at") is None:
        after["added_at"] = today.isoformat()
    after["updated_at"] = _now().isoformat()
    return Change("pool", key, before, after)


def _grant_of(conn, item: QueueItem) -> dict[str, Any]:
    grant = _read(conn, "grants", {"grant_id": item.entity_id})
    if grant is None:
        raise UsageError(
            tr(f"没有授权 {item.entity_id}", f"there is no grant {item.entity_id}"),
            hint=tr("它可能已被删除；重新评估后再试", "it may have been deleted; evaluate again"),
        )
    return grant


_ENDED = ("revoked", "expired", "rejected")  # final: nothing left to revoke, shorten or narrow


def _live_grant_of(conn, item: QueueItem) -> dict[str, Any]:
    """The grant an action changes, refused once it has ended since the finding (marked
    expired or revoked by hand): revoking it in 千川 would be a wasted trip."""
    grant = _grant_of(conn, item)
    if grant["status"] in _ENDED:
        raise UsageError(
            tr(
                f"授权 {item.entity_id} 已是{_STATUS_ZH.get(grant['status'], grant['status'])}："
                "这个建议已过时",
                f"grant {item.entity_id} is already {grant['status']}: this action no longer "
                "applies",
            ),
            hint=tr(
                "忽略它（qcrules actions dismiss <编号> --reason …）；下次评估不会再提",
                "dismiss it (qcrules actions dismiss <id> --reason …); the next evaluation "
                "will not suggest it",
            ),
        )
    return grant


_STATUS_ZH = {"revoked": "已撤销", "expired": "已到期", "rejected": "已拒绝"}


def _new_grant(conn, key_base: str, values: dict[str, Any]) -> Change:
    from qcrules.grants.request import free_grant_id

    grant_id = free_grant_id(conn, key_base)
    now = _now().isoformat()
    after = {"grant_id": grant_id, **values, "created_at": now, "updated_at": now}
    return Change("grants", {"grant_id": grant_id}, None, after)


def changes_for(conn, item: QueueItem, today: date) -> tuple[list[Change], str | None]:
    """The record changes applying `item` makes, and the steps to take by hand in 千川
    (PC and 随心推 where they differ)."""
    changes = _record_changes(conn, item, today)
    return changes, steps_text(item.kind, language())


def _proposed_end(grant: dict[str, Any], days: int, today: date) -> date:
    """The end a shortened grant should have: `days` from its start, but never a day already
    past (千川 needs a new request anyway, so it runs `days` from today), and never later
    than the grant's own known end."""
    start = date.fromisoformat(grant["starts_at"]) if grant.get("starts_at") else today
    proposed = start + timedelta(days=days)
    if proposed <= today:
        proposed = today + timedelta(days=days)
    ends = date.fromisoformat(grant["ends_at"]) if grant.get("ends_at") else None
    if ends is not None and not is_permanent_end(ends) and ends >= today:
        proposed = min(proposed, ends)
    return proposed


def _refuse_overlap(conn, values: dict[str, Any]) -> None:
    """A grant an action proposes, refused as `grants request` refuses it when a live grant
    of the same merchant, creator and scope already covers some of its days."""
    from qcrules.grants import refuse_duplicate

    refuse_duplicate(
        conn,
        {**values, "starts_at": _day(values["starts_at"]), "ends_at": _day(values["ends_at"])},
    )


def _has_code(conn, aweme_id: str) -> bool:
    creator = _read(conn, "creators", {"aweme_id": aweme_id}) or {}
    return bool((creator.get("cooperation_code") or "").strip())


def _revoked_end(grant: dict[str, Any], today: date) -> date | None:
    """The end a grant revoked today gets, as `grants mark … revoked` gives it: today (never
    before its start), unless it ends earlier anyway. Spend after it is PRM007's to find."""
    ends, start = (
        _day(grant.get("ends_at")),
        _day(grant.get("starts_at") or grant.get("requested_at")),
    )
    ended = today if start is None else max(today, start)
    return ended if ends is None or ended < ends else None


def _day(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _record_changes(conn, item: QueueItem, today: date) -> list[Change]:
    kind, params = item.kind, item.params or {}
    days = int(params.get("days") or SAFE_GRANT_DAYS)
    if kind == "add_to_pool":
        return [_pool(conn, item, "in_pool", today)]
    if kind == "remove_from_pool":
        return [_pool(conn, item, "candidate", today)]
    if kind == "exclude_creator":
        return [_pool(conn, item, "excluded", today)]
    if kind == "request_grant":
        scope = params.get("scope") or "single_video"
        values = {
            "merchant_id": item.merchant_id,
            "aweme_id": item.entity_id if item.entity_type == "creator" else item.aweme_id,
            "auth_type": "cooperative",
            "scope": scope,
            "channel": params.get("channel") or "pc",
            "status": "draft",
            "starts_at": today.isoformat(),
            "ends_at": (today + timedelta(days=days)).isoformat(),
            "note": tr("由 qcrules 按安全默认值创建", "created by qcrules with safe defaults"),
        }
        _refuse_overlap(conn, values)
        return [_new_grant(conn, f"Q{today:%Y%m%d}", values)]
    if kind == "renew_grant":
        from qcrules.grants import refuse_second_renewal

        old = _grant_of(conn, item)
        if old["status"] in ("revoked", "rejected"):
            _live_grant_of(conn, item)  # refused: a revoked grant is not renewed
        refuse_second_renewal(conn, old["grant_id"])
        old_end = (
            date.fromisoformat(old["ends_at"])
            if old.get("ends_at") and not is_permanent_end(date.fromisoformat(old["ends_at"]))
            else today
        )
        start = max(old_end + timedelta(days=1), today)
        scope = old["scope"] if old["scope"] != "all_works" else "single_video"
        values = {
            "merchant_id": old["merchant_id"],
            "aweme_id": old["aweme_id"],
            "auth_type": "cooperative",
            "scope": scope,
            "video_id": old.get("video_id"),
            "channel": old.get("channel"),
            # sent only with the creator's 合作码 (as `grants request` does); a new term is a
            # new agreement (PRM011 and PRM009 then say what is missing)
            "status": "requested" if _has_code(conn, old["aweme_id"]) else "draft",
            "requested_at": today.isoformat(),
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(days=days)).isoformat(),
            "has_agreement": False,
            "renewal_of": old["grant_id"],
        }
        _refuse_overlap(conn, values)
        return [_new_grant(conn, f"{old['grant_id']}-R", values)]
    if kind == "revoke_grant":
        grant = _live_grant_of(conn, item)
        values: dict[str, Any] = {"status": "revoked"}
        end = _revoked_end(grant, today)
        if end is not None:
            values["ends_at"] = end.isoformat()
        return [_changed(conn, "grants", {"grant_id": item.entity_id}, **values)]
    if kind == "shorten_grant":
        grant = _live_grant_of(conn, item)
        proposed = _proposed_end(grant, days, today)
        return [_changed(conn, "grants", {"grant_id": item.entity_id}, proposed_ends_at=proposed)]
    if kind == "narrow_scope":
        _live_grant_of(conn, item)
        scope = params.get("scope") or "single_video"
        return [_changed(conn, "grants", {"grant_id": item.entity_id}, proposed_scope=scope)]
    if kind == "run_permission_audit":
        merchant = item.merchant_id or item.entity_id
        return [_changed(conn, "merchants", {"merchant_id": merchant}, last_permission_audit=today)]
    return []  # a task for a person: recorded as done, with a note
