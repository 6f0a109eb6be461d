"""Listing grants and preparing a renewal of one on safe terms."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select

from qcrules.errors import UsageError
from qcrules.grants.request import (
    GrantRequest,
    _choice,
    _iso,
    _one,
    _require_merchant,
    unknown_creator,
)
from qcrules.grants.vocab import (
    SAFE_DAYS,
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
# listing


@dataclass(slots=True)
class GrantView:
    """A grant as lists show it: its terms, state, the creator's nickname and days left."""

    grant_id: str
    merchant_id: str
    aweme_id: str
    nickname: str | None
    status: str
    auth_type: str
    scope: str
    video_id: str | None
    channel: str | None
    requested_at: str | None
    starts_at: str | None
    ends_at: str | None
    days_left: int | None  # None: permanent or no end
    renewal_of: str | None
    note: str | None

    def to_json(self) -> dict[str, Any]:
        """The row of `qcrules grants list --format json`."""
        return {name: getattr(self, name) for name in self.__slots__}


def list_grants(
    workspace: Workspace,
    *,
    merchant: str | None = None,
    state: str | None = None,
    creator: str | None = None,
    today: date | None = None,
) -> list[GrantView]:
    """Grants with their state and days left (None: permanent or no end), newest first."""
    today = today or date.today()
    if state is not None:
        _choice(state, GRANT_STATUSES, "--state")
    grants, creators = table(Grant), table(Creator)
    query = select(grants, creators.c.nickname).join(
        creators, creators.c.aweme_id == grants.c.aweme_id, isouter=True
    )
    with workspace.db.connect() as conn:
        if merchant is not None:
            _require_merchant(conn, merchant)
            query = query.where(grants.c.merchant_id == merchant)
        if state is not None:
            query = query.where(grants.c.status == state)
        if creator is not None:
            query = query.where(grants.c.aweme_id == _creator_id(conn, creator))
        rows = list(conn.execute(query.order_by(grants.c.grant_id)).mappings())
    out = []
    for r in rows:
        ends = r["ends_at"]
        permanent = ends is None or ends >= PERMANENT_END
        out.append(
            GrantView(
                grant_id=r["grant_id"],
                merchant_id=r["merchant_id"],
                aweme_id=r["aweme_id"],
                nickname=r["nickname"],
                status=r["status"],
                auth_type=r["auth_type"],
                scope=r["scope"],
                video_id=r["video_id"],
                channel=r["channel"],
                requested_at=_iso(r["requested_at"]),
                starts_at=_iso(r["starts_at"]),
                ends_at=None if ends is None else ends.isoformat(),
                days_left=None if permanent else (ends - today).days,
                renewal_of=r["renewal_of"],
                note=r["note"],
            )
        )
    return out


def _creator_id(conn, creator: str) -> str:
    """The aweme_id `creator` names, as `grants request --creator` takes it: an aweme_id
    (of a creator, or on a grant whose creator was never imported) or a 抖音号."""
    creators, grants = table(Creator), table(Grant)
    if conn.execute(select(creators.c.aweme_id).where(creators.c.aweme_id == creator)).first():
        return creator
    shown = conn.execute(
        select(creators.c.aweme_id).where(creators.c.aweme_show_id == creator).limit(1)
    ).scalar_one_or_none()
    if shown is not None:
        return shown
    if conn.execute(select(grants.c.grant_id).where(grants.c.aweme_id == creator)).first():
        return creator
    raise unknown_creator(conn, creator)


def renewal_request(workspace: Workspace, grant_id: str) -> GrantRequest:
    """A request that renews `grant_id` on the same terms, made safe: 合作达人, never all
    works, the same number of days (at most 30; 15 when it had no end)."""
    with workspace.db.connect() as conn:
        old = _one(conn, Grant, "grant_id", grant_id)
    if old is None:
        raise UsageError(
            tr(f"没有授权 {grant_id}", f"there is no grant {grant_id}"),
            hint=tr("qcrules grants list 列出授权", "qcrules grants list shows them"),
        )
    days = SAFE_DAYS
    if old["starts_at"] and old["ends_at"] and old["ends_at"] < PERMANENT_END:
        days = max(1, min(30, (old["ends_at"] - old["starts_at"]).days))
    scope = old["scope"] if old["scope"] in ("single_video", "live_room") else "single_video"
    return GrantRequest(
        merchant_id=old["merchant_id"],
        aweme_id=old["aweme_id"],
        scope=scope,
        video_id=old["video_id"] if scope == "single_video" else None,
        days=days,
        channel=old["channel"] or "pc",
        renewal_of=grant_id,
    )


__all__ = [
    "GrantView",
    "list_grants",
    "renewal_request",
]
