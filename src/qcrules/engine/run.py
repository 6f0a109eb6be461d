"""Evaluate facts against packs with exactly-once accounting.

All enabled rules for one entity type (and one set of parameters) are compiled into ONE
ruleset, so each fact is asserted once and every matching rule comes back together. Each
(fact, rule) pair ends as exactly one of: matched, not matched, insufficient data (the
guard failed, or the rule did not fire while a field it reads was missing), or not
applicable (the pack's `applies` filter excludes the entity). The counts are checked.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from qcrules.engine.evaluator import EngineError
from qcrules.i18n import tr
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


@dataclass
class EntityPlan:
    entity: str
    rules: list[CompiledRule]
    conditions: dict[str, Any]  # engine key -> bound node (rules, guards, applies filters)
    guard_fields: dict[str, tuple[str, ...]] = field(default_factory=dict)
    guard_text: dict[str, str] = field(default_factory=dict)
    all_fields: tuple[str, ...] = ()
    filter_keys: frozenset = frozenset()
    judged_fields: tuple[str, ...] = ()  # what the rules and guards read
    position: dict[str, int] = field(default_factory=dict)  # rule key -> order in `rules`
    settled: dict[tuple, Any] = field(default_factory=dict)  # see `judge`


@dataclass(frozen=True)
class FactOutcome:
    """One fact's verdicts; shared between facts with the same match set and missing
    fields, so never changed (its parts are tuples)."""

    matched: tuple[CompiledRule, ...]
    insufficient: tuple[tuple[CompiledRule, tuple[str, ...], bool], ...]  # rule, missing, guard?
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
            rule_guard_key = guard_key
            if rule.guard_node is not None:  # the rule's own guard, with the pack's
                rule_guard_key = _engine_key("__guard__", pack.id, rule.id)
                both = [n for n in (pack.guard_node, rule.guard_node) if n is not None]
                conditions[rule_guard_key] = expr.bind(
                    both[0] if len(both) == 1 else expr.And(items=tuple(both)), pack.params
                )
                plan.guard_fields[rule_guard_key] = tuple(
                    dict.fromkeys([*pack.guard_fields, *rule.guard_fields])
                )
                plan.guard_text[rule_guard_key] = " and ".join(
                    t for t in (pack.guard, rule.guard) if t
                )
            rules.append(
                CompiledRule(
                    rule,
                    key,
                    node,
                    rule.fields,
                    rule_guard_key,
                    applies_key,
                    pack.params,
                )
            )
    if not rules:
        return None
    plan.all_fields = tuple(dict.fromkeys(f for r in rules for f in r.fields))
    guard_reads = (f for fields in plan.guard_fields.values() for f in fields)
    plan.judged_fields = tuple(dict.fromkeys([*plan.all_fields, *guard_reads]))
    plan.position = {r.key: i for i, r in enumerate(rules)}
    plan.filter_keys = frozenset(
        k for k in conditions if k.startswith(("__guard__", "__applies__"))
    )
    return plan


SETTLED_LIMIT = 4096  # (match set, missing fields) patterns remembered per plan


@dataclass(frozen=True)
class _Verdicts:
    """What a (match set, missing fields) pattern settles, and what is left open: the
    rules that did not fire but read a missing field, each with the test of the known
    values that says whether the missing ones could still have made it fire."""

    settled: FactOutcome
    open: tuple[tuple[CompiledRule, tuple[str, ...], Any], ...]  # rule, missing fields, test


def _outcome(
    plan: EntityPlan, values: dict[str, Any], matches: frozenset[str], complete: bool = False
) -> FactOutcome:
    """Turn the engine's match set for one fact into one outcome per rule.

    The rule-by-rule work depends only on the match set and which fields are missing, so
    it is done once per such pattern (`complete`: no field the conditions read is missing,
    as the evaluator saw); per fact, only the open rules' known values are tested."""
    if complete:
        absent: frozenset[str] = frozenset()
    else:
        get = values.get
        absent = frozenset([name for name in plan.judged_fields if get(name) is None])
    key = (matches, absent)
    verdicts = plan.settled.get(key)
    if verdicts is None:
        verdicts = _verdicts(plan, matches, absent)
        if len(plan.settled) < SETTLED_LIMIT:
            plan.settled[key] = verdicts
    if not verdicts.open:
        return verdicts.settled
    settled = verdicts.settled
    insufficient = list(settled.insufficient)
    not_matched = settled.not_matched
    for compiled, missing, possible in verdicts.open:
        if possible is True or (possible is not False and possible(values)):
            insufficient.append((compiled, missing, False))
        else:
            not_matched += 1
    if settled.insufficient and len(insufficient) > len(settled.insufficient):
        insufficient.sort(key=lambda item: plan.position[item[0].key])  # the rules' order
    return FactOutcome(settled.matched, tuple(insufficient), not_matched, settled.not_applicable)


def _verdicts(plan: EntityPlan, matches: frozenset[str], absent: frozenset[str]) -> _Verdicts:
    matched: list[CompiledRule] = []
    insufficient: list[tuple[CompiledRule, tuple[str, ...], bool]] = []
    still_open: list[tuple[CompiledRule, tuple[str, ...], Any]] = []
    not_matched = not_applicable = 0
    for compiled in plan.rules:
        if compiled.applies_key is not None and compiled.applies_key not in matches:
            not_applicable += 1
        elif compiled.guard_key is not None and compiled.guard_key not in matches:
            missing = tuple(f for f in plan.guard_fields[compiled.guard_key] if f in absent)
            insufficient.append((compiled, missing, True))
        elif compiled.key in matches:
            matched.append(compiled)
        elif absent.isdisjoint(compiled.fields):
            not_matched += 1
        else:
            # missing data only matters when it leaves the outcome open: `in_pool and
            # roi_7d < x` with in_pool false did not fire, whatever roi_7d would have been
            missing = tuple(f for f in compiled.fields if f in absent)
            possible = expr.still_possible(compiled.node, absent)
            still_open.append((compiled, missing, possible))
    settled = FactOutcome(tuple(matched), tuple(insufficient), not_matched, not_applicable)
    return _Verdicts(settled, tuple(still_open))


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
            try:
                matches, complete = evaluator.evaluate_batch([f.values for f in batch])
            except EngineError as exc:
                if exc.position is None:
                    raise
                bad = batch[exc.position]
                raise EngineError(
                    tr(
                        f"{bad.entity_type} {bad.entity_id}：{exc.message}",
                        f"{bad.entity_type} {bad.entity_id}: {exc.message}",
                    ),
                    hint=tr(
                        "该字段由事实构建或插件的 qcrules_register_fields 计算；"
                        "它必须给出有限数字、文本或布尔值（缺失时给 None）",
                        "the field is computed by the fact builder or a plugin's "
                        "qcrules_register_fields; it must give a finite number, text or a bool "
                        "(None when unknown)",
                    ),
                ) from None
            for fact, fired, whole in zip(batch, matches, complete, strict=True):
                yield fact, _outcome(plan, fact.values, fired, whole)
    finally:
        evaluator.close()


def own_params(pack: Pack, merchant_id: str | None) -> dict[str, Any]:
    """`params_for` of a judgement without workspace or merchant overrides."""
    return pack.params


def judge(
    entity: str,
    packs: Sequence[Pack],
    facts: Iterable[Any],
    evaluator_factory,
    *,
    params_for: Callable[[Pack, str | None], dict[str, Any]] = own_params,
    keep: Callable[[Rule], bool] = lambda rule: True,
    plans: list[tuple[EntityPlan, list[Any]]] | None = None,
) -> Iterator[tuple[EntityPlan, Any, FactOutcome]]:
    """The one judging pipeline: facts of one entity type against `packs`, each bound to its
    merchant's parameters by `params_for(pack, merchant_id)`. Merchants whose parameters are
    the same share one compiled ruleset. `evaluate`, `explain`, the pack tests and a grant
    request's checks all judge through here, so they never disagree about a rule.

    Yields (plan, fact, outcome) for every fact; `plans` (when given) collects each plan
    with its facts."""
    by_merchant: dict[str | None, list[Any]] = {}
    for fact in facts:
        by_merchant.setdefault(fact.merchant_id, []).append(fact)
    groups: dict[str, tuple[list[Pack], list[Any]]] = {}
    for merchant, merchant_facts in by_merchant.items():
        bound = [p.with_params(params_for(p, merchant)) for p in packs]
        signature = json.dumps([p.params for p in bound], sort_keys=True, default=str)
        groups.setdefault(signature, (bound, []))[1].extend(merchant_facts)
    for bound, group_facts in groups.values():
        plan = plan_entity(entity, bound, keep)
        if plan is None:
            continue
        if plans is not None:
            plans.append((plan, group_facts))
        for fact, outcome in evaluate_plan(plan, group_facts, evaluator_factory):
            yield plan, fact, outcome
