"""Facts of many consecutive days for a backtest (see qcrules.backtest).

Each day's facts are assembled by the facts builder itself (`_Builder.run` and its assembly
and window functions, so a change there flows into backtests); what a day does not need to
read again is shared:

- one read snapshot for the whole backtest;
- records without history — merchants, the pool, creators, grants (kept per day when they
  existed by then, as the builder's `_grant_included` does) — loaded once;
- the metric rows of the range and its longest window, loaded once — per (merchant, creator)
  pair, per grant (attributed by the builder's own `_grant_spans`/`_attributed_join`), per
  creator over all merchants — from which each day's window aggregates are computed in Python,
  in the row layout of `_window_aggregates` that the builder's `_window_values` reads: counts
  from prefix sums, money summed day by day in date order as the database does.

Evaluators remember verdicts across days (`qcrules.engine.memo`), told which fields stayed the
same from one day to the next. `tests/test_backtest.py` checks every day against a fresh build.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from contextlib import ExitStack
from datetime import date, datetime, timedelta
from itertools import accumulate
from typing import Any

from sqlalchemy import select

from qcrules.engine import select_engine
from qcrules.engine.memo import MemoFactory
from qcrules.facts.builders import (
    STREAK_DAYS,
    TREND_DAYS,
    DailyMetric,
    FactSet,
    _Builder,
    _grant_included,
    _reading,
    build_facts,
)
from qcrules.facts.schema import ENTITIES, WINDOWS
from qcrules.facts.values import money
from qcrules.model.tables import PERMANENT_END

M = DailyMetric.__table__.c  # type: ignore[attr-defined]
_LONGEST = max(WINDOWS)


def _by_day(rows: list[Any]) -> list[Any]:
    """A grant's rows with each day's rows summed, in row order, as grant_windows' daily
    subquery does (a count or money unknown on any row is unknown for the day)."""
    out: list[Any] = []
    for r in rows:
        if out and out[-1][0] == r[0]:
            last = out[-1]
            out[-1] = (
                r[0],
                last[1] + r[1],
                *(
                    None if a is None or b is None else a + b
                    for a, b in zip(last[2:], r[2:], strict=True)
                ),
            )
        else:
            out.append(tuple(r))
    return out


class _Series:
    """One key's metric rows in date order (a creator-day may have several), with prefix
    sums for O(log n) windows."""

    __slots__ = ("days", "firsts", "gmv", "ints", "nulls", "spend")

    def __init__(self, rows: list[Any]) -> None:
        # rows: (ordinal, spend, impressions, clicks, orders, gmv, add_to_cart); typed arrays
        # keep an L workspace's range (millions of rows) to a few bytes a value
        days = self.days = array("l", [r[0] for r in rows])
        # rows that start a new day: days are counted, not rows
        self.firsts = array(
            "l",
            accumulate((i == 0 or days[i - 1] != day for i, day in enumerate(days)), initial=0),
        )
        self.spend = array("d", [float(r[1]) for r in rows])
        self.gmv = [r[5] for r in rows]
        # prefix sums of impressions, clicks, orders, add_to_cart; counts of NULL orders,
        # gmv, add_to_cart
        self.ints = [
            array("q", accumulate((r[k] or 0 for r in rows), initial=0)) for k in (2, 3, 4, 6)
        ]
        self.nulls = [
            array("l", accumulate((r[k] is None for r in rows), initial=0)) for k in (4, 5, 6)
        ]

    def aggregates(self, end: int, starts: dict[int, int], dates: dict[int, date]) -> list | None:
        """The `_window_aggregates` columns for the windows ending on `end` (None: no rows)."""
        days = self.days
        j = bisect_right(days, end)
        first = bisect_left(days, starts[_LONGEST], 0, j)
        if first == j:
            return None
        ints, nulls = self.ints, self.nulls
        lo = {n: bisect_left(days, starts[n], first, j) for n in WINDOWS}
        i7 = lo[7]  # days, not rows, of the 7-day window
        shared = i7 > 0 and i7 < j and days[i7 - 1] == days[i7]
        out: list[Any] = [dates[days[j - 1]], self.firsts[j] - self.firsts[i7] + shared]
        for n in WINDOWS:
            i = lo[n]
            if i == j:
                out += [None, None, None, None, None]
                continue
            orders = None if nulls[0][j] - nulls[0][i] == j - i else ints[2][j] - ints[2][i]
            gmv = (
                sum([g for g in self.gmv[i:j] if g is not None])
                if nulls[1][j] - nulls[1][i] < j - i
                else None
            )
            out += [
                sum(self.spend[i:j]),
                ints[0][j] - ints[0][i],
                ints[1][j] - ints[1][i],
                orders,
                gmv,
            ]
        i = lo[7]
        out.append(None if nulls[2][j] - nulls[2][i] == j - i else ints[3][j] - ints[3][i])
        for k in range(3):  # the latest day in the window lacking orders, gmv, add_to_cart
            out.append(self._last_null(k, first, j, dates))
        return out

    def _last_null(self, k: int, first: int, j: int, dates: dict[int, date]) -> date | None:
        nulls = self.nulls[k]
        if nulls[j] == nulls[first]:
            return None
        i = j
        while nulls[i] == nulls[j]:
            i -= 1
        return dates[self.days[i]]

    def grant_tail(self, end: int, ber: float | None, floor: float) -> list[Any]:
        """What grant_windows adds after the windows (its rows one a day, see _by_day): the
        bitmasks of days below break-even, under the spend floor and with rows; spend and
        GMV of the days before `end`; the row and day counts."""
        below = skip = present = 0
        days, spend, gmv = self.days, self.spend, self.gmv
        lo, hi = bisect_left(days, end - STREAK_DAYS + 1), bisect_right(days, end)
        for i in range(lo, hi):  # the streak's test, as grant_windows writes it in SQL
            bit = 1 << (end - days[i])
            s, g = spend[i], gmv[i]
            present |= bit
            if ber is not None and s > 0 and s >= floor and g is not None and g / s < ber:
                below |= bit
            if s < floor:
                skip |= bit
            elif s > 0 and g is None:  # ROI unknown: both bits (see grant_windows)
                below |= bit
                skip |= bit
        out: list[Any] = [below, skip, present]
        for back in range(1, TREND_DAYS):
            i = bisect_left(days, end - back)
            if i < len(days) and days[i] == end - back:
                out += [spend[i], gmv[i]]
            else:
                out += [None, None]
        return [*out, hi - lo, hi - lo]


def _compact(rows: dict[Any, list[Any]], make) -> dict[Any, _Series]:
    """Each key's rows turned into its series, the rows let go as it goes (peak memory)."""
    out: dict[Any, _Series] = {}
    for key in list(rows):
        out[key] = make(rows.pop(key))
    return out


def _existed(grant: Any, as_of: date) -> bool:
    """The builder's `_grant_included` in Python: no first known date after `as_of`."""
    requested, starts = grant.requested_at, grant.starts_at
    if requested is None and starts is None:
        return True
    return (requested is not None and requested <= as_of) or (
        starts is not None and starts <= as_of
    )


class _SharedLoads(_Builder):
    """The builder, reading records without history from loads shared by every day."""

    shared: dict[str, Any]

    def load_merchants(self) -> list[Any]:
        if "merchants" not in self.shared:
            self.shared["merchants"] = super().load_merchants()
        return self.shared["merchants"]

    def load_grants(self) -> list[Any]:
        if "grants" not in self.shared:  # every grant that exists by the last day
            self.shared["grants"] = self._as_of_last(super().load_grants)
        return [g for g in self.shared["grants"] if _existed(g, self.as_of)]

    def load_pool(self) -> list[Any]:
        if "pool" not in self.shared:
            self.shared["pool"] = super().load_pool()
        return self.shared["pool"]

    def load_creators(self) -> dict[str, Any]:
        if "creators" not in self.shared:  # every creator a day may name (a lookup table)
            self.shared["creators"] = self._as_of_last(super().load_creators)
        return self.shared["creators"]

    # -- metric windows from one load of the range ----------------------------------------

    def _metrics(self) -> dict[str, Any]:
        """The range's metric rows, per pair, grant and creator; loaded on the first day
        (again, from earlier, if a later call needs an earlier window start)."""
        earliest = min([self.end, *self.ends.values()])  # a stale merchant's windows end earlier
        lo = (earliest - timedelta(days=_LONGEST - 1)).toordinal()
        got = self.shared.get("metrics")
        if got is not None and got["lo"] <= lo:
            return got
        last = self.shared["last"]
        start = date.fromordinal(lo)
        columns = (M.date, M.spend, M.impressions, M.clicks, M.orders, M.gmv, M.add_to_cart)

        def series(rows: Any, width: int) -> dict[Any, list[Any]]:
            out: dict[Any, list[Any]] = {}
            for r in rows:
                key = r[0] if width == 1 else tuple(r[:width])
                out.setdefault(key, []).append((r[width].toordinal(), *r[width + 1 :]))
            return out

        where = [M.date >= start, M.date <= last]
        pairs = series(
            self.conn.execute(
                select(M.merchant_id, M.aweme_id, *columns)
                .where(*where, *self._where_merchant(M.merchant_id))
                .order_by(M.merchant_id, M.aweme_id, M.date, M.grant_id, M.account_id)
            ),
            2,
        )
        any_rows: dict[int, list[tuple[str, float]]] = {}
        source = (
            self.conn.execute(select(M.aweme_id, M.date, M.spend).where(*where).order_by(M.date))
            if self.merchant_ids is not None
            else sorted(
                ((aweme, d, r[1]) for (_, aweme), rs in pairs.items() for r in rs for d in [r[0]]),
                key=lambda x: x[1],
            )
        )
        for aweme, day, spend in source:
            ordinal = day if isinstance(day, int) else day.toordinal()
            any_rows.setdefault(ordinal, []).append((aweme, float(spend or 0)))
        as_of, included = self.as_of, self.included
        self.as_of, self.included = last, _grant_included(last)
        try:
            settings = {m.merchant_id: self._settings(m) for m in self.load_merchants()}
            spans = self._grant_spans(settings)
            join, owns = self._attributed_join(spans)
            grant_rows = series(
                self.conn.execute(
                    select(spans.c.grant_id, *columns)
                    .select_from(join)
                    .where(*where, owns)
                    .order_by(spans.c.grant_id, M.date, M.grant_id, M.account_id)
                ),
                1,
            )
            after: dict[str, list[tuple[int, float, date]]] = {}
            spans = self._grant_spans(settings)
            join, owns = self._attributed_join(spans)
            for gid, ends, day, spend in self.conn.execute(
                select(spans.c.grant_id, spans.c.ends_at, M.date, M.spend)
                .select_from(join)
                .where(
                    spans.c.ends_at < PERMANENT_END,
                    spans.c.ends_at < last,
                    M.date > spans.c.ends_at,
                    M.date <= last,
                    owns,
                )
                .order_by(spans.c.grant_id, M.date)
            ):
                after.setdefault(gid, []).append((day.toordinal(), float(spend or 0), ends))
        finally:
            self.as_of, self.included = as_of, included
        got = {
            "lo": lo,
            "pairs": _compact(pairs, _Series),
            "grants": _compact(grant_rows, lambda rows: _Series(_by_day(rows))),
            "any": any_rows,
            "after": after,
            "dates": {},
        }
        self.shared["metrics"] = got
        return got

    def shared_grants(self) -> list[Any]:
        self.load_grants()
        return self.shared["grants"]

    def _window_args(
        self, last: date | None = None
    ) -> tuple[dict[str, Any], int, dict[int, int], dict[int, date]]:
        """The loaded rows and the windows ending on `last` (default: the latest end)."""
        data = self._metrics()
        end = (last or self.end).toordinal()
        starts = {n: end - n + 1 for n in WINDOWS}
        dates = data["dates"]
        if end not in dates:
            for k in range(end - _LONGEST - 2, end + 1):
                dates.setdefault(k, date.fromordinal(k))
        return data, end, starts, dates

    def pair_windows(self) -> dict[tuple[str, str], Any]:
        out: dict[tuple[str, str], Any] = {}
        ends: dict[str, Any] = {}
        for key, series in self._metrics()["pairs"].items():
            args = ends.get(key[0])
            if args is None:  # each merchant's windows end at its own newest day
                args = ends[key[0]] = self._window_args(self.end_of(key[0]))
            _, end, starts, dates = args
            row = series.aggregates(end, starts, dates)
            if row is not None:
                out[key] = (*key, *row)
        return out

    def grant_windows(self, settings: Any) -> dict[str, Any]:
        existing = {g.grant_id: g.merchant_id for g in self.load_grants()}
        default_floor, floors = self.floors
        out: dict[str, Any] = {}
        ends: dict[str, Any] = {}
        for gid, series in self._metrics()["grants"].items():
            mid = existing.get(gid)
            if mid is None:
                continue
            args = ends.get(mid)
            if args is None:
                args = ends[mid] = self._window_args(self.end_of(mid))
            _, end, starts, dates = args
            row = series.aggregates(end, starts, dates)
            if row is not None:
                ber = getattr(settings.get(mid), "break_even_roi", None)
                tail = series.grant_tail(end, ber, floors.get(mid, default_floor))
                out[gid] = (gid, *row, *tail)
        return out

    def spend_3d_any(self) -> dict[str, float]:
        data, end, _, _ = self._window_args(self.global_end())
        out: dict[str, float] = {}
        for day in range(end - 2, end + 1):
            for aweme, spend in data["any"].get(day, ()):
                out[aweme] = out.get(aweme, 0) + spend
        return {aweme: money(total) for aweme, total in out.items()}

    def spend_after_end(self, settings: Any) -> dict[str, float]:
        data = self._metrics()
        as_of = self.as_of.toordinal()
        existing = {g.grant_id for g in self.load_grants()}
        out: dict[str, float] = {}
        for gid, rows in data["after"].items():
            if gid not in existing or rows[0][2].toordinal() >= as_of:
                continue
            spent = [spend for day, spend, _ in rows if day <= as_of]
            if spent:
                out[gid] = float(sum(spent))
        return out

    def creator_values(self, creators: Mapping[str, Any]) -> Any:
        """One set of per-creator pieces for every day (creators have no history)."""
        got = self.shared.get("creator_values")
        if got is None or got.rows is not creators:
            got = self.shared["creator_values"] = super().creator_values(creators)
        return got

    def _as_of_last(self, load):
        """A load as the builder makes it as of the backtest's last day."""
        as_of, included = self.as_of, self.included
        self.as_of, self.included = self.shared["last"], _grant_included(self.shared["last"])
        try:
            return load()
        finally:
            self.as_of, self.included = as_of, included


class RollingFacts:
    """The facts of every day from `first` to `last`, with the signature of `build_facts`.

    Use it as a context manager: it holds one read transaction until closed."""

    def __init__(self, db: Any, first: date, last: date) -> None:
        self.db = db
        self.first = first
        self.last = last
        self._stack = ExitStack()
        self._conn: Any = None
        self._builders: dict[tuple, type[_SharedLoads]] = {}
        self._previous: dict[tuple, dict[tuple, dict[str, Any]]] = {}
        self._stable: frozenset[str] | None = None
        self.factory = MemoFactory(select_engine()[1], lambda: self._stable)

    def build_facts(
        self,
        db: Any,
        as_of: date,
        *,
        entities: Iterable[str] = ENTITIES,
        merchant_id: str | None = None,
        exclude_recent_days: int = 0,
        merchant_defaults: Mapping[str, Mapping[str, Any]] | None = None,
        **options: Any,
    ) -> FactSet:
        """`build_facts` for one day of the range (other days: a plain build)."""
        if isinstance(as_of, datetime):
            as_of = as_of.date()
        wanted = frozenset(entities)
        if not (self.first <= as_of <= self.last) or exclude_recent_days < 0:
            return build_facts(
                db,
                as_of,
                entities=wanted,
                merchant_id=merchant_id,
                exclude_recent_days=exclude_recent_days,
                merchant_defaults=merchant_defaults,
                **options,
            )
        if self._conn is None:
            self._conn = self._stack.enter_context(_reading(self.db))
        defaults = merchant_defaults or {}
        scope = (merchant_id, repr(sorted(defaults.items())))
        day_builder = self._builders.get(scope)
        if day_builder is None:
            shared = {"last": self.last}
            day_builder = self._builders[scope] = type(
                "_DayBuilder", (_SharedLoads,), {"shared": shared}
            )
        out = build_facts(
            self._conn,
            as_of,
            entities=wanted,
            merchant_id=merchant_id,
            exclude_recent_days=exclude_recent_days,
            merchant_defaults=merchant_defaults,
            builder_class=day_builder,
            **options,
        )
        self._learn(scope, exclude_recent_days, out)
        return out

    def _learn(self, scope: tuple, shift: int, facts: FactSet) -> None:
        """After two days: the fields whose value did not change for any entity."""
        if self._stable is not None:
            return
        key = (*scope, shift)
        today = {(f.entity_type, f.entity_id, f.merchant_id): f.values for f in facts}
        before = self._previous.get(key)
        self._previous[key] = today
        if before is None:
            return
        changed: set[str] = set()
        names: set[str] = set()
        for ident, values in today.items():
            names.update(values)
            old = before.get(ident)
            if old is None:
                continue
            for name, value in values.items():
                if name not in changed and old.get(name) != value:
                    changed.add(name)
        self._stable = frozenset(names - changed)
        self._previous.clear()

    def close(self) -> None:
        self.factory.close()
        self._stack.close()
        self._conn = None

    def __enter__(self) -> RollingFacts:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
