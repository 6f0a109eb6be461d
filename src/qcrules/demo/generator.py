"""A realistic, deterministic workspace: the demo a newcomer explores and the benchmark sizes.

Why it is built this way:

- Deterministic: one `random.Random` per run seeded from (size, seed), planted scenarios from
  their own fixed streams, explicit timestamps derived from `today`, no set or hash ordering.
  Same seed and `today` give byte-identical rows; every date is relative to `today`.
- Healthy by default: background data sits inside every rule's thresholds with margin (CTR
  3.2–9.5 %, daily ROI 1.03–1.47 × break-even, CVR above the industry, grants of 15/30 days
  ending 5+ days out), so the findings a user sees are the planted ones (`SCENARIOS`) plus the
  few that follow from the data's shape (a qualified `candidate` is always worth adding to the
  pool, SCR012). CTR and ROI are anti-correlated across creators so nobody drifts below both
  pool 20th percentiles (OPT001) by accident.
- Set-based: rows are plain dicts written with one compiled INSERT … ON CONFLICT per table and
  executemany, metrics streamed in chunks, all in one transaction (L: 1.8 M metric rows).
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from qcrules.demo.names import (
    AGE_BANDS,
    DATA_SOURCES,
    PROFILES,
    THEMES,
    MerchantProfile,
    NameBook,
    cooperation_code,
)
from qcrules.model.db import next_data_version, upsert
from qcrules.model.tables import (
    METRIC_KEY,
    PERMANENT_END,
    Creator,
    DailyMetric,
    Grant,
    Merchant,
    PoolMember,
)

__all__ = ["SCENARIOS", "SIZES", "GenerationSummary", "Scenario", "SizeSpec", "generate"]


# ---------------------------------------------------------------------------------------------
# sizes


@dataclass(frozen=True)
class SizeSpec:
    """How big a workspace is (architecture.md § Performance for S, M, L)."""

    name: str
    merchants: int
    creators: int
    grants: int
    days: int
    metric_rows: int | None  # target; None: whatever the grants produce (demo)
    copies: int  # copies of each planted scenario
    hosted_per_merchant: int = 0  # 托管授权 pairs with spend and no grant (demo; others fill)


SIZES: dict[str, SizeSpec] = {
    "demo": SizeSpec("demo", 4, 400, 130, 75, None, 1, hosted_per_merchant=6),
    "S": SizeSpec("S", 1, 1_000, 300, 30, 9_000, 1),
    "M": SizeSpec("M", 5, 20_000, 5_000, 90, 450_000, 20),
    "L": SizeSpec("L", 20, 100_000, 20_000, 90, 1_800_000, 100),
    # 10× L: an agency's 200 merchants (benchmarks on PostgreSQL; `generate.py --size XL`)
    "XL": SizeSpec("XL", 200, 1_000_000, 200_000, 90, 18_000_000, 1_000),
}

METRIC_CHUNK = 20_000
STALE_DAYS = 4  # the `small` merchant's newest metric day is this many days old
TWO_ACCOUNTS = "MON004"  # the planted creator whose rows come from two 千川 accounts


def merchant_roles(n: int) -> list[frozenset[str]]:
    """Which merchant hosts which merchant-level scenario: a backlog of requests (OPT005), no
    permission audit (OPT004), a small pool (OPT002); `main` ones are healthy. One merchant
    (size S) plays every role but `small`: its pool cannot be both small and hold 300 grants."""
    if n == 1:
        return [frozenset({"main", "backlog", "unaudited"})]
    pattern = ("main", "backlog", "unaudited", "small", "main")
    return [frozenset({pattern[i % len(pattern)]}) for i in range(n)]


def merchant_id(i: int) -> str:
    return f"M{i + 1}"


# ---------------------------------------------------------------------------------------------
# planted scenarios


@dataclass(frozen=True)
class _Spec:
    """One planted scenario: a creator (pool member), optionally a grant and metrics."""

    key: str
    entity: str  # creator | grant | merchant: the entity the rules judge
    role: str  # merchant role that hosts it
    planted: str
    rules: tuple[str, ...]
    also: tuple[str, ...] = ()  # rules that follow on a related entity (e.g. the grant's creator)
    creator: Mapping[str, Any] = field(default_factory=dict)
    pool: str = "in_pool"
    # overrides of an active 30-day grant started 20 days ago; None: no grant
    grant: Mapping[str, Any] | None = None
    metrics: Mapping[str, Any] | None = None  # performance overrides; None: no metric rows


_G: dict[str, Any] = {}  # an active grant with all defaults
_HEALTHY: dict[str, Any] = {}  # healthy metrics over the grant's days

_SPECS: tuple[_Spec, ...] = (
    _Spec("SCR001", "creator", "main", "active_fan_ratio 0.45 (< 0.60)", ("SCR001",),
          creator={"active_fan_ratio": 0.45}),
    _Spec("SCR002", "creator", "main", "completion_rate 0.22 (< 0.30)", ("SCR002",),
          creator={"completion_rate": 0.22}),
    _Spec("SCR003", "creator", "backlog", "data_verified false", ("SCR003",),
          creator={"data_verified": False}),
    _Spec("SCR004", "creator", "main",
          "fans mostly outside the merchant's target gender and age bands (audience_match ≈ 0.1)",
          ("SCR004",), creator={"_audience": "mismatch"}),
    _Spec("SCR005", "creator", "unaudited", "categories share none with the merchant's",
          ("SCR005",), creator={"_category": "mismatch"}),
    _Spec("SCR006", "creator", "backlog", "rebate_rate 0.15 (< 0.20)", ("SCR006",),
          creator={"rebate_rate": 0.15}),
    _Spec("SCR007", "creator", "main", "quote_price / avg_gmv_30d = 0.80 (> 0.50)", ("SCR007",),
          creator={"_price_to_gmv": 0.8}),
    _Spec("SCR008", "creator", "unaudited", "accepts_ads false", ("SCR008",),
          creator={"accepts_ads": False}),
    _Spec("SCR009", "creator", "backlog", "accepts_script_changes false", ("SCR009",),
          creator={"accepts_script_changes": False}),
    _Spec("SCR010", "creator", "main", "no cooperation_code, in the pool", ("SCR010",),
          creator={"cooperation_code": None}),
    _Spec("SCR011", "creator", "backlog", "real_name_verified false", ("SCR011",),
          creator={"real_name_verified": False}),
    _Spec("SCR012", "creator", "main", "fully qualified creator still a pool candidate",
          ("SCR012",), pool="candidate"),
    _Spec("PRM001", "grant", "main", "active self_operated (自营) grant on a creator account "
          "the merchant does not own (is_own_account false)", ("PRM001",), grant={"auth_type": "self_operated"},
          metrics=_HEALTHY),
    _Spec("PRM002", "grant", "main", "active grant imported as 永久 (stored as 2099-12-31)",
          ("PRM002",), grant={"start": -40, "duration": None, "ends": PERMANENT_END},
          metrics=_HEALTHY),
    _Spec("PRM002-2099", "grant", "backlog", "active grant ending 2099-12-31 (platform 'unlimited')",
          ("PRM002",), grant={"start": -15, "ends": PERMANENT_END}, metrics=_HEALTHY),
    _Spec("PRM003", "grant", "backlog", "active 90-day grant", ("PRM003",),
          grant={"duration": 90}, metrics=_HEALTHY),
    _Spec("PRM004", "grant", "unaudited", "active grant with scope all_works", ("PRM004",),
          grant={"scope": "all_works"}, metrics=_HEALTHY),
    _Spec("PRM005", "grant", "main", "active grant ending in 2 days, 7-day ROI ≈ 1.25 × break-even",
          ("PRM005",), grant={"start": -27}, metrics=_HEALTHY),
    _Spec("PRM006", "grant", "main", "active grant ending tomorrow, 7-day ROI ≈ 0.8 × break-even "
          "(today above break-even, so no MON004 streak)", ("PRM006",), grant={"start": -28},
          metrics={"ctr": 0.08, "last_roi": (0.78, 0.76, 0.8, 0.75, 0.77, 0.74, 1.08)}),
    _Spec("PRM007", "grant", "main", "grant expired 10 days ago, spend continued until 3 days ago "
          "(no newer grant)", ("PRM007",),
          grant={"status": "expired", "start": -39}, metrics={"span": (-39, -3)}),
    _Spec("PRM008", "grant", "backlog", "requested 6 days ago, not yet confirmed", ("PRM008",),
          grant={"status": "requested", "requested": -6}),
    _Spec("PRM009", "grant", "unaudited", "active grant without an agreement", ("PRM009",),
          grant={"has_agreement": False}, metrics=_HEALTHY),
    _Spec("PRM010", "creator", "main", "托管授权 on, never authorized by this merchant, no spend",
          ("PRM010",), creator={"hosted_auth_enabled": True}),
    _Spec("PRM011", "grant", "backlog", "draft grant for a creator with no cooperation code",
          ("PRM011",), also=("SCR010",), creator={"cooperation_code": None},
          grant={"status": "draft", "start": 0}),
    _Spec("PRM012", "grant", "main", "active grant the creator asked to end (revoke_requested)",
          ("PRM012",), grant={"revoke_requested": True}, metrics=_HEALTHY),
    _Spec("PRM013", "grant", "unaudited", "active grant of a creator with a serious violation",
          ("PRM013",), also=("SCR011",), creator={"serious_violation": True}, grant=_G,
          metrics=_HEALTHY),
    _Spec("PRM014", "grant", "main", "active for 20 days, no spend in the last 8", ("PRM014",),
          grant=_G, metrics={"span": (-20, -9)}),
    _Spec("MON001", "grant", "main", "7-day CTR ≈ 25 % (> 20 %)", ("MON001",), grant=_G,
          metrics={"ctr": 0.25, "ctr_band": (0.22, 0.28), "base": 8_000}),
    _Spec("MON002", "grant", "main", "7-day CTR ≈ 0.6 % (< 1 %), old-fan orders ≈ 70 %",
          ("MON002",), grant=_G,
          metrics={"ctr": 0.006, "ctr_band": (0.005, 0.008), "roi": 1.38, "old_fan": 0.7}),
    _Spec("MON003", "grant", "backlog", "7-day CTR ≈ 1.8 % (1 %–3 %)", ("MON003",), grant=_G,
          metrics={"ctr": 0.018, "ctr_band": (0.015, 0.022), "roi": 1.35}),
    _Spec("MON004", "grant", "main", "daily ROI below break-even the last 4 days and falling "
          "(not improving)", ("MON004",), grant=_G,
          metrics={"ctr": 0.08, "last_roi": (1.15, 1.12, 1.08, 0.92, 0.86, 0.82, 0.79)}),
    _Spec("MON005", "grant", "unaudited", "7-day CVR ≈ half the merchant's industry_cvr",
          ("MON005",), grant=_G, metrics={"cvr_mult": 0.5}),
    _Spec("MON006", "grant", "backlog", "7-day add-to-cart rate ≈ 1 % (< 2 %)", ("MON006",),
          grant=_G, metrics={"atc": 0.01}),
    _Spec("GUARD", "grant", "main", "active grant with only 1 day of data: the monitoring guard "
          "fails (insufficient data, no finding)", (), grant={"start": -1}, metrics=_HEALTHY),
    _Spec("OPT001", "creator", "main", "in-pool creator, 7-day CTR ≈ 3.3 % and ROI ≈ 0.93 × "
          "break-even: both below the pool's 20th percentiles, and losing money (one day at "
          "break-even, so no MON004 streak)", ("OPT001",), grant=_G,
          metrics={"ctr": 0.033, "ctr_band": (0.0315, 0.0345), "roi": 0.93,
                   "last_roi": (0.9, 0.92, 0.88, 0.95, 0.9, 1.04, 0.93)}),
    _Spec("OPT002", "merchant", "small", "merchant with 7 creators in its pool", ("OPT002",)),
    _Spec("OPT003", "creator", "main", "in-pool creator with 7-day ROI ≈ 1.8 × break-even",
          ("OPT003",), grant=_G, metrics={"roi": 1.8, "roi_band": (1.7, 1.9)}),
    _Spec("OPT004", "merchant", "unaudited", "merchant never permission-audited (created 120 days "
          "ago)", ("OPT004",)),
    _Spec("OPT005", "merchant", "backlog", "merchant with 9 grants in status requested",
          ("OPT005",)),
    _Spec("QCR003", "merchant", "small", f"merchant whose newest metrics are {STALE_DAYS} days old",
          ("QCR003",)),
)  # fmt: skip


@dataclass(frozen=True)
class Scenario:
    """Where a planted scenario lives in the demo workspace (copy 0), for tests and docs."""

    key: str
    rules: tuple[str, ...]  # rules that fire on `entity_id` (empty: the guard case)
    entity_type: str
    entity_id: str
    merchant_id: str
    planted: str
    aweme_id: str | None = None
    grant_id: str | None = None
    also: tuple[str, ...] = ()  # rules that follow on the creator of the planted grant


def _planted_aweme(key: str, copy: int) -> str:
    """A fixed, realistic-looking 18-digit 达人UID: the same for every seed."""
    digest = hashlib.sha256(f"qcrules-demo:{key}:{copy}".encode()).hexdigest()
    return str(10**17 + int(digest, 16) % (9 * 10**17))


def _planted_grant_id(index: int, copy: int) -> str:
    return f"G-9{index:02d}{copy:03d}"


def _scenario_merchant(spec: _Spec, copy: int, roles: Sequence[frozenset[str]]) -> int:
    """Copies of a scenario go round-robin over the merchants with its role."""
    hosts = [i for i, r in enumerate(roles) if spec.role in r]
    if not hosts:
        hosts = [i for i, r in enumerate(roles) if "small" not in r]
    return hosts[copy % len(hosts)]


def _build_scenarios() -> dict[str, Scenario]:
    roles = merchant_roles(SIZES["demo"].merchants)
    out: dict[str, Scenario] = {}
    for idx, spec in enumerate(_SPECS):
        m = merchant_id(_scenario_merchant(spec, 0, roles))
        aweme = None if spec.entity == "merchant" else _planted_aweme(spec.key, 0)
        gid = _planted_grant_id(idx, 0) if spec.grant is not None else None
        entity_id = {"merchant": m, "creator": aweme, "grant": gid}[spec.entity]
        assert entity_id is not None
        out[spec.key] = Scenario(
            spec.key, spec.rules, spec.entity, entity_id, m, spec.planted, aweme, gid, spec.also
        )
    return out


SCENARIOS: dict[str, Scenario] = _build_scenarios()


# ---------------------------------------------------------------------------------------------
# summary


@dataclass(frozen=True)
class GenerationSummary:
    """What `generate` wrote: counts per table and the planted entities of every copy."""

    size: str
    seed: int
    today: date
    first_metric_day: date
    counts: dict[str, int]
    planted: dict[str, tuple[str, ...]]  # scenario key -> entity ids (copy 0 first)
    last_metric_day: date | None = None  # yesterday: 千川 settles a day the next morning

    def lines(self) -> list[str]:
        head = f"size {self.size}, seed {self.seed}, today {self.today.isoformat()}"
        last = self.last_metric_day or self.today
        head += f", metrics {self.first_metric_day.isoformat()} … {last.isoformat()}"
        return [head] + [f"  {name:<10} {n:>10,}" for name, n in self.counts.items()]


# ---------------------------------------------------------------------------------------------
# performance of one (merchant, creator) pair


@dataclass(frozen=True)
class _Perf:
    """Daily delivery of a pair. Ratios are of the merchant's break-even ROI / industry CVR."""

    ctr: float
    roi: float
    cvr_mult: float
    atc: float
    base: float  # impressions on an ordinary day
    cpm: float  # yuan per 1000 impressions
    trend: str  # stable | improving | declining | spiky
    old_fan: float
    ctr_band: tuple[float, float] = (0.032, 0.095)
    roi_band: tuple[float, float] = (1.03, 1.47)
    last_roi: tuple[float, ...] = ()  # exact daily ROI multiples for the last days (today last)
    floor_counts: bool = False  # round orders / add-to-cart down (planted low rates)
    null_rate: float = 0.0  # share of rows written without grant_id (attribution)


_TRENDS = ("stable", "stable", "improving", "declining", "spiky")


def _healthy_perf(rng: random.Random, null_rate: float) -> _Perf:
    """Inside every monitoring band; CTR up means ROI down (no accidental OPT001/OPT003)."""
    q = rng.random()
    return _Perf(
        ctr=0.036 + 0.05 * q,
        roi=1.40 - 0.28 * q,
        cvr_mult=rng.uniform(1.3, 2.0),
        atc=rng.uniform(0.05, 0.12),
        base=min(120_000.0, max(2_500.0, rng.lognormvariate(math.log(12_000), 0.8))),
        cpm=rng.uniform(22, 55),
        trend=rng.choice(_TRENDS),
        old_fan=rng.uniform(0.08, 0.3),
        null_rate=null_rate,
    )


def _planted_perf(rng: random.Random, over: Mapping[str, Any]) -> _Perf:
    atc, cvr_mult = over.get("atc", 0.08), over.get("cvr_mult", 1.5)
    return _Perf(
        ctr=over.get("ctr", 0.06),
        roi=over.get("roi", 1.25),
        cvr_mult=cvr_mult,
        atc=atc,
        base=float(over.get("base", 20_000)),
        cpm=rng.uniform(30, 45),
        trend="stable",
        old_fan=over.get("old_fan", rng.uniform(0.1, 0.25)),
        ctr_band=over.get("ctr_band", (0.045, 0.09)),
        roi_band=over.get("roi_band", (1.1, 1.45)),
        last_roi=tuple(over.get("last_roi", ())),
        floor_counts=atc < 0.02 or cvr_mult < 1,
    )


@dataclass
class _Pair:
    """Metric days of one (merchant, creator): inclusive date segments and their grant."""

    merchant: int
    aweme_id: str
    segments: list[tuple[date, date, str | None]]
    perf: _Perf

    def rows(self, first: date, today: date) -> int:
        return sum(max(0, (min(e, today) - max(s, first)).days + 1) for s, e, _ in self.segments)


# ---------------------------------------------------------------------------------------------
# the generator


def generate(
    db: Any, *, size: str = "demo", seed: int = 7, today: date | None = None
) -> GenerationSummary:
    """Fill a (fresh) workspace database with the data set of `size`, in one transaction.

    Re-running with the same arguments rewrites the same rows (upsert); into a database that
    already holds other data it only adds and overwrites, it never deletes.
    """
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; expected one of {', '.join(SIZES)}")
    spec = SIZES[size]
    today = today or date.today()
    gen = _Generator(spec, seed, today)
    gen.plan()
    with db.begin() as conn:
        upsert(conn, Merchant, gen.merchants, ["merchant_id"])
        upsert(conn, Creator, gen.creators, ["aweme_id"])
        upsert(conn, PoolMember, gen.pool, ["merchant_id", "aweme_id"])
        upsert(conn, Grant, gen.grants, ["grant_id"])
        n_metrics = 0
        for chunk in gen.metric_chunks(METRIC_CHUNK):
            upsert(conn, DailyMetric, chunk, METRIC_KEY)
            n_metrics += len(chunk)
        next_data_version(conn)
    counts = {
        "merchants": len(gen.merchants),
        "creators": len(gen.creators),
        "pool": len(gen.pool),
        "grants": len(gen.grants),
        "metrics": n_metrics,
    }
    planted = {k: tuple(v) for k, v in gen.planted.items()}
    return GenerationSummary(
        size, seed, today, gen.first_day, counts, planted, gen.last_metric_day()
    )


def _stamp(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour, 0), tzinfo=UTC)


class _Generator:
    """Plans every record in memory (metrics excepted: streamed), deterministically."""

    def __init__(self, spec: SizeSpec, seed: int, today: date) -> None:
        self.spec = spec
        self.seed = seed
        self.today = today
        self.first_day = today - timedelta(days=spec.days)  # `days` days, up to yesterday
        self.rng = random.Random(f"qcrules-demo:{spec.name}:{seed}")
        self.roles = merchant_roles(spec.merchants)
        # as on a real morning: 千川 settles a day the next morning, so data ends yesterday;
        # the `small` merchant has not imported for 4 days (stale metrics, QCR003)
        self.last_days = {
            i: today - timedelta(days=STALE_DAYS if roles == {"small"} else 1)
            for i, roles in enumerate(self.roles)
        }
        # the `unaudited` merchant's exports lack the optional columns (加购, 转化数, 老粉占比)
        self.lean = {i for i, roles in enumerate(self.roles) if roles == {"unaudited"}}
        self.accounts: dict[int, str] = {}  # 千川 account of merchants whose exports name it
        self.two_accounts = _planted_aweme(TWO_ACCOUNTS, 0)
        self.profiles: list[MerchantProfile] = [
            PROFILES[i % len(PROFILES)] for i in range(spec.merchants)
        ]
        self.names = NameBook()
        self.merchants: list[dict[str, Any]] = []
        self.creators: list[dict[str, Any]] = []
        self.creator_by_id: dict[str, dict[str, Any]] = {}
        self.pool: list[dict[str, Any]] = []
        self.grants: list[dict[str, Any]] = []
        self.pairs: list[_Pair] = []
        self.planted: dict[str, list[str]] = {}
        self._grant_seq = 0
        self._own_accounts: dict[int, str] = {}

    def day(self, offset: int) -> date:
        return self.today + timedelta(days=offset)

    # -- plan --------------------------------------------------------------------------------

    def plan(self) -> None:
        self._plan_merchants()
        self._plan_planted()
        free = self._plan_background_creators()
        self._plan_background_grants(free)
        self._plan_hosted(free)

    def _plan_merchants(self) -> None:
        created = _stamp(self.day(-120), 9)
        for i, (prof, roles) in enumerate(zip(self.profiles, self.roles, strict=True)):
            advertiser = str(self.rng.randrange(10**15, 10**16))
            if "main" in roles:
                self.accounts[i] = advertiser
            if "unaudited" in roles:
                # never audited (OPT004 counts from creation); every other one 12 days ago
                audit = None if (i // 5) % 2 == 0 else self.day(-12)
            elif "backlog" in roles:
                audit = self.day(-5)
            else:
                audit = self.day(-(1 + i % 4))
            self.merchants.append(
                {
                    "merchant_id": merchant_id(i),
                    "name": prof.names[(i // len(PROFILES)) % len(prof.names)],
                    "advertiser_id": advertiser,
                    "shop_id": str(self.rng.randrange(10**7, 10**8)),
                    "break_even_roi": prof.break_even_roi,
                    "target_gender": prof.target_gender,
                    "target_age_bands": list(prof.target_age_bands),
                    "categories": list(prof.categories),
                    "industry_cvr": prof.industry_cvr,
                    "goal": prof.goal,
                    "last_permission_audit": audit,
                    "created_at": created,
                    "updated_at": created,
                }
            )

    # -- creators ----------------------------------------------------------------------------

    def _new_creator(
        self,
        rng: random.Random,
        aweme_id: str,
        theme: str,
        profile: MerchantProfile | None,
        *,
        qualified: bool = True,
    ) -> dict[str, Any]:
        """A creator record; `qualified` ones pass every screening rule for `profile`."""
        nick, pinyin = self.names.nickname(rng, theme)
        male, ages = _fan_mix(rng, profile)
        fans = int(min(8_000_000, max(1_000, rng.lognormvariate(math.log(60_000), 1.3))))
        quote = max(200.0, round(fans * rng.uniform(0.02, 0.06), -2))
        cats = THEMES[theme][1]
        categories = [cats[0], *rng.sample(cats[1:], k=rng.randint(0, len(cats) - 1))]
        if profile is not None and not set(categories) & set(profile.categories):
            categories.insert(0, profile.categories[0])
        ok = qualified
        row = {
            "aweme_id": aweme_id,
            "aweme_show_id": self.names.show_id(rng, pinyin),
            "nickname": nick,
            "fans_count": fans,
            "active_fan_ratio": round(rng.uniform(0.62, 0.9) if ok else rng.uniform(0.3, 0.58), 3),
            "completion_rate": round(rng.uniform(0.31, 0.6) if ok else rng.uniform(0.12, 0.45), 3),
            "interaction_rate": round(rng.uniform(0.02, 0.12), 3),
            "fan_male_ratio": male,
            "fan_age_dist": ages,
            "categories": categories,
            "reputation_score": round(rng.uniform(4.2, 4.95), 2),
            "quote_price": quote,
            "avg_gmv_30d": round(quote / rng.uniform(0.08, 0.45), -1),
            "rebate_rate": round(rng.uniform(0.2, 0.35) if ok else rng.uniform(0.15, 0.35), 3),
            "commission_rate": round(rng.uniform(0.1, 0.3), 2),
            "accepts_ads": True if ok else rng.random() < 0.8,
            "accepts_script_changes": True if ok else rng.random() < 0.7,
            "hosted_auth_enabled": False,
            "data_verified": True if ok else rng.random() < 0.6,
            "real_name_verified": True,
            "serious_violation": False,
            "cooperation_code": cooperation_code(rng) if ok or rng.random() < 0.6 else None,
            "is_own_account": False,
            "data_source": rng.choice(DATA_SOURCES),
            "created_at": _stamp(self.day(-rng.randint(60, 400)), 8),
        }
        row["updated_at"] = row["created_at"]
        return row

    def _add_creator(self, row: dict[str, Any]) -> dict[str, Any]:
        if row["aweme_id"] in self.creator_by_id:
            raise RuntimeError(f"duplicate aweme_id {row['aweme_id']}")  # cannot happen
        self.creators.append(row)
        self.creator_by_id[row["aweme_id"]] = row
        return row

    def _background_aweme(self) -> str:
        while True:
            aweme = str(self.rng.randrange(10**16, 10**19))
            if aweme not in self.creator_by_id:
                return aweme

    def _add_pool(self, m: int, aweme: str, status: str, rng: random.Random) -> None:
        note = None
        if status == "candidate":
            note = "电商罗盘高转化人群筛选，待确认入池"
        elif status == "excluded":
            note = rng.choice(("活跃粉丝占比不足", "完播率偏低", "数据真实性存疑", "不配合投流"))
        added = self.day(-rng.randint(3, 200) if status != "candidate" else -rng.randint(0, 5))
        self.pool.append(
            {
                "merchant_id": merchant_id(m),
                "aweme_id": aweme,
                "status": status,
                "added_at": added,
                "note": note,
                "updated_at": _stamp(added, 11),
            }
        )

    def _plan_background_creators(self) -> dict[int, list[str]]:
        """Creators not planted: own accounts, pool members per merchant, the unaffiliated rest.

        Returns the in-pool creators of each merchant that are still free for grants.
        """
        rng, spec = self.rng, self.spec
        free: dict[int, list[str]] = {i: [] for i in range(spec.merchants)}
        small = [i for i, r in enumerate(self.roles) if "small" in r]
        big = [i for i in range(spec.merchants) if i not in small]
        for i in big:  # the shop's own account (店播号): self-operated or official grants
            prof = self.profiles[i]
            row = self._new_creator(rng, self._background_aweme(), prof.theme, prof)
            row["nickname"] = self.names.reserve(f"{prof.short}官方旗舰号")
            row["is_own_account"] = True
            row["fans_count"] = max(row["fans_count"], 200_000)
            row["quote_price"] = 0.0
            row["avg_gmv_30d"] = round(rng.uniform(200_000, 900_000), -2)
            row["rebate_rate"] = 0.2
            self._add_creator(row)
            self._add_pool(i, row["aweme_id"], "in_pool", rng)
            self._own_accounts[i] = row["aweme_id"]
        remaining = spec.creators - len(self.creators)
        if remaining < 0:
            raise ValueError(f"size {spec.name}: more planted creators than creators")
        affiliated = int(remaining * 0.75)
        per_small = 9
        n_small = min(len(small), affiliated // per_small)
        pool_big = affiliated - n_small * per_small
        weights = [rng.uniform(0.85, 1.15) for _ in big]
        total_w = sum(weights)
        shares = [int(pool_big * w / total_w) for w in weights]
        plan: list[tuple[int, str]] = []
        for i, n in zip(big, shares, strict=True):
            n_cand = max(1, round(n * 0.02))
            n_excl = round(n * 0.08)
            plan += [(i, "candidate")] * n_cand + [(i, "excluded")] * n_excl
            plan += [(i, "in_pool")] * (n - n_cand - n_excl)
        for i in small[:n_small]:
            plan += [(i, "in_pool")] * 7 + [(i, "excluded")] * 2
        for i, status in plan:
            prof = self.profiles[i]
            theme = prof.theme if rng.random() < 0.8 else _related_theme(rng, prof)
            row = self._new_creator(
                rng, self._background_aweme(), theme, prof, qualified=status != "excluded"
            )
            self._add_creator(row)
            self._add_pool(i, row["aweme_id"], status, rng)
            if status == "in_pool":
                free[i].append(row["aweme_id"])
        while len(self.creators) < spec.creators:  # the library: found, not (yet) in any pool
            theme = rng.choice(list(THEMES))
            row = self._new_creator(
                rng, self._background_aweme(), theme, None, qualified=rng.random() < 0.7
            )
            self._add_creator(row)
        for i in free:
            rng.shuffle(free[i])
        return free

    # -- planted -----------------------------------------------------------------------------

    def _plan_planted(self) -> None:
        for copy in range(self.spec.copies):
            for idx, spec in enumerate(_SPECS):
                m = _scenario_merchant(spec, copy, self.roles)
                if spec.entity == "merchant":
                    if copy == 0:
                        hosts = [merchant_id(i) for i, r in enumerate(self.roles) if spec.role in r]
                        self.planted[spec.key] = hosts
                    continue
                self._plant(idx, spec, copy, m)

    def _plant(self, idx: int, spec: _Spec, copy: int, m: int) -> None:
        rng = random.Random(f"qcrules-demo:planted:{spec.key}:{copy}")
        prof = self.profiles[m]
        aweme = _planted_aweme(spec.key, copy)
        over = dict(spec.creator)
        theme = prof.theme
        if over.pop("_category", None):
            theme = next(
                t for t, (_, cats) in THEMES.items() if not set(cats) & set(prof.categories)
            )
        row = self._new_creator(rng, aweme, theme, prof)
        if theme != prof.theme:
            row["categories"] = list(THEMES[theme][1])
        if over.pop("_audience", None):
            row["fan_male_ratio"], row["fan_age_dist"] = _mismatched_fans(prof)
        ratio = over.pop("_price_to_gmv", None)
        if ratio is not None:
            row["quote_price"] = round(row["avg_gmv_30d"] * ratio, -1)
        row.update(over)
        self._add_creator(row)
        self._add_pool(m, aweme, spec.pool, rng)
        gid = None
        if spec.grant is not None:
            gid = _planted_grant_id(idx, copy)
            g = {"start": -20, "duration": 30, "status": "active", **spec.grant}
            status = g["status"]
            duration = g["duration"]
            if status == "requested":
                requested = self.day(g["requested"])
                starts = None
                ends = requested + timedelta(days=duration - 1)
            else:
                starts = self.day(g["start"])
                requested = starts - timedelta(days=1)
                ends = None if duration is None else starts + timedelta(days=duration - 1)
                ends = g.get("ends", ends)
            self.grants.append(
                self._grant_row(
                    gid,
                    m,
                    aweme,
                    status=status,
                    requested=requested,
                    starts=starts,
                    ends=ends,
                    auth_type=g.get("auth_type", "cooperative"),
                    scope=g.get("scope", "single_video"),
                    channel="pc",
                    has_agreement=g.get("has_agreement", True),
                    revoke_requested=g.get("revoke_requested", False),
                    rng=rng,
                )
            )
            if spec.metrics is not None:
                lo, hi = spec.metrics.get("span", (g["start"], 0))
                perf = _planted_perf(rng, spec.metrics)
                self.pairs.append(_Pair(m, aweme, [(self.day(lo), self.day(hi), gid)], perf))
        entity = {"creator": aweme, "grant": gid}[spec.entity]
        assert entity is not None
        self.planted.setdefault(spec.key, []).append(entity)

    # -- grants ------------------------------------------------------------------------------

    def _next_grant_id(self) -> str:
        self._grant_seq += 1
        return f"G-{self._grant_seq:06d}"

    def _grant_row(
        self,
        gid: str,
        m: int,
        aweme: str,
        *,
        status: str,
        requested: date | None,
        starts: date | None,
        ends: date | None,
        rng: random.Random,
        auth_type: str = "cooperative",
        scope: str | None = None,
        channel: str | None = None,
        has_agreement: bool = True,
        revoke_requested: bool = False,
        renewal_of: str | None = None,
        note: str | None = None,
    ) -> dict[str, Any]:
        if scope is None:  # one draw, so the rest of the demo stays as it was
            r = rng.random()
            scope = "single_video" if r < 0.6 else "account" if r >= 0.95 else "live_room"
        if channel is None:
            r = rng.random()
            channel = "pc" if r < 0.6 else "mobile_pre_order" if r < 0.85 else "mobile_at_order"
        video = (
            str(rng.randrange(7_000_000_000_000_000_000, 7_600_000_000_000_000_000))
            if scope == "single_video"
            else None
        )
        created = _stamp(requested or starts or self.today, 10)
        return {
            "grant_id": gid,
            "merchant_id": merchant_id(m),
            "aweme_id": aweme,
            "auth_type": auth_type,
            "scope": scope,
            "video_id": video,
            "channel": channel,
            "status": status,
            "requested_at": requested,
            "starts_at": starts,
            "ends_at": ends,
            "revoke_requested": revoke_requested,
            "has_agreement": has_agreement,
            "renewal_of": renewal_of,
            "proposed_ends_at": None,
            "proposed_scope": None,
            "note": note,
            "created_at": created,
            "updated_at": created,
        }

    def _plan_background_grants(self, free: dict[int, list[str]]) -> None:
        """Spread the remaining grant budget over merchants as realistic pair histories."""
        spec = self.spec
        budget = spec.grants - len(self.grants)
        small = [i for i, r in enumerate(self.roles) if "small" in r]
        big = [i for i in range(spec.merchants) if i not in small]
        alloc: dict[int, int] = {}
        for i in small:
            alloc[i] = min(3, len(free[i]) // 2, budget)
            budget -= alloc[i]
        total_free = sum(len(free[i]) for i in big) or 1
        for n, i in enumerate(big):
            alloc[i] = (
                budget - sum(alloc[j] for j in big[:n])
                if n == len(big) - 1
                else round(budget * len(free[i]) / total_free)
            )
        for i in range(spec.merchants):
            self._merchant_grants(i, alloc[i], free[i])

    def _merchant_grants(self, m: int, budget: int, free: list[str]) -> None:
        rng = self.rng
        roles = self.roles[m]
        null_rate = 0.05
        if m in self._own_accounts and budget >= 3:
            auth = "self_operated" if m % 2 == 0 else "official"
            budget -= self._chain(
                m, self._own_accounts[m], budget, rng, null_rate, auth, "live_room"
            )
        n_requested = 7 if "backlog" in roles else 0 if "small" in roles else 2
        for _ in range(min(n_requested, budget)):
            if not free:
                return
            aweme = free.pop()
            requested = self.day(-rng.randint(0, 2))
            d = 30 if rng.random() < 0.7 else 15
            self.grants.append(
                self._grant_row(
                    self._next_grant_id(),
                    m,
                    aweme,
                    status="requested",
                    requested=requested,
                    starts=None,
                    ends=requested + timedelta(days=d - 1),
                    rng=rng,
                    note="已发送授权申请，等待达人确认",
                )
            )
            budget -= 1
        kinds = ("chain", "single", "expired", "revoked", "rejected", "draft")
        weights = (0.34, 0.26, 0.18, 0.08, 0.07, 0.07)
        while budget > 0 and free:
            kind = rng.choices(kinds, weights)[0]
            aweme = free.pop()
            if kind == "chain":
                budget -= self._chain(m, aweme, budget, rng, null_rate)
            else:
                self._single(m, aweme, kind, rng, null_rate)
                budget -= 1

    def _chain(
        self,
        m: int,
        aweme: str,
        budget: int,
        rng: random.Random,
        null_rate: float,
        auth_type: str = "cooperative",
        scope: str | None = None,
    ) -> int:
        """Renewed grants back to back, the last one active: a long-running partner."""
        d = 30 if rng.random() < 0.7 else 15
        start = self.day(-rng.randint(1, d - 6))
        history = rng.randint(self.spec.days // 2, self.spec.days + d)
        starts = [start]
        while len(starts) < budget and (self.today - starts[-1]).days + d <= history:
            starts.append(starts[-1] - timedelta(days=d))
        starts.reverse()
        scope = scope or ("single_video" if rng.random() < 0.6 else "live_room")
        channel = "pc" if rng.random() < 0.7 else "mobile_pre_order"
        prev = None
        segments: list[tuple[date, date, str | None]] = []
        for k, s in enumerate(starts):
            gid = self._next_grant_id()
            last = k == len(starts) - 1
            e = s + timedelta(days=d - 1)
            self.grants.append(
                self._grant_row(
                    gid,
                    m,
                    aweme,
                    status="active" if last else "expired",
                    requested=s - timedelta(days=rng.randint(1, 3)),
                    starts=s,
                    ends=e,
                    rng=rng,
                    auth_type=auth_type,
                    scope=scope,
                    channel=channel,
                    renewal_of=prev,
                    note="到期前续期" if prev else None,
                )
            )
            segments.append((s, min(e, self.today), gid))
            prev = gid
        self._hosted_maybe(aweme, rng)
        self.pairs.append(_Pair(m, aweme, segments, _healthy_perf(rng, null_rate)))
        return len(starts)

    def _single(self, m: int, aweme: str, kind: str, rng: random.Random, null_rate: float) -> None:
        d = 30 if rng.random() < 0.7 else 15
        gid = self._next_grant_id()
        days = self.spec.days
        seg: tuple[date, date] | None = None
        note = None
        has_agreement = True
        if kind == "single":
            starts = self.day(-rng.randint(3, d - 6))
            requested: date | None = starts - timedelta(days=rng.randint(1, 3))
            ends = starts + timedelta(days=d - 1)
            status = "active"
            seg = (starts, self.today)
        elif kind == "expired":
            ends = self.day(-rng.randint(1, max(1, days - d)))
            starts = ends - timedelta(days=d - 1)
            requested = starts - timedelta(days=rng.randint(1, 3))
            status = "expired"
            seg = (starts, ends)
            note = "到期未续"
        elif kind == "revoked":
            starts = self.day(-rng.randint(12, max(12, days - 5)))
            requested = starts - timedelta(days=rng.randint(1, 3))
            ends = starts + timedelta(days=d - 1)
            stop = starts + timedelta(days=rng.randint(4, 10))
            status = "revoked"
            seg = (starts, stop)
            note = f"{stop.isoformat()} " + rng.choice(
                ("效果不佳，提前解除授权", "达人配合度下降，提前解除", "合作调整，双方协商解除")
            )
        elif kind == "rejected":
            requested = self.day(-rng.randint(4, max(4, days - 5)))
            starts, ends = None, requested + timedelta(days=d - 1)
            status = "rejected"
            note = "达人拒绝授权"
        else:  # draft: prepared, not sent
            requested, starts = None, self.day(-rng.randint(0, 2))
            ends = starts + timedelta(days=d - 1)
            status = "draft"
            has_agreement = rng.random() < 0.5
            note = "待发送"
        self.grants.append(
            self._grant_row(
                gid,
                m,
                aweme,
                status=status,
                requested=requested,
                starts=starts,
                ends=ends,
                rng=rng,
                has_agreement=has_agreement,
                note=note,
            )
        )
        if seg is not None:
            if status == "active":
                self._hosted_maybe(aweme, rng)
            self.pairs.append(
                _Pair(m, aweme, [(seg[0], seg[1], gid)], _healthy_perf(rng, null_rate))
            )

    def _hosted_maybe(self, aweme: str, rng: random.Random) -> None:
        """Some running partners also switched on 托管授权 (harmless: they were authorized)."""
        if rng.random() < 0.15:
            self.creator_by_id[aweme]["hosted_auth_enabled"] = True

    def _plan_hosted(self, free: dict[int, list[str]]) -> None:
        """托管授权 pairs: spend every day with no grant (grant_id NULL), seed 二.2 特殊说明.

        In S/M/L they also bring the metric rows up to the size's target.
        """
        spec, rng = self.spec, self.rng
        big = [i for i, r in enumerate(self.roles) if "small" not in r]
        if spec.metric_rows is None:
            wanted = {i: spec.hosted_per_merchant for i in big}
        else:
            have = sum(p.rows(self.first_day, self.last_days[p.merchant]) for p in self.pairs)
            n = max(0, round((spec.metric_rows - have) / spec.days))
            total_free = sum(len(free[i]) for i in big) or 1
            wanted = {i: round(n * len(free[i]) / total_free) for i in big}
        for i in big:
            for _ in range(min(wanted[i], len(free[i]))):
                aweme = free[i].pop()
                self.creator_by_id[aweme]["hosted_auth_enabled"] = True
                perf = _healthy_perf(rng, 1.0)
                self.pairs.append(_Pair(i, aweme, [(self.first_day, self.today, None)], perf))

    # -- metrics -----------------------------------------------------------------------------

    def metric_chunks(self, size: int) -> Iterator[list[dict[str, Any]]]:
        """Metric rows pair by pair, in chunks: L never holds 1.8 M dicts at once."""
        buf: list[dict[str, Any]] = []
        for pair in self.pairs:
            buf.extend(self._pair_rows(pair))
            if len(buf) >= size:
                yield buf
                buf = []
        if buf:
            yield buf

    def _pair_rows(self, pair: _Pair) -> list[dict[str, Any]]:
        rng = self.rng
        rand = rng.random
        perf = pair.perf
        prof = self.profiles[pair.merchant]
        be, icvr = prof.break_even_roi, prof.industry_cvr
        mid = merchant_id(pair.merchant)
        first, last_day = self.first_day, self.last_days[pair.merchant]
        days = [
            (d, gid) for s, e, gid in pair.segments for d in _dates(max(s, first), min(e, last_day))
        ]
        lean = pair.merchant in self.lean
        account = self.accounts.get(pair.merchant, "")
        split = account and pair.aweme_id == self.two_accounts
        n = len(days)
        ctr_lo, ctr_hi = perf.ctr_band
        roi_lo, roi_hi = perf.roi_band
        drift = {"improving": 0.06, "declining": -0.06}.get(perf.trend, 0.0)
        last = perf.last_roi
        out: list[dict[str, Any]] = []
        ceil, floor = math.ceil, math.floor
        rnd = floor if perf.floor_counts else ceil
        for k, (d, gid) in enumerate(days):
            t = k / (n - 1) if n > 1 else 1.0
            if perf.trend == "improving":
                tf = 0.65 + 0.7 * t
            elif perf.trend == "declining":
                tf = 1.35 - 0.7 * t
            elif perf.trend == "spiky" and rand() < 0.08:
                tf = 2.0 + 1.5 * rand()
            else:
                tf = 1.0
            wk = 1.12 if d.weekday() >= 5 else 1.0
            impressions = int(perf.base * tf * wk * (0.85 + 0.3 * rand()))
            impressions = 1_000 if impressions < 1_000 else min(impressions, 200_000)
            ctr = min(max(perf.ctr * (0.92 + 0.16 * rand()), ctr_lo), ctr_hi)
            clicks = round(impressions * ctr)
            spend = round(impressions * perf.cpm / 1000 * (0.94 + 0.12 * rand()), 2)
            back = (last_day - d).days
            if back < len(last):
                roi = last[len(last) - 1 - back]
            else:
                roi = perf.roi * (0.94 + 0.12 * rand()) + drift * (t - 0.5)
                roi = min(max(roi, roi_lo), roi_hi)
            orders = rnd(clicks * icvr * perf.cvr_mult * (0.92 + 0.16 * rand()))
            add_to_cart = rnd(clicks * perf.atc * (0.92 + 0.16 * rand()))
            if gid is not None and perf.null_rate and rand() < perf.null_rate:
                gid = None
            row = {
                "merchant_id": mid,
                "aweme_id": pair.aweme_id,
                "date": d,
                "grant_id": gid or "",
                "account_id": account,
                "spend": spend,
                "impressions": impressions,
                "clicks": clicks,
                "orders": orders,
                "gmv": round(spend * roi * be, 2),
                "conversions": orders + int(orders * 0.15 * rand()),
                "add_to_cart": add_to_cart,
                "old_fan_order_ratio": round(
                    min(0.95, max(0.0, perf.old_fan + 0.06 * rand() - 0.03)), 3
                ),
            }
            if lean:
                row.update(conversions=None, add_to_cart=None, old_fan_order_ratio=None)
            if split:
                out.extend(_two_accounts(row, str(int(account) + 1)))
            else:
                out.append(row)
        return out

    def last_metric_day(self) -> date:
        return max(self.last_days.values())


# ---------------------------------------------------------------------------------------------
# helpers


def _two_accounts(row: dict[str, Any], second: str) -> list[dict[str, Any]]:
    """One day of delivery as two 千川 accounts export it: ~35 % from the second account.
    Each count is split so the two rows add up exactly (the day's ROI stays the same)."""
    other = dict(row, account_id=second)
    for name in ("impressions", "clicks", "orders", "conversions", "add_to_cart"):
        if row[name] is not None:
            other[name] = int(row[name] * 0.35)
            row[name] -= other[name]
    spend, gmv = row["spend"], row["gmv"]
    other["spend"] = round(spend * 0.35, 2)
    row["spend"] = round(spend - other["spend"], 2)
    other["gmv"] = round(gmv * 0.35, 2)
    row["gmv"] = round(gmv - other["gmv"], 2)
    return [row, other]


def _dates(start: date, end: date) -> Iterator[date]:
    for k in range((end - start).days + 1):
        yield start + timedelta(days=k)


def _related_theme(rng: random.Random, prof: MerchantProfile) -> str:
    """A creator of another theme that still sells one of the merchant's categories."""
    options = [t for t, (_, cats) in THEMES.items() if set(cats) & set(prof.categories)]
    return rng.choice(options)


def _round_dist(weights: Sequence[float]) -> dict[str, float]:
    """Age-band shares rounded to 0.001 that sum to exactly 1 (the largest band absorbs rounding)."""
    total = sum(weights)
    vals = [round(w / total, 3) for w in weights]
    big = max(range(len(vals)), key=vals.__getitem__)
    vals[big] = round(1.0 - sum(v for i, v in enumerate(vals) if i != big), 3)
    return dict(zip(AGE_BANDS, vals, strict=True))


def _fan_mix(rng: random.Random, prof: MerchantProfile | None) -> tuple[float, dict[str, float]]:
    """Fan gender and age shares; for a merchant's creator, ≥ 0.84 × ≥ 0.76 in its audience."""
    if prof is None:
        weights = [rng.uniform(0.05, 0.4) for _ in AGE_BANDS]
        weights[4] *= 0.4
        return round(rng.uniform(0.2, 0.8), 3), _round_dist(weights)
    if prof.target_gender == "male":
        male = rng.uniform(0.84, 0.96)
    elif prof.target_gender == "female":
        male = rng.uniform(0.04, 0.16)
    else:
        male = rng.uniform(0.35, 0.65)
    inside = rng.uniform(0.77, 0.92)
    target = [b in prof.target_age_bands for b in AGE_BANDS]
    raw = [rng.uniform(0.5, 1.5) for _ in AGE_BANDS]
    tin = sum(r for r, t in zip(raw, target, strict=True) if t)
    tout = sum(r for r, t in zip(raw, target, strict=True) if not t) or 1.0
    weights = [
        (r / tin * inside) if t else (r / tout * (1 - inside))
        for r, t in zip(raw, target, strict=True)
    ]
    return round(male, 3), _round_dist(weights)


def _mismatched_fans(prof: MerchantProfile) -> tuple[float, dict[str, float]]:
    """Fans of the other gender and outside the target ages (audience_match ≈ 0.1)."""
    male = {"male": 0.3, "female": 0.7}.get(prof.target_gender or "", 0.5)
    target = [b in prof.target_age_bands for b in AGE_BANDS]
    n_in = sum(target)
    n_out = len(AGE_BANDS) - n_in
    weights = [(0.2 / n_in) if t else (0.8 / n_out) for t in target]
    return male, _round_dist(weights)
