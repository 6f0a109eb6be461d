"""Rule packs as loaded and validated: plain data, no engine inside."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qcrules.packs.params import ParamRange

LEVELS = ("info", "warn", "error", "critical")
LEVEL_RANK = {level: rank for rank, level in enumerate(LEVELS)}
ENTITIES = ("creator", "grant", "merchant")


@dataclass
class Rule:
    id: str
    name: str
    level: str
    when: str
    node: Any
    entity: str
    pack: str
    action_kind: str
    action_params: dict[str, Any] = field(default_factory=dict)
    message: dict[str, str] = field(default_factory=dict)
    why: dict[str, str] = field(default_factory=dict)
    source: str = ""
    enabled: bool = True
    gate: bool = False  # judges a grant's terms: a request is refused at warn or above
    line: int | None = None
    fields: tuple[str, ...] = ()
    params_used: tuple[str, ...] = ()
    # the rule's own guard (on top of the pack's): failing it is insufficient data, not a pass
    guard: str | None = None
    guard_node: Any = None
    guard_fields: tuple[str, ...] = ()
    guard_params: tuple[str, ...] = ()


@dataclass
class PackTest:
    name: str
    entity: str
    fact: dict[str, Any]
    expect: list[str]
    params: dict[str, Any] = field(default_factory=dict)
    line: int | None = None


@dataclass
class Pack:
    id: str
    version: str
    entity: str
    title: dict[str, str]
    description: dict[str, str]
    requires_qcrules: str | None
    guard: str | None
    guard_node: Any
    params: dict[str, Any]
    rules: list[Rule]
    tests: list[PackTest]
    path: Path | None
    origin: str  # "builtin", a plugin's name, or "folder"
    applies: str | None = None
    applies_node: Any = None
    guard_fields: tuple[str, ...] = ()
    guard_params: tuple[str, ...] = ()
    text: str = ""
    # [bands]: the monitoring sheet's bands (ctr_low…), each naming one of this pack's params
    bands: dict[str, str] = field(default_factory=dict)
    # the ranges [params] declares (`name = { value = 3, min = 1, integer = true }`)
    param_ranges: dict[str, ParamRange] = field(default_factory=dict)

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def entities(self) -> list[str]:
        seen: list[str] = []
        for rule in self.rules:
            if rule.entity not in seen:
                seen.append(rule.entity)
        return seen

    def with_params(self, overrides: dict[str, Any]) -> Pack:
        """The same pack with some parameters replaced (workspace or merchant overrides)."""
        if not overrides:
            return self
        return replace(self, params={**self.params, **overrides})

    def band_values(self, params: dict[str, Any] | None = None) -> dict[str, float]:
        """The sheet's bands with `params` (the pack's own, or a merchant's bound ones)."""
        params = self.params if params is None else params
        return {band: float(params[name]) for band, name in self.bands.items()}

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "version": self.version, "origin": self.origin}


def matches_code(rule_id: str, codes: list[str]) -> bool:
    """A rule selected by its code or a prefix of it (`PRM`, `PRM00`), as ruff's --select:
    evaluate, backtest and the action queue's --rule read codes the same way."""
    return any(rule_id == c or rule_id.startswith(c) for c in codes)
