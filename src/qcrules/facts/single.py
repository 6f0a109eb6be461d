"""Facts of one entity rather than a workspace: which merchants an entity belongs to (so it
can be built alone), the ids of an entity type (a did-you-mean), a grant only proposed (the
request form judges it before it exists) and one grant's days (explain, the monitoring
sheet). They reuse the whole build's SQL and assembly (`builders._Builder`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select, union

from qcrules.facts.builders import (
    MER,
    C,
    G,
    M,
    P,
    _Builder,
    _reading,
    _sum_known,
)
from qcrules.facts.core import EVALUATED_POOL_STATUSES, Fact, _MerchantSettings
from qcrules.facts.values import _CreatorValues


def merchants_of(db: Any, entity: str, entity_id: str) -> list[str]:
    """The merchants an entity's facts belong to: a grant's merchant, a creator's pools and
    grants, a merchant itself — so one entity can be built without the rest."""
    with _reading(db) as conn:
        if entity == "grant":
            stmt: Any = select(G.merchant_id).where(G.grant_id == entity_id)
        elif entity == "creator":
            stmt = union(
                select(P.merchant_id).where(P.aweme_id == entity_id),
                select(G.merchant_id).where(G.aweme_id == entity_id),
            )
        else:
            stmt = select(MER.merchant_id).where(MER.merchant_id == entity_id)
        return sorted({mid for (mid,) in conn.execute(stmt)})


def entity_ids(db: Any, entity: str, merchant_id: str | None = None) -> list[str]:
    """Every id of an entity type (for a did-you-mean when an id is not found)."""
    col, merchant_col = {
        "grant": (G.grant_id, G.merchant_id),
        "creator": (P.aweme_id, P.merchant_id),
        "merchant": (MER.merchant_id, MER.merchant_id),
    }[entity]
    stmt = select(col).distinct()
    if merchant_id is not None:
        stmt = stmt.where(merchant_col == merchant_id)
    with _reading(db) as conn:
        return sorted(conn.execute(stmt).scalars())


GRANT_ROW_FIELDS = (
    "grant_id",
    "merchant_id",
    "aweme_id",
    "status",
    "auth_type",
    "scope",
    "channel",
    "video_id",
    "revoke_requested",
    "has_agreement",
    "requested_at",
    "starts_at",
    "ends_at",
    "renewal_of",
)


@dataclass(frozen=True)
class _ProposedGrant:
    """A grant row that is not written (yet): what `load_grants` would return for it."""

    grant_id: str
    merchant_id: str
    aweme_id: str
    status: str
    auth_type: str
    scope: str
    channel: str | None
    video_id: str | None
    revoke_requested: bool | None
    has_agreement: bool | None
    requested_at: date | None
    starts_at: date | None
    ends_at: date | None
    renewal_of: str | None = None


def proposal_facts(
    db: Any,
    as_of: date,
    proposal: Mapping[str, Any],
    *,
    merchant_defaults: Mapping[str, Mapping[str, Any]] | None = None,
    context_cache: dict[tuple, Any] | None = None,
) -> tuple[Fact, Fact | None]:
    """The facts of a grant that is only proposed (a request being filled in), built exactly
    as an evaluation would build them once it is stored — and its creator's fact for that
    merchant, as screening would see the pair. Reads only: nothing is written, no lock taken.

    `proposal` holds the grant's columns (GRANT_ROW_FIELDS). A new grant owns no metric rows
    yet, so its metric windows are empty. The creator fact is None when the creator does not
    exist. `context_cache` (a form's, for its lifetime) keeps the merchant-wide part — pair
    windows, pool percentiles, the creator's fact — per (merchant, creator, day), so each
    keystroke builds only the grant's own fact.
    """
    row = _ProposedGrant(**{name: proposal.get(name) for name in GRANT_ROW_FIELDS})
    mid, aweme = row.merchant_id, row.aweme_id
    key = (mid, aweme, as_of)
    cached = context_cache.get(key) if context_cache is not None else None
    if cached is None:
        with _reading(db) as conn:
            b = _Builder(conn, as_of, as_of, {"creator", "grant"}, [mid], merchant_defaults or {})
            b.data_driven_end = True
            b.load_data_days()  # windows end where the merchant's data ends, as in an evaluation
            settings = {m.merchant_id: b._settings(m) for m in b.load_merchants()}
            grants = [g for g in b.load_grants() if g.grant_id != row.grant_id]
            pool = b.load_pool()
            pool_status = {(p.merchant_id, p.aweme_id): p.status for p in pool}
            pairs = b.pair_windows()
            p20 = b._pool_percentiles(pool, pairs)
            creators = b.load_creators(also=[aweme])
            values = _CreatorValues(creators)
            # the pair is judged as it stands before this grant (a row that never started
            # only makes sure the pair is in the build, as any grant's pair is)
            unstarted = replace(row, status="draft", starts_at=None, requested_at=None)
            creator_facts = b._creator_facts(
                [*grants, unstarted], pool_status, pairs, p20, settings, creators, values
            )
        creator_fact = next((f for f in creator_facts if f.entity_id == aweme), None)
        cached = (b, settings, creators, values, creator_fact)
        if context_cache is not None:
            context_cache[key] = cached
    b, settings, creators, values, creator_fact = cached
    (grant_fact,) = b._grant_facts([row], settings, creators, values, {}, {})  # no reads
    if creator_fact is not None:  # the caller adds to its values: the cached one stays clean
        creator_fact = replace(creator_fact, values=dict(creator_fact.values))
    return grant_fact, creator_fact


@dataclass(frozen=True)
class GrantDay:
    """One day of one grant's delivery, attributed as the facts attribute it."""

    grant_id: str
    merchant_id: str
    aweme_id: str
    day: date
    spend: float
    impressions: int
    clicks: int
    orders: int | None
    gmv: float | None
    break_even_roi: float | None
    industry_cvr: float | None


def grant_days(
    db: Any,
    as_of: date,
    *,
    days: int = 14,
    merchant_id: str | None = None,
    grant_ids: Iterable[str] | None = None,
    merchant_defaults: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[GrantDay]:
    """Per grant and day over the `days` ending where its merchant's windows end (its newest
    metric day up to `as_of`, as in its facts: an export ending yesterday shows `days` days,
    not one fewer): the metric rows each grant owns (the same attribution as its facts),
    summed per day, with its merchant's break-even ROI and industry CVR — what the
    monitoring sheet (效果监测表) shows."""
    with _reading(db) as conn:
        scope = None if merchant_id is None else [merchant_id]
        builder = _Builder(conn, as_of, as_of, {"grant"}, scope, merchant_defaults or {})
        settings = {m.merchant_id: builder._settings(m) for m in builder.load_merchants()}
        builder.data_driven_end = True
        builder.load_data_days()
        ends = {mid: builder.end_of(mid) for mid in settings}
        start = min(ends.values(), default=as_of) - timedelta(days=days - 1)
        spans = builder._grant_spans(settings)
        join, owns = builder._attributed_join(spans)
        where = [M.date >= start, M.date <= as_of, owns]
        if grant_ids is not None:
            where.append(spans.c.grant_id.in_(list(grant_ids)))
        stmt = (  # one row a day: a day's rows (accounts, grants) summed, as the facts do
            select(
                spans.c.grant_id,
                spans.c.merchant_id,
                spans.c.aweme_id,
                M.date,
                func.sum(M.spend),
                func.sum(M.impressions),
                func.sum(M.clicks),
                _sum_known(M.orders),
                _sum_known(M.gmv),
            )
            .select_from(join)
            .where(*where)
            .group_by(spans.c.grant_id, spans.c.merchant_id, spans.c.aweme_id, M.date)
            .order_by(spans.c.grant_id, M.date)
        )
        rows = list(conn.execute(stmt))
    none = _MerchantSettings(None, None, None, frozenset(), frozenset())
    first = {mid: end - timedelta(days=days - 1) for mid, end in ends.items()}
    rows = [r for r in rows if first.get(r[1], start) <= r[3] <= ends.get(r[1], as_of)]
    return [
        GrantDay(
            r[0],
            r[1],
            r[2],
            r[3],
            float(r[4] or 0),
            int(r[5] or 0),
            int(r[6] or 0),
            None if r[7] is None else int(r[7]),
            None if r[8] is None else float(r[8]),
            settings.get(r[1], none).break_even_roi,
            settings.get(r[1], none).industry_cvr,
        )
        for r in rows
    ]


def set_aside_creators(db: Any) -> list[Fact]:
    """The pool's creators no rule judges (excluded, and any status outside
    EVALUATED_POOL_STATUSES) that have no grant with the merchant: not facts of a run, but
    the TUI lists them so that an operator can find one and bring it back. Only what names
    them is filled in."""
    granted = select(G.aweme_id).where(G.merchant_id == P.merchant_id, G.aweme_id == P.aweme_id)
    query = (
        select(P.merchant_id, P.aweme_id, P.status, C.nickname, C.fans_count)
        .join_from(P.merchant_id.table, C.aweme_id.table, C.aweme_id == P.aweme_id)
        .where(P.status.not_in(EVALUATED_POOL_STATUSES), ~granted.exists())
        .order_by(P.merchant_id, P.aweme_id)
    )
    with _reading(db) as conn:
        return [
            Fact(
                "creator",
                aweme,
                mid,
                aweme,
                {
                    "merchant_id": mid,
                    "aweme_id": aweme,
                    "pool_status": status,
                    "excluded": status == "excluded",
                    "nickname": nickname,
                    "fans_count": fans,
                },
            )
            for mid, aweme, status, nickname, fans in conn.execute(query)
        ]
