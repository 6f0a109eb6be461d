"""Building facts: a handful of set-based SQL aggregates, then one linear Python pass.

Every query is SQLAlchemy Core with dates computed in Python and passed as parameters, so the
same statements run on SQLite and PostgreSQL without dialect-specific date arithmetic, and no
query runs per entity (architecture.md: facts are set-based, never one ORM load per row).

Time: everything is as of `as_of`. Metric windows `_1d/_3d/_7d/_30d` cover
`end-(N-1) … end`, where each merchant's `end` is the latest day up to `as_of` that has metric
rows for it (千川 settles a day the next morning, so a 9 a.m. run has data up to yesterday: its
windows end yesterday instead of on an empty today); a merchant without rows ends at `as_of`.
`exclude_recent_days = N > 0` overrides that: every window ends at `as_of - N`, whatever the
data. Rows dated after `as_of` never count. A grant whose first known date (the earlier of requested_at and starts_at) is after
`as_of` did not exist yet and is left out of everything. Creators, merchants and the pool have no
history, so they are taken as they are now.

A creator-day may have several rows (one per 千川 account, or per grant); windows sum them,
day counts count days (not rows), and the ROI streak judges each day's summed spend and GMV.

Missing data stays missing: a window with no rows sums to 0 (nothing was spent) and its ratios
are None; a window whose rows lack a nullable column (orders, gmv, add_to_cart) on any day gives
None for that sum rather than a partial total that would bias CVR or ROI.

Attribution of metric rows to grants (grant metric windows, streaks and spend_after_end):

- A row with `grant_id` set belongs to that grant, when the grant exists as of `as_of` and is
  of the row's own (merchant_id, aweme_id) pair; otherwise (an unknown grant, or another
  pair's) it belongs to no grant. It never falls back to the rule below.
- A row with `grant_id` NULL belongs to the grant of the same (merchant_id, aweme_id) with the
  latest `COALESCE(starts_at, requested_at) <= row.date`, among grants that ever became active
  (status active/expired/revoked, or starts_at set), so a pending or rejected request never
  absorbs the spend of the grant that is actually running. Ties go to the greatest grant_id. No
  such grant: the row belongs to no grant (it still counts for the creator's facts).
- A grant keeps owning later rows after its `ends_at` until the next grant of the pair starts;
  that is what `spend_after_end` measures (rows dated after ends_at, up to as_of).
"""

from __future__ import annotations

import bisect
import functools
import gc
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Float,
    Text,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    union,
)
from sqlalchemy.sql.elements import ColumnElement

from qcrules.facts.schema import CREATOR_COLUMNS, ENTITIES, WINDOWS
from qcrules.model.tables import (
    PERMANENT_END,
    Creator,
    DailyMetric,
    Grant,
    Merchant,
    PoolMember,
    is_permanent_end,
)

STARTED_STATUSES = ("active", "expired", "revoked")
EVALUATED_POOL_STATUSES = ("candidate", "in_pool")
_FAR_FUTURE = date(9999, 12, 31)
STREAK_DAYS = 30  # the streak is counted within the longest window
RECENT_DAYS = 3  # newest metric days are looked for here first (stale merchants: all days)
TREND_DAYS = 7  # roi_improving compares the latest 3 days with meaningful spend among these
POOL_PERCENTILE = 0.20
# A pool peer counts for the percentiles only with a full 7-day window behind its CTR and ROI
# (the days OPT001 itself asks for): a creator with two lucky days is not a yardstick.
PEER_MIN_DAYS = 7
# A renewal that was turned down or taken back does not stop a new one from being proposed.
DEAD_STATUSES = ("rejected", "revoked")

M = DailyMetric.__table__.c  # type: ignore[attr-defined]
G = Grant.__table__.c  # type: ignore[attr-defined]
C = Creator.__table__.c  # type: ignore[attr-defined]
P = PoolMember.__table__.c  # type: ignore[attr-defined]
MER = Merchant.__table__.c  # type: ignore[attr-defined]


@dataclass(slots=True)
class Fact:
    """The flat record one rule sees. `values` keys are the schema's field names (dotted ones too)."""

    entity_type: str
    entity_id: str
    merchant_id: str | None
    aweme_id: str | None
    values: dict[str, Any]


@dataclass
class FactSet:
    """All facts of one build, per entity, plus the dates they were built for."""

    as_of: date
    window_end: date  # the latest merchant window end (plugins without per-merchant needs)
    creator: list[Fact] = field(default_factory=list)
    grant: list[Fact] = field(default_factory=list)
    merchant: list[Fact] = field(default_factory=list)
    # per merchant: the last day of its windows, and its newest metric day up to as_of
    window_ends: dict[str, date] = field(default_factory=dict)
    data_through: dict[str, date] = field(default_factory=dict)

    def window_end_of(self, merchant_id: str | None) -> date:
        """The last day of a merchant's metric windows."""
        return self.window_ends.get(merchant_id or "", self.window_end)

    def __getitem__(self, entity: str) -> list[Fact]:
        if entity not in ENTITIES:
            raise KeyError(entity)
        return getattr(self, entity)

    def __iter__(self) -> Iterator[Fact]:
        for entity in ENTITIES:
            yield from self[entity]

    def __len__(self) -> int:
        return sum(len(self[e]) for e in ENTITIES)

    def counts(self) -> dict[str, int]:
        return {e: len(self[e]) for e in ENTITIES}


@dataclass(slots=True)
class _MerchantSettings:
    """A merchant's columns with the workspace's `[merchant.<id>]` defaults filled in."""

    break_even_roi: float | None
    industry_cvr: float | None
    target_gender: str | None
    target_age_bands: frozenset[str]
    categories: frozenset[str]
    own_accounts: frozenset[str] = frozenset()


# ---------------------------------------------------------------------------------------------
# entry point


def build_facts(
    db: Any,
    as_of: date,
    *,
    entities: Iterable[str] = ENTITIES,
    merchant_id: str | None = None,
    exclude_recent_days: int = 0,
    merchant_defaults: Mapping[str, Mapping[str, Any]] | None = None,
    min_daily_spend: float = 0.0,
    merchant_min_daily_spend: Mapping[str, float] | None = None,
    builder_class: type[_Builder] | None = None,
) -> FactSet:
    """Build the facts of the given entities as of `as_of` (see the module docstring).

    `db` is a `Database`, an `Engine` or an open `Connection` (to read inside a caller's
    transaction). `merchant_id` limits every entity to one merchant (`spend_3d_any` still spans
    all merchants). `merchant_defaults` maps a merchant id to values used where its record has
    NULL: break_even_roi, industry_cvr, target_gender, target_age_bands, categories.
    `min_daily_spend` (`merchant_min_daily_spend` per merchant id where set): days of a grant
    that spent less are skipped by `roi_below_break_even_streak`, neither counted nor breaking it.
    `builder_class`: a `_Builder` subclass (a backtest's, sharing loads across days).
    """
    if isinstance(as_of, datetime):
        as_of = as_of.date()
    wanted = set(entities)
    unknown = wanted - set(ENTITIES)
    if unknown:
        raise ValueError(f"unknown fact entities {sorted(unknown)}; expected some of {ENTITIES}")
    if exclude_recent_days < 0:
        raise ValueError("exclude_recent_days must be >= 0")
    cutoff = as_of - timedelta(days=exclude_recent_days)
    out = FactSet(as_of=as_of, window_end=cutoff)
    # The build allocates a few million dicts and values and no garbage cycles; pausing the
    # cyclic collector meanwhile saves about 10% of the time at 100k creators.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        with _reading(db) as conn:
            builder = (builder_class or _Builder)(
                conn, as_of, cutoff, wanted, merchant_id, merchant_defaults or {}
            )
            builder.floors = (
                float(min_daily_spend or 0.0),
                {k: float(v or 0.0) for k, v in (merchant_min_daily_spend or {}).items()},
            )
            builder.data_driven_end = exclude_recent_days == 0
            builder.run(out)
    finally:
        if gc_was_enabled:
            gc.enable()
    return out


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
            b = _Builder(conn, as_of, as_of, {"creator", "grant"}, mid, merchant_defaults or {})
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
    """Per grant and day over the `days` ending `as_of`: the metric rows each grant owns
    (the same attribution as its facts), summed per day, with its merchant's break-even ROI
    and industry CVR — what the monitoring sheet (效果监测表) shows."""
    start = as_of - timedelta(days=days - 1)
    with _reading(db) as conn:
        builder = _Builder(conn, as_of, as_of, {"grant"}, merchant_id, merchant_defaults or {})
        settings = {m.merchant_id: builder._settings(m) for m in builder.load_merchants()}
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


@contextmanager
def _reading(db: Any) -> Iterator[Connection]:
    """One read transaction; on PostgreSQL a repeatable-read snapshot so all queries agree."""
    if isinstance(db, Connection):
        yield db
        return
    engine: Engine = db if isinstance(db, Engine) else db.engine
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


# ---------------------------------------------------------------------------------------------
# SQL


def _day_bit(day: Any, end: date, lo: int, hi: int) -> Any:
    """2**k for the row dated end - k (lo <= k <= hi), as a balanced CASE: 5 tests, not 30."""
    if lo == hi:
        return literal(1 << lo)
    mid = (lo + hi) // 2
    return case(
        (day >= end - timedelta(days=mid), _day_bit(day, end, lo, mid)),
        else_=_day_bit(day, end, mid + 1, hi),
    )


def _grant_included(as_of: date) -> ColumnElement[bool]:
    """A grant exists as of `as_of` unless its first known date is later (none known: keep it)."""
    return or_(
        and_(G.requested_at.is_(None), G.starts_at.is_(None)),
        G.requested_at <= as_of,
        G.starts_at <= as_of,
    )


def _grant_started() -> ColumnElement[bool]:
    """Grants that ever became active; only these can own metric rows that carry no grant_id."""
    return or_(G.starts_at.is_not(None), G.status.in_(STARTED_STATUSES))


def _window_aggregates(src: Any, starts: Mapping[int, date], *, daily: bool) -> list[Any]:
    """Aggregates `_window_values` reads: last date, 7-day day count, per-window sums, null dates.

    `src` is a column collection already limited to the 30-day window; `daily`: it has one
    row per day (else days are counted distinct: a creator-day may have several rows).
    The latest date on which orders/gmv/add_to_cart is NULL tells which windows lack a value:
    one aggregate per column instead of a count per column and window (it is a hot loop).
    """
    d = src.date
    recent = case((d >= starts[7], d))
    days7 = func.count(recent) if daily else func.count(func.distinct(recent))
    cols: list[Any] = [func.max(d), days7]
    for n in WINDOWS:
        for col in (src.spend, src.impressions, src.clicks, src.orders, src.gmv):
            cols.append(
                func.sum(col) if n == WINDOWS[-1] else func.sum(case((d >= starts[n], col)))
            )
    cols.append(func.sum(case((d >= starts[7], src.add_to_cart))))
    cols += [func.max(case((col.is_(None), d))) for col in (src.orders, src.gmv, src.add_to_cart)]
    return cols


_N_WINDOW_COLS = 2 + 5 * len(WINDOWS) + 1 + 3


@dataclass(frozen=True)
class _Columns:
    """Named SQL expressions standing in for a subquery's columns (`d.spend`, …)."""

    grant_id: Any
    date: Any
    spend: Any
    impressions: Any
    clicks: Any
    orders: Any
    gmv: Any
    add_to_cart: Any
    ber: Any
    floor: Any


def _sum_known(col: Any) -> Any:
    """The day's sum of a nullable column, NULL when any of its rows lacks the value."""
    return case((func.count(col) == func.count(), func.sum(col)))


def _streak(below: int, skip: int, present: int, skip_absent: bool) -> int:
    """Days below break-even counted back from the window's last day (bit 0). A skipped day
    (spend under the floor; with a floor, also a day without rows) neither counts nor breaks
    the streak; any other day ends it."""
    n = 0
    for k in range(STREAK_DAYS):
        bit = 1 << k
        if below & bit:
            n += 1
        elif not (skip & bit or (skip_absent and not present & bit)):
            break
    return n


# "grant_id IS NULL" written so that SQLite never drives the attribution join from the
# metrics.grant_id index (it then scans the grants CTE once per metric row): grants drive it,
# reaching their rows through the (merchant_id, aweme_id, date) unique index.
_no_grant_id = func.coalesce(M.grant_id, "") == ""


class _Builder:
    """One build: runs the queries, then assembles facts in a single pass per entity."""

    def __init__(
        self,
        conn: Connection,
        as_of: date,
        cutoff: date,
        wanted: set[str],
        merchant_id: str | None,
        defaults: Mapping[str, Mapping[str, Any]],
    ) -> None:
        self.conn = conn
        self.as_of = as_of
        self.cutoff = cutoff  # as_of - exclude_recent_days: no window ends later
        self.end = cutoff  # the latest merchant window end (load_data_days)
        self.ends: dict[str, date] = {}  # merchants in scope that have metric rows
        self.through: dict[str, date] = {}  # their newest metric day up to as_of
        self.floors: tuple[float, dict[str, float]] = (0.0, {})
        self.data_driven_end = False  # windows end at each merchant's newest metric day
        self.wanted = wanted
        self.merchant_id = merchant_id
        self.defaults = defaults
        self._starts: dict[date, dict[int, date]] = {}
        self.included = _grant_included(as_of)
        self._pair_cache: dict[tuple[str, str], dict[str, Any]] = {}

    def starts_for(self, end: date) -> dict[int, date]:
        """First day of each window ending on `end`."""
        got = self._starts.get(end)
        if got is None:
            got = self._starts[end] = {n: end - timedelta(days=n - 1) for n in WINDOWS}
        return got

    def end_of(self, merchant_id: str) -> date:
        return self.ends.get(merchant_id, self.cutoff)

    def load_data_days(self) -> None:
        """Per merchant: its newest metric day up to as_of, and up to the cutoff (where its
        windows end, unless exclude_recent_days fixes the end). One grouped query over the last
        few days, read from the (date, merchant_id) index alone; only merchants with nothing
        that recent get a second query, over their own rows."""
        as_of, cut = self.as_of, self.cutoff

        def latest(*where: Any) -> list[Any]:
            stmt = (
                select(M.merchant_id, func.max(M.date), func.max(case((M.date <= cut, M.date))))
                .where(M.date <= as_of, *where, *self._where_merchant(M.merchant_id))
                .group_by(M.merchant_id)
            )
            return list(self.conn.execute(stmt))

        rows = latest(M.date >= cut - timedelta(days=RECENT_DAYS))
        stale = [m.merchant_id for m in self.load_merchants()]
        stale = sorted(set(stale) - {mid for mid, _, last in rows if last is not None})
        if stale:
            rows = [r for r in rows if r[2] is not None] + latest(M.merchant_id.in_(stale))
        for mid, through, last in rows:
            if through is not None:
                self.through[mid] = through
            if last is not None:
                self.ends[mid] = last if self.data_driven_end else cut
        self.end = max(self.ends.values(), default=cut)

    def _end_groups(self) -> list[tuple[date, list[str] | None]]:
        """Merchants with metric rows, grouped by window end: one query per distinct end
        (usually one). None: every merchant in scope shares it, no filter needed."""
        groups: dict[date, list[str]] = {}
        for mid, end in self.ends.items():
            groups.setdefault(end, []).append(mid)
        if len(groups) == 1 and self.merchant_id is None:
            return [(next(iter(groups)), None)]
        return [(end, sorted(mids)) for end, mids in sorted(groups.items())]

    def _where_merchant(self, col: Any) -> list[ColumnElement[bool]]:
        return [] if self.merchant_id is None else [col == self.merchant_id]

    # -- loads ---------------------------------------------------------------------------------

    def load_merchants(self) -> list[Any]:
        cached = getattr(self, "_merchants", None)
        if cached is not None:
            return cached
        stmt = select(
            MER.merchant_id,
            MER.name,
            MER.break_even_roi,
            MER.industry_cvr,
            MER.target_gender,
            MER.target_age_bands,
            MER.categories,
            MER.goal,
            MER.last_permission_audit,
            MER.created_at,
        ).where(*self._where_merchant(MER.merchant_id))
        self._merchants: list[Any] = list(self.conn.execute(stmt))
        return self._merchants

    def load_grants(self) -> list[Any]:
        stmt = select(
            G.grant_id,
            G.merchant_id,
            G.aweme_id,
            G.status,
            G.auth_type,
            G.scope,
            G.channel,
            G.video_id,
            G.revoke_requested,
            G.has_agreement,
            G.requested_at,
            G.starts_at,
            G.ends_at,
            G.renewal_of,
        ).where(self.included, *self._where_merchant(G.merchant_id))
        return list(self.conn.execute(stmt.order_by(G.grant_id)))

    def load_pool(self) -> list[Any]:
        stmt = select(P.merchant_id, P.aweme_id, P.status).where(
            *self._where_merchant(P.merchant_id)
        )
        return list(self.conn.execute(stmt))

    def load_creators(self, also: Sequence[str] = ()) -> dict[str, Any]:
        wanted: Any = union(
            select(P.aweme_id).where(
                P.status.in_(EVALUATED_POOL_STATUSES), *self._where_merchant(P.merchant_id)
            ),
            select(G.aweme_id).where(self.included, *self._where_merchant(G.merchant_id)),
        )
        if also:
            wanted = or_(C.aweme_id.in_(wanted), C.aweme_id.in_(list(also)))
        else:
            wanted = C.aweme_id.in_(wanted)
        has_code = func.length(func.trim(C.cooperation_code)) > 0  # never load the credential
        stmt = select(
            C.aweme_id,
            *[C[name] for name, *_ in CREATOR_COLUMNS],
            cast(C.fan_age_dist, Text).label("fan_age_dist"),
            cast(C.categories, Text).label("categories"),
            has_code,
        ).where(wanted)
        return {row[0]: row for row in self.conn.execute(stmt)}

    def pair_windows(self) -> dict[tuple[str, str], Sequence[Any]]:
        """Window aggregates per (merchant, creator) over all that merchant's rows for the creator.

        The date bounds go through COALESCE so that SQLite streams the (merchant, aweme, date)
        unique index in group order instead of sorting the rows it finds through the date index
        (1.8M rows, 90 days: 1.2 s instead of 2.7 s when rows were inserted pair by pair, 1.4 s
        instead of 1.6 s when inserted day by day). PostgreSQL plans it as it likes.
        """
        day = func.coalesce(M.date, M.date)
        out: dict[tuple[str, str], Sequence[Any]] = {}
        for end, mids in self._end_groups():
            starts = self.starts_for(end)
            where = [day >= starts[30], day <= end]
            where += [M.merchant_id.in_(mids)] if mids is not None else []
            stmt = (
                select(M.merchant_id, M.aweme_id, *_window_aggregates(M, starts, daily=False))
                .where(*where)
                .group_by(M.merchant_id, M.aweme_id)
            )
            out.update({(r[0], r[1]): r for r in self.conn.execute(stmt)})
        return out

    def spend_3d_any(self) -> dict[str, float]:
        """Over every merchant, so over the workspace's latest window (self.end)."""
        stmt = (
            select(M.aweme_id, func.sum(M.spend))
            .where(M.date >= self.starts_for(self.end)[3], M.date <= self.end)
            .group_by(M.aweme_id)
        )
        return {aweme: float(s or 0) for aweme, s in self.conn.execute(stmt)}

    def _grant_spans(
        self, settings: Mapping[str, _MerchantSettings], merchants: Sequence[str] | None = None
    ) -> Any:
        """Every grant that exists as of as_of, with the span of grant-less rows it owns.

        Owners (grants that ever started, with a start date) own [own_from, own_to): from their
        start to the next owner's start on the same pair; the LEAD is partitioned by the owner
        flag so pending or rejected requests never cut a span. Ties on the start date go to the
        greatest grant_id (the others get an empty span). Non-owners have own_from NULL.
        """
        start = func.coalesce(G.starts_at, G.requested_at)
        is_owner = and_(_grant_started(), start.is_not(None))
        owner_flag = case((is_owner, 1), else_=0)
        nxt = func.lead(start).over(
            partition_by=(G.merchant_id, G.aweme_id, owner_flag), order_by=(start, G.grant_id)
        )
        bers = [
            (G.merchant_id == m, st.break_even_roi)
            for m, st in settings.items()
            if st.break_even_roi is not None
        ]
        default_floor, floors = self.floors
        floor: Any = cast(literal(default_floor), Float)
        if floors:
            floor = case(*[(G.merchant_id == m, v) for m, v in floors.items()], else_=floor)
        where = [self.included, *self._where_merchant(G.merchant_id)]
        if merchants is not None:
            where.append(G.merchant_id.in_(merchants))
        return (
            select(
                G.grant_id,
                G.merchant_id,
                G.aweme_id,
                G.ends_at,
                case((is_owner, start)).label("own_from"),
                func.coalesce(nxt, _FAR_FUTURE).label("own_to"),
                (case(*bers) if bers else cast(null(), Float)).label("ber"),
                floor.label("floor"),
            )
            .where(*where)
            .cte("spans")
        )

    def _attributed_join(self, spans: Any) -> tuple[Any, ColumnElement[bool]]:
        """spans JOIN metrics: each metric row with the grant it belongs to (module docstring).

        Driven by the grants: each reaches its pair's rows through the (merchant_id, aweme_id,
        date) unique index. An explicit grant_id only counts on a row of that grant's own pair,
        so a grant has at most one row per day.
        """
        owns = or_(
            M.grant_id == spans.c.grant_id,
            and_(
                _no_grant_id,
                M.date >= spans.c.own_from,
                M.date < spans.c.own_to,
            ),
        )
        join = spans.join(
            DailyMetric.__table__,
            and_(M.merchant_id == spans.c.merchant_id, M.aweme_id == spans.c.aweme_id),
        )
        return join, owns

    def grant_windows(self, settings: Mapping[str, _MerchantSettings]) -> dict[str, Sequence[Any]]:
        """Per grant: window aggregates over its days, then the bitmasks of days below
        break-even, under the spend floor and with rows, and spend and GMV of days -1 … -6
        (for roi_improving).

        The bitmasks judge a day, so a day of several rows (accounts, grants) must be summed
        first. Grouping every grant's rows by day costs a second sort of all rows, so rows
        are aggregated directly and only the grants that turn out to have such days (rows ≠
        days) are read again, day by day (usually a handful, often none)."""
        out: dict[str, Sequence[Any]] = {}
        for end, mids in self._end_groups():
            rows = self._grant_windows(settings, end, mids)
            split = [gid for gid, row in rows.items() if row[-1] != row[-2]]
            if split:
                rows.update(self._grant_windows(settings, end, mids, split))
            out.update(rows)
        return out

    def _grant_windows(
        self,
        settings: Mapping[str, _MerchantSettings],
        end: date,
        mids: list[str] | None,
        by_day: list[str] | None = None,
    ) -> dict[str, Sequence[Any]]:
        """One row per grant (see grant_windows), ending in its row and day counts;
        `by_day`: only these grants, each day's rows summed first."""
        starts = self.starts_for(end)
        spans = self._grant_spans(settings, mids)
        join, owns = self._attributed_join(spans)
        where = [M.date >= starts[30], M.date <= end, owns]
        if by_day is None:
            d: Any = _Columns(
                grant_id=spans.c.grant_id,
                date=M.date,
                spend=M.spend,
                impressions=M.impressions,
                clicks=M.clicks,
                orders=M.orders,
                gmv=M.gmv,
                add_to_cart=M.add_to_cart,
                ber=spans.c.ber,
                floor=spans.c.floor,
            )
            source: Any = join
        else:
            where.append(spans.c.grant_id.in_(by_day))
            source = (
                select(
                    spans.c.grant_id,
                    M.date.label("date"),
                    func.sum(M.spend).label("spend"),
                    func.sum(M.impressions).label("impressions"),
                    func.sum(M.clicks).label("clicks"),
                    _sum_known(M.orders).label("orders"),
                    _sum_known(M.gmv).label("gmv"),
                    _sum_known(M.add_to_cart).label("add_to_cart"),
                    func.max(spans.c.ber).label("ber"),
                    func.max(spans.c.floor).label("floor"),
                )
                .select_from(join)
                .where(*where)
                .group_by(spans.c.grant_id, M.date)
                .subquery("daily")
            )
            d, where = source.c, []
        # the same IEEE division as the Python ROI, so the streak agrees with roi_* fields
        below = and_(d.spend > 0, d.spend >= d.floor, d.gmv.is_not(None), d.gmv / d.spend < d.ber)
        bit = _day_bit(d.date, end, 0, STREAK_DAYS - 1)
        recent = [end - timedelta(days=k) for k in range(1, TREND_DAYS)]
        stmt = (
            select(
                d.grant_id,
                *_window_aggregates(d, starts, daily=by_day is not None),
                func.sum(case((below, bit), else_=0)),
                func.sum(case((d.spend < d.floor, bit), else_=0)),
                func.sum(bit),
                *[func.sum(case((d.date == k, col))) for k in recent for col in (d.spend, d.gmv)],
                func.count(func.distinct(d.date)) if by_day is None else func.count(),
                func.count(),
            )
            .select_from(source)
            .where(*where)
            .group_by(d.grant_id)
        )
        return {r[0]: r for r in self.conn.execute(stmt)}

    def spend_after_end(self, settings: Mapping[str, _MerchantSettings]) -> dict[str, float]:
        """Spend attributed to each grant dated after its (non-permanent) end, up to as_of."""
        spans = self._grant_spans(settings)
        join, owns = self._attributed_join(spans)
        stmt = (
            select(spans.c.grant_id, func.sum(M.spend))
            .select_from(join)
            .where(
                spans.c.ends_at < PERMANENT_END,
                spans.c.ends_at < self.as_of,
                M.date > spans.c.ends_at,
                M.date <= self.as_of,
                owns,
            )
            .group_by(spans.c.grant_id)
        )
        return {gid: float(s or 0) for gid, s in self.conn.execute(stmt)}

    # -- assembly ------------------------------------------------------------------------------

    def run(self, out: FactSet) -> None:
        merchants = self.load_merchants()
        self.load_data_days()
        out.window_end = self.end
        out.window_ends = {m.merchant_id: self.end_of(m.merchant_id) for m in merchants}
        out.data_through = dict(self.through)
        settings = {m.merchant_id: self._settings(m) for m in merchants}
        need_pairs = bool(self.wanted & {"creator", "merchant"})
        grants = self.load_grants()
        pool = self.load_pool()
        pool_status = {(p.merchant_id, p.aweme_id): p.status for p in pool}
        pairs = self.pair_windows() if need_pairs else {}
        p20 = self._pool_percentiles(pool, pairs) if need_pairs else {}
        creators = self.load_creators() if self.wanted & {"creator", "grant"} else {}
        creator_vals = self.creator_values(creators)

        if "creator" in self.wanted:
            out.creator = self._creator_facts(
                grants, pool_status, pairs, p20, settings, creators, creator_vals
            )
        if "grant" in self.wanted:
            windows, after_end = self.grant_windows(settings), self.spend_after_end(settings)
            out.grant = self._grant_facts(
                grants, settings, creators, creator_vals, windows, after_end
            )
        if "merchant" in self.wanted:
            out.merchant = self._merchant_facts(merchants, grants, pool, p20, settings)

    def creator_values(self, creators: Mapping[str, Any]) -> _CreatorValues:
        """Per-creator pieces for this build (a backtest's builder keeps them across days)."""
        return _CreatorValues(creators)

    def _settings(self, m: Any) -> _MerchantSettings:
        dflt = self.defaults.get(m.merchant_id) or {}

        def pick(col: str) -> Any:
            value = getattr(m, col)
            return dflt.get(col) if value is None or value == [] else value

        return _MerchantSettings(
            break_even_roi=_as_float(pick("break_even_roi")),
            industry_cvr=_as_float(pick("industry_cvr")),
            target_gender=_gender(pick("target_gender")),
            target_age_bands=frozenset(_band(b) for b in _as_list(pick("target_age_bands"))),
            categories=frozenset(_category(c) for c in _as_list(pick("categories"))),
            own_accounts=frozenset(_as_list(dflt.get("own_accounts"))),
        )

    def _pool_percentiles(
        self, pool: Sequence[Any], pairs: Mapping[tuple[str, str], Sequence[Any]]
    ) -> dict[str, _PoolPeers]:
        """Per merchant, the pool peers the percentiles are taken over: in-pool creators with
        a CTR and ROI over at least PEER_MIN_DAYS of the 7-day window."""
        peers: dict[str, dict[str, tuple[float, float]]] = {}
        for p in pool:
            if p.status != "in_pool" or (p.merchant_id, p.aweme_id) not in pairs:
                continue
            w = self._pair_values(pairs, p.merchant_id, p.aweme_id)
            ctr, roi = w["ctr_7d"], w["roi_7d"]
            if ctr is None or roi is None or w["days_with_data"] < PEER_MIN_DAYS:
                continue
            peers.setdefault(p.merchant_id, {})[p.aweme_id] = (ctr, roi)
        return {mid: _PoolPeers(members) for mid, members in peers.items()}

    def _creator_facts(
        self,
        grants: Sequence[Any],
        pool_status: Mapping[tuple[str, str], str],
        pairs: Mapping[tuple[str, str], Sequence[Any]],
        p20: Mapping[str, _PoolPeers],
        settings: Mapping[str, _MerchantSettings],
        creators: Mapping[str, Any],
        creator_vals: _CreatorValues,
    ) -> list[Fact]:
        selected = {k for k, s in pool_status.items() if s in EVALUATED_POOL_STATUSES}
        authorized: set[tuple[str, str]] = set()
        for g in grants:
            key = (g.merchant_id, g.aweme_id)
            selected.add(key)
            started = (
                g.starts_at <= self.as_of
                if g.starts_at is not None
                else g.status in STARTED_STATUSES
            )
            if started:
                authorized.add(key)
        any_spend = self.spend_3d_any()
        no_setting = _MerchantSettings(None, None, None, frozenset(), frozenset())
        by_merchant: dict[str, list[str]] = {}
        for mid, aweme in selected:
            by_merchant.setdefault(mid, []).append(aweme)
        plain, categories, pair_values = (
            creator_vals.plain,
            creator_vals.categories,
            self._pair_values,
        )
        facts: list[Fact] = []
        for mid in sorted(by_merchant):
            st = settings.get(mid, no_setting)
            peers = p20.get(mid, _NO_PEERS)
            merchant_values = {
                "break_even_roi": st.break_even_roi,
                "industry_cvr": st.industry_cvr,
            }
            for aweme in sorted(by_merchant[mid]):
                crow = creators.get(aweme)
                if crow is None:
                    continue  # cannot happen with foreign keys; a fact needs its creator
                status = pool_status.get((mid, aweme))
                quote, avg_gmv = crow.quote_price, crow.avg_gmv_30d
                values: dict[str, Any] = {
                    "merchant_id": mid,
                    "aweme_id": aweme,
                    "pool_status": status,
                    **plain(aweme),
                    "audience_match": _audience_match(st, crow.fan_male_ratio, creator_vals, aweme),
                    "category_match": _category_match(st, categories(aweme)),
                    "price_to_gmv": quote / avg_gmv if quote is not None and avg_gmv else None,
                    "has_cooperation_code": bool(crow[-1]),
                    "in_pool": status == "in_pool",
                    "excluded": status == "excluded",
                    "authorized_this_merchant_before": (mid, aweme) in authorized,
                    "spend_3d_any": any_spend.get(aweme, 0.0),
                    **pair_values(pairs, mid, aweme),
                    **merchant_values,
                    **peers.values_for(aweme),
                }
                facts.append(Fact("creator", aweme, mid, aweme, values))
        return facts

    def _pair_values(
        self, pairs: Mapping[tuple[str, str], Sequence[Any]], mid: str, aweme: str
    ) -> dict[str, Any]:
        """Window fields of one (merchant, creator) pair, computed once (percentiles reuse them)."""
        key = (mid, aweme)
        got = self._pair_cache.get(key)
        if got is None:
            row = pairs.get(key)
            starts = self.starts_for(self.end_of(mid))
            got = _window_values(row, 2, starts) if row is not None else _EMPTY_WINDOWS
            self._pair_cache[key] = got
        return got

    def _grant_facts(
        self,
        grants: Sequence[Any],
        settings: Mapping[str, _MerchantSettings],
        creators: Mapping[str, Any],
        creator_vals: _CreatorValues,
        windows: Mapping[str, Sequence[Any]],
        after_end: Mapping[str, float],
    ) -> list[Fact]:
        as_of = self.as_of
        default_floor, floors = self.floors

        def floor_of(g: Any) -> float:
            return floors.get(g.merchant_id, default_floor)

        renewed = {g.renewal_of for g in grants if g.renewal_of and g.status not in DEAD_STATUSES}
        facts: list[Fact] = []
        for g in grants:
            st = settings.get(g.merchant_id)
            ber = st.break_even_roi if st else None
            crow = creators.get(g.aweme_id)
            ends = g.ends_at
            permanent = is_permanent_end(ends)
            dated = ends is not None and not permanent  # None: the end is unknown
            ref = g.starts_at or g.requested_at
            values: dict[str, Any] = {
                "grant_id": g.grant_id,
                "merchant_id": g.merchant_id,
                "aweme_id": g.aweme_id,
                "status": g.status,
                "auth_type": g.auth_type,
                "scope": g.scope,
                "channel": g.channel,
                "video_id": g.video_id,
                "revoke_requested": g.revoke_requested,
                "has_agreement": g.has_agreement,
                "requested_at": _iso(g.requested_at),
                "starts_at": _iso(g.starts_at),
                "ends_at": _iso(ends) if dated else None,
            }
            values.update(creator_vals.prefixed(g.aweme_id))
            values.update(
                creator_is_own_account=_own_account(crow, g.aweme_id, st),
                creator_violation=crow.serious_violation if crow is not None else None,
                has_cooperation_code=bool(crow[-1]) if crow is not None else None,
                duration_days=(ends - ref).days if dated and ref is not None else None,
                is_permanent=permanent,
                end_date_known=ends is not None,
                has_renewal=g.grant_id in renewed,
                days_to_expiry=(ends - as_of).days if dated else None,
                days_pending=(as_of - g.requested_at).days if g.requested_at is not None else None,
                days_active=(as_of - g.starts_at).days
                if g.starts_at is not None and g.starts_at <= as_of
                else None,
                spend_after_end=after_end.get(g.grant_id, 0.0)
                if dated
                else (0.0 if permanent else None),
            )
            row = windows.get(g.grant_id)
            if row is None:
                values.update(_EMPTY_WINDOWS)
                values.update(
                    roi_below_break_even_streak=None if ber is None else 0, roi_improving=None
                )
            else:
                w = _window_values(row, 1, self.starts_for(self.end_of(g.merchant_id)))
                values.update(w)
                tail = row[1 + _N_WINDOW_COLS :]
                values["roi_below_break_even_streak"] = (
                    None
                    if ber is None
                    else _streak(
                        int(tail[0] or 0), int(tail[1] or 0), int(tail[2] or 0), floor_of(g) > 0
                    )
                )
                floor = floor_of(g)
                recent = tail[3 : 3 + 2 * (TREND_DAYS - 1)]
                days = [(w["spend_1d"], w["gmv_1d"]), *zip(recent[::2], recent[1::2], strict=True)]
                rois = [_roi(s, v) for s, v in days if s and s >= floor][:3]
                values["roi_improving"] = _roi_improving(ber, *rois) if len(rois) == 3 else None
            values["break_even_roi"] = ber
            values["industry_cvr"] = st.industry_cvr if st else None
            facts.append(Fact("grant", g.grant_id, g.merchant_id, g.aweme_id, values))
        return facts

    def _merchant_facts(
        self,
        merchants: Sequence[Any],
        grants: Sequence[Any],
        pool: Sequence[Any],
        p20: Mapping[str, _PoolPeers],
        settings: Mapping[str, _MerchantSettings],
    ) -> list[Fact]:
        pool_size: dict[str, int] = {}
        for p in pool:
            if p.status == "in_pool":
                pool_size[p.merchant_id] = pool_size.get(p.merchant_id, 0) + 1
        pending: dict[str, int] = {}
        for g in grants:
            if g.status == "requested":
                pending[g.merchant_id] = pending.get(g.merchant_id, 0) + 1
        facts: list[Fact] = []
        for m in sorted(merchants, key=lambda m: m.merchant_id):
            st = settings[m.merchant_id]
            audit = m.last_permission_audit
            if audit is None or audit > self.as_of:  # not audited (yet, as of as_of)
                created = m.created_at
                audit = created.date() if isinstance(created, datetime) else created
            through = self.through.get(m.merchant_id)
            values = {
                "merchant_id": m.merchant_id,
                "name": m.name,
                "target_gender": st.target_gender,
                "goal": m.goal,
                "pool_size": pool_size.get(m.merchant_id, 0),
                "pending_grants": pending.get(m.merchant_id, 0),
                "days_since_permission_audit": max(0, (self.as_of - audit).days)
                if audit is not None
                else None,
                **p20.get(m.merchant_id, _NO_PEERS).values_for(None),
                "break_even_roi": st.break_even_roi,
                "industry_cvr": st.industry_cvr,
                "data_through": _iso(through),
                "data_age_days": (self.as_of - through).days if through is not None else None,
                "window_end": _iso(self.end_of(m.merchant_id)),
            }
            facts.append(Fact("merchant", m.merchant_id, m.merchant_id, None, values))
        return facts


# ---------------------------------------------------------------------------------------------
# per-row helpers (plain Python, linear)

_WINDOW_KEYS = [
    (f"spend_{n}d", f"impressions_{n}d", f"clicks_{n}d", f"orders_{n}d", f"gmv_{n}d")
    for n in WINDOWS
]


def _empty_windows() -> dict[str, Any]:
    v: dict[str, Any] = {}
    for ks, ki, kc, ko, kg in _WINDOW_KEYS:
        v.update({ks: 0.0, ki: 0, kc: 0, ko: 0, kg: 0.0})
    v.update(
        add_to_cart_7d=0,
        ctr_7d=None,
        roi_7d=None,
        cvr_7d=None,
        add_to_cart_rate_7d=None,
        days_with_data=0,
    )
    return v


_EMPTY_WINDOWS = _empty_windows()


def _window_values(r: Sequence[Any], i: int, starts: Mapping[int, date]) -> dict[str, Any]:
    """Window fields from the columns `_window_aggregates` produced, starting at index i."""
    last, rows7 = r[i], r[i + 1]
    null_orders, null_gmv, null_atc = r[i + 23 : i + 26]
    i += 2
    v: dict[str, Any] = {}
    s7: float = 0.0
    i7 = c7 = 0
    o7: int | None = 0
    g7: float | None = 0.0
    for n, (ks, ki, kc, ko, kg) in zip(WINDOWS, _WINDOW_KEYS, strict=True):
        start = starts[n]
        if last is None or last < start:  # no rows: nothing was spent
            s, im, c, o, g = 0.0, 0, 0, 0, 0.0
        else:
            spend, impr, clicks, orders, gmv = r[i : i + 5]
            s, im, c = float(spend), int(impr), int(clicks)
            o = None if null_orders is not None and null_orders >= start else int(orders)
            g = None if null_gmv is not None and null_gmv >= start else float(gmv)
        i += 5
        v[ks], v[ki], v[kc], v[ko], v[kg] = s, im, c, o, g
        if n == 7:
            s7, i7, c7, o7, g7 = s, im, c, o, g
    if not rows7:
        a7: int | None = 0
    elif null_atc is not None and null_atc >= starts[7]:
        a7 = None
    else:
        a7 = int(r[i])
    v["add_to_cart_7d"] = a7
    v["ctr_7d"] = c7 / i7 if i7 else None
    v["roi_7d"] = g7 / s7 if s7 and g7 is not None else None
    v["cvr_7d"] = o7 / c7 if c7 and o7 is not None else None
    v["add_to_cart_rate_7d"] = a7 / c7 if c7 and a7 is not None else None
    v["days_with_data"] = int(rows7)
    return v


def _own_account(crow: Any, aweme: str, st: _MerchantSettings | None) -> bool:
    """Known to be the merchant's own account: the creator record says so, or the merchant's
    `own_accounts` setting names its 达人UID or 抖音号. Unknown counts as not own (fail
    closed): real exports carry no 自有账号 column, and a 自营授权 on someone else's account
    is the costliest mistake there is."""
    if crow is not None and crow.is_own_account:
        return True
    if st is None or not st.own_accounts:
        return False
    handle = crow.aweme_show_id if crow is not None else None
    return aweme in st.own_accounts or (handle is not None and handle in st.own_accounts)


def _roi(spend: Any, gmv: Any) -> float | None:
    if not spend or gmv is None:
        return None
    return float(gmv) / float(spend)


def _roi_improving(
    ber: float | None, r0: float | None, r1: float | None, r2: float | None
) -> bool | None:
    """True when the latest day beats each of the two before it and is still below break-even."""
    if ber is None or r0 is None or r1 is None or r2 is None:
        return None
    return r0 > r1 and r0 > r2 and r0 < ber


def _quantile_without(data: Sequence[float], k: int, q: float) -> float | None:
    """`percentile` of sorted `data` with the item at index k left out, without copying."""
    m = len(data) - 1
    if m <= 0:
        return None
    pos = (m - 1) * q
    lo = int(pos)
    hi = min(lo + 1, m - 1)
    a = data[lo] if lo < k else data[lo + 1]
    b = data[hi] if hi < k else data[hi + 1]
    return a + (b - a) * (pos - lo)


class _PoolPeers:
    """One merchant's pool peers (aweme -> (ctr_7d, roi_7d)) and their 20th percentiles.

    A creator is never its own yardstick: a peer's percentiles leave its own values out
    (`pool.peer_count` then counts the others), so a pool of five cannot call its own
    lowest member "below the 20th percentile" just by including it.
    """

    def __init__(self, members: Mapping[str, tuple[float, float]]) -> None:
        self.members = members
        self.ctrs = sorted(c for c, _ in members.values())
        self.rois = sorted(r for _, r in members.values())

    def values_for(self, aweme: str | None) -> dict[str, Any]:
        own = self.members.get(aweme) if aweme is not None else None
        if own is None:
            return {
                "pool.ctr_7d_p20": percentile(self.ctrs, POOL_PERCENTILE),
                "pool.roi_7d_p20": percentile(self.rois, POOL_PERCENTILE),
                "pool.peer_count": len(self.members),
            }
        ctr, roi = own
        return {
            "pool.ctr_7d_p20": _quantile_without(
                self.ctrs, bisect.bisect_left(self.ctrs, ctr), POOL_PERCENTILE
            ),
            "pool.roi_7d_p20": _quantile_without(
                self.rois, bisect.bisect_left(self.rois, roi), POOL_PERCENTILE
            ),
            "pool.peer_count": len(self.members) - 1,
        }


_NO_PEERS = _PoolPeers({})


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile with linear interpolation (numpy's default method); None when empty."""
    if not values:
        return None
    data = sorted(values)
    pos = (len(data) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    frac = pos - lo
    return data[lo] + (data[hi] - data[lo]) * frac


class _CreatorValues:
    """Per-creator pieces computed once and shared by every fact that names the creator."""

    _NAMES = tuple(name for name, *_ in CREATOR_COLUMNS)
    _PREFIXED = tuple(f"creator.{name}" for name in _NAMES)

    def __init__(self, rows: Mapping[str, Any]) -> None:
        self.rows = rows
        self._plain: dict[str, dict[str, Any]] = {}
        self._prefixed: dict[str, dict[str, Any]] = {}
        self._cats: dict[Any, frozenset[str]] = {}
        self._ages: dict[tuple[str, frozenset[str]], float | None] = {}

    def plain(self, aweme: str) -> dict[str, Any]:
        got = self._plain.get(aweme)
        if got is None:
            row = self.rows.get(aweme)
            vals = row[1 : 1 + len(self._NAMES)] if row is not None else (None,) * len(self._NAMES)
            # Float columns come back as float on both backends (SQLite REAL affinity).
            got = self._plain[aweme] = dict(zip(self._NAMES, vals, strict=True))
        return got

    def prefixed(self, aweme: str) -> dict[str, Any]:
        got = self._prefixed.get(aweme)
        if got is None:
            plain = self.plain(aweme)
            got = self._prefixed[aweme] = dict(zip(self._PREFIXED, plain.values(), strict=True))
        return got

    def age_share(self, aweme: str, bands: frozenset[str]) -> float | None:
        """Share of fans in the given (normalized) age bands; None without fan_age_dist."""
        key = (aweme, bands)
        if key in self._ages:
            return self._ages[key]
        dist = _json(self.rows[aweme].fan_age_dist)
        if isinstance(dist, str):  # stored in the import format "18-23:0.1,24-30:0.3"
            dist = _age_text(dist)
        share = None
        if isinstance(dist, dict) and dist:
            share = sum(float(v) for k, v in dist.items() if v is not None and _band(k) in bands)
        self._ages[key] = share
        return share

    def categories(self, aweme: str) -> frozenset[str]:
        raw = self.rows[aweme].categories
        got = self._cats.get(raw)  # keyed by the JSON text: creators share category lists
        if got is None:
            got = self._cats[raw] = frozenset(_category(c) for c in _as_list(_json(raw)))
        return got


_JSON = json.JSONDecoder()


def _json(raw: Any) -> Any:
    """JSON columns are read as text (cheaper than the ORM's per-row decoding), parsed here."""
    if isinstance(raw, str):
        return _JSON.raw_decode(raw.strip())[0]  # raw_decode: no whitespace regexes per call
    return raw


def _audience_match(
    st: _MerchantSettings, male_ratio: float | None, creators: _CreatorValues, aweme: str
) -> float | None:
    """Gender share × share in the target age bands; a factor is 1 when the merchant sets none."""
    share = 1.0
    if st.target_gender is not None:
        if male_ratio is None:
            return None
        share = male_ratio if st.target_gender == "male" else 1.0 - male_ratio
    if st.target_age_bands:
        ages = creators.age_share(aweme, st.target_age_bands)
        if ages is None:
            return None
        share *= ages
    return share


def _category_match(st: _MerchantSettings, cats: frozenset[str]) -> bool | None:
    if not st.categories or not cats:
        return None
    return not st.categories.isdisjoint(cats)


_LIST_SPLIT = re.compile(r"[|、,;，；]")


def _age_text(text: str) -> dict[str, float] | None:
    """'18-23:0.1,24-30:0.3' → {'18-23': 0.1, '24-30': 0.3}; None when it does not parse."""
    out: dict[str, float] = {}
    for item in _LIST_SPLIT.split(text):
        band, sep, share = item.rpartition(":")
        if not sep:
            continue
        try:
            out[band.strip()] = float(share)
        except ValueError:
            return None
    return out or None


def _as_list(value: Any) -> list[str]:
    """Lists from JSON columns or config: a list, or text with | 、 , ; between items."""
    if value is None:
        return []
    items = _LIST_SPLIT.split(value) if isinstance(value, str) else [str(v) for v in value]
    return [s.strip() for s in items if s and s.strip()]


def _as_float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        return float(text[:-1]) / 100 if text.endswith("%") else float(text)
    return float(value)


_GENDERS = {
    "male": "male",
    "m": "male",
    "男": "male",
    "female": "female",
    "f": "female",
    "女": "female",
}


def _gender(value: Any) -> str | None:
    return _GENDERS.get(str(value).strip().lower()) if value else None


@functools.lru_cache(maxsize=4096)
def _band(text: str) -> str:
    """'31-40岁' / '31~40' / '50岁以上' / '50-' → '31-40' / '31-40' / '50+' / '50+'."""
    s = str(text).strip().lower().replace(" ", "").replace("岁", "")
    for dash in ("—", "–", "~", "～", "至"):
        s = s.replace(dash, "-")
    s = s.replace("以上", "+")
    if s.endswith("-"):
        s = s[:-1] + "+"
    return s


def _category(text: str) -> str:
    return str(text).strip().casefold()


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None
