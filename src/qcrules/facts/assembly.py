"""Assembling facts from the builder's loaded rows: one linear Python pass per entity
(creators, grants, merchants), apart from the SQL that loads the rows (`builders._Builder`).
A backtest's builder reuses this assembly day after day."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from qcrules.facts.core import (
    DEAD_STATUSES,
    EVALUATED_POOL_STATUSES,
    PEER_MIN_DAYS,
    STARTED_STATUSES,
    TREND_DAYS,
    Fact,
    FactSet,
    _MerchantSettings,
)
from qcrules.facts.values import (
    _EMPTY_WINDOWS,
    _N_WINDOW_COLS,
    _NO_PEERS,
    _UNKNOWN_WINDOWS,
    _as_float,
    _as_list,
    _audience_match,
    _band,
    _category,
    _category_match,
    _CreatorValues,
    _gender,
    _iso,
    _own_account,
    _PoolPeers,
    _roi,
    _roi_improving,
    _streak,
    _window_values,
    money,
)
from qcrules.model.tables import (
    is_permanent_end,
)


class _Assembly:
    """The assembly half of `builders._Builder` (it supplies the loaded rows and dates)."""

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
        if self.only is not None:
            selected = {k for k in selected if k[1] in self.only}
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
            if row is not None:
                got = _window_values(row, 2, starts)
            else:
                got = _EMPTY_WINDOWS if mid in self.ends else _UNKNOWN_WINDOWS
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
        only = self.only
        for g in grants:
            if only is not None and g.grant_id not in only:
                continue
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
                measured = g.merchant_id in self.ends  # its merchant has metric rows
                values.update(_EMPTY_WINDOWS if measured else _UNKNOWN_WINDOWS)
                values.update(
                    roi_below_break_even_streak=0 if ber is not None and measured else None,
                    roi_improving=None,
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
                recent = [
                    None if x is None else money(x) for x in tail[3 : 3 + 2 * (TREND_DAYS - 1)]
                ]
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
