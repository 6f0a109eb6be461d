"""Per-row helpers of the fact builders: window values, ROI, pool percentiles, creator profile
columns (audience, categories, age bands), plain Python and linear. Kept apart from the SQL
so both the one-day builder and the rolling backtest builder read a row the same way."""

from __future__ import annotations

import bisect
import functools
import json
import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from qcrules.facts.core import STREAK_DAYS
from qcrules.facts.schema import CREATOR_COLUMNS, WINDOWS

# ---------------------------------------------------------------------------------------------
# per-row helpers (plain Python, linear)

if TYPE_CHECKING:
    from qcrules.facts.core import _MerchantSettings

POOL_PERCENTILE = 0.20

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
# a merchant with no metric rows at all: nothing says what was spent (no export imported
# yet), so its windows are unknown — not zero, which rules read as "no spend" (PRM014)
_UNKNOWN_WINDOWS = dict.fromkeys(_EMPTY_WINDOWS)


def money(total: Any) -> float:
    """A summed amount (spend, GMV) on a fixed grid of 1e-6: a float sum depends on the order
    its rows were added in, which PostgreSQL's plans (and a Python rolling sum) do not keep;
    rounded, a build of one merchant, a shard or a backtest day gives the same value as a
    whole evaluation. Amounts come in cents, so the grid never moves a real value."""
    return round(float(total or 0), 6) + 0.0


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
            s, im, c = money(spend), int(impr), int(clicks)
            o = None if null_orders is not None and null_orders >= start else int(orders)
            g = None if null_gmv is not None and null_gmv >= start else money(gmv)
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
        # a creator outside the peers (most of a pool) gets the same values: worked out once
        self._outsider = {
            "pool.ctr_7d_p20": percentile(self.ctrs, POOL_PERCENTILE),
            "pool.roi_7d_p20": percentile(self.rois, POOL_PERCENTILE),
            "pool.peer_count": len(self.members),
        }

    def values_for(self, aweme: str | None) -> dict[str, Any]:
        own = self.members.get(aweme) if aweme is not None else None
        if own is None:
            return self._outsider
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


_N_WINDOW_COLS = 2 + 5 * len(WINDOWS) + 1 + 3


def _streak(below: int, skip: int, present: int, skip_absent: bool) -> int | None:
    """Days below break-even counted back from the window's last day (bit 0). A skipped day
    (spend under the floor; with a floor, also a day without rows) neither counts nor breaks
    the streak; any other day ends it. A day that spent without a GMV (both bits set) ends
    the count there: the days counted before it are certain (a lower bound a rule's `>=`
    can use), and with none counted the streak is unknown — None, so the rule says
    "insufficient data" instead of going silent on an export without 成交金额."""
    n = 0
    for k in range(STREAK_DAYS):
        bit = 1 << k
        if below & bit and skip & bit:
            return n or None
        if below & bit:
            n += 1
        elif not (skip & bit or (skip_absent and not present & bit)):
            break
    return n
