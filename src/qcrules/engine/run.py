"""Evaluate facts against packs with exactly-once accounting.

All enabled rules for one entity type (and one set of parameters) are compiled into ONE
ruleset, so each fact is asserted once and every matching rule comes back together. Each
(fact, rule) pair ends as exactly one of: matched, not matched, insufficient data (the
guard failed, or the rule did not fire while a field it reads was missing), or not
applicable (the pack's `applies` filter excludes the entity). The counts are checked.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from qcrules.packs import expr
from qcrules.packs.model import Pack, Rule

_run_counter = itertools.count(1)
BATCH = 200  # facts asserted per engine call: one parse, one agenda drain


@dataclass
class CompiledRule:
    rule: Rule
    key: str  # the name the engine knows it by
    node: Any  # bound (parameters substituted)
    fields: tuple[str, ...]
    guard_key: str | None
    applies_key: str | None
    params: dict[str, Any]
    decide: Any = None  # three-valued reading, compiled once


@dataclass
class EntityPlan:
    entity: str
    rules: list[CompiledRule]
    conditions: dict[str, Any]  # engine key -> bound node (rules, guards, applies filters)
    guard_fields: dict[str, tuple[str, ...]] = field(default_factory=dict)
    guard_text: dict[str, str] = field(default_factory=dict)
    all_fields: tuple[str, ...] = ()
    filter_keys: frozenset = frozenset()


@dataclass
class FactOutcome:
    matched: list[CompiledRule]
    insufficient: list[tuple[CompiledRule, list[str], bool]]  # rule, missing fields, guard?
    not_matched: int
    not_applicable: int


@dataclass
class Accounting:
    facts: int = 0
    checks: int = 0
    matched: int = 0
    not_matched: int = 0
    insufficient_data: int = 0
    not_applicable: int = 0

    def add(self, outcome: FactOutcome, rules: int) -> None:
        self.facts += 1
        self.checks += rules
        self.matched += len(outcome.matched)
        self.insufficient_data += len(outcome.insufficient)
        self.not_matched += outcome.not_matched
        self.not_applicable += outcome.not_applicable

    def verify(self) -> None:
        total = self.matched + self.not_matched + self.insufficient_data + self.not_applicable
        if total != self.checks:
            raise AssertionError(
                f"evaluation lost track of {self.checks - total} rule checks "
                f"({self.facts} facts): this is a bug, please report it"
            )

    def to_json(self) -> dict[str, int]:
        return dict(self.__dict__)


def _engine_key(*parts: str) -> str:
    return ".".join(p.replace(" ", "_") for p in parts)


def plan_entity(
    entity: str, packs: Sequence[Pack], rule_filter=lambda rule: True
) -> EntityPlan | None:
    """Compile every enabled rule of `packs` for one entity into one condition set."""
    rules: list[CompiledRule] = []
    conditions: dict[str, Any] = {}
    plan = EntityPlan(entity, rules, conditions)
    for pack in packs:
        chosen = [r for r in pack.rules if r.entity == entity and r.enabled and rule_filter(r)]
        if not chosen:
            continue
        guard_key = applies_key = None
        if pack.guard_node is not None:
            guard_key = _engine_key("__guard__", pack.id)
            conditions[guard_key] = expr.bind(pack.guard_node, pack.params)
            plan.guard_fields[guard_key] = pack.guard_fields
            plan.guard_text[guard_key] = pack.guard or ""
        applies = getattr(pack, "applies_node", None)
        if applies is not None:
            applies_key = _engine_key("__applies__", pack.id)
            conditions[applies_key] = expr.bind(applies, pack.params)
        for rule in chosen:
            key = _engine_key(pack.id, rule.id)
            node = expr.bind(rule.node, pack.params)
            conditions[key] = node
            rules.append(
                CompiledRule(
                    rule,
                    key,
                    node,
                    rule.fields,
                    guard_key,
                    applies_key,
                    pack.params,
                    expr.three_valued(node),
                )
            )
    if not rules:
        return None
    plan.all_fields = tuple(dict.fromkeys(f for r in rules for f in r.fields))
    plan.filter_keys = frozenset(
        k for k in conditions if k.startswith(("__guard__", "__applies__"))
    )
    return plan


def judge(plan: EntityPlan, values: dict[str, Any], matches: frozenset[str]) -> FactOutcome:
    """Turn the engine's match set for one fact into one outcome per rule."""
    matched: list[CompiledRule] = []
    insufficient: list[tuple[CompiledRule, list[str], bool]] = []
    not_matched = not_applicable = 0
    get = values.get
    absent = {name for name in plan.all_fields if get(name) is None}
    if not matches and not plan.filter_keys and not absent:
        # the common case: nothing fired, no guard or filter in play, no value missing
        return FactOutcome(matched, insufficient, len(plan.rules), 0)
    for compiled in plan.rules:
        if compiled.applies_key is not None and compiled.applies_key not in matches:
            not_applicable += 1
            continue
        if compiled.guard_key is not None and compiled.guard_key not in matches:
            missing = [f for f in plan.guard_fields[compiled.guard_key] if values.get(f) is None]
            insufficient.append((compiled, missing, True))
            continue
        if compiled.key in matches:
            matched.append(compiled)
            continue
        if absent.isdisjoint(compiled.fields):
            not_matched += 1
            continue
        missing = [f for f in compiled.fields if f in absent]
        # missing data only matters when it leaves the outcome open: `in_pool and roi_7d < x`
        # with in_pool false did not fire, whatever roi_7d would have been
        if missing and compiled.decide(values) is None:
            insufficient.append((compiled, missing, False))
        else:
            not_matched += 1
    return FactOutcome(matched, insufficient, not_matched, not_applicable)


def evaluate_plan(
    plan: EntityPlan, facts: Iterable[Any], evaluator_factory
) -> Iterator[tuple[Any, FactOutcome]]:
    """Yield (fact, outcome) for every fact, each asserted exactly once into the engine."""
    name = f"qcrules_{plan.entity}_{next(_run_counter)}"
    evaluator = evaluator_factory(plan.conditions, name)
    facts = list(facts)
    try:
        for start in range(0, len(facts), BATCH):
            batch = facts[start : start + BATCH]
            for fact, matches in zip(
                batch, evaluator.evaluate_many([f.values for f in batch]), strict=True
            ):
                yield fact, judge(plan, fact.values, matches)
    finally:
        evaluator.close()
