"""What the fact builders produce and the constants they share: a `Fact` (the flat record a
rule sees), a `FactSet` (one build's facts per entity, with the dates they were built for) and
a merchant's settings with the workspace defaults filled in."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from qcrules.facts.schema import ENTITIES

STARTED_STATUSES = ("active", "expired", "revoked")
EVALUATED_POOL_STATUSES = ("candidate", "in_pool")
_FAR_FUTURE = date(9999, 12, 31)
_FAR_PAST = date(1900, 1, 1)  # the start of a grant that ran with no date known
STREAK_DAYS = 30  # the streak is counted within the longest window
RECENT_DAYS = 3  # newest metric days are looked for here first (stale merchants: all days)
TREND_DAYS = 7  # roi_improving compares the latest 3 days with meaningful spend among these
# A pool peer counts for the percentiles only with a full 7-day window behind its CTR and ROI
# (the days OPT001 itself asks for): a creator with two lucky days is not a yardstick.
PEER_MIN_DAYS = 7
# A renewal that was turned down or taken back does not stop a new one from being proposed.
DEAD_STATUSES = ("rejected", "revoked")


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
