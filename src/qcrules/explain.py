"""`explain`: why a rule did or did not fire for one entity, with every value it read."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from qcrules.engine import select_engine
from qcrules.engine.run import evaluate_plan, plan_entity
from qcrules.errors import UsageError
from qcrules.facts.builders import build_facts
from qcrules.packs import expr
from qcrules.packs.messages import render_message
from qcrules.packs.registry import load_packs
from qcrules.workspace import Workspace


@dataclass
class Explanation:
    rule: Any
    pack: Any
    entity_type: str
    entity_id: str
    merchant_id: str | None
    as_of: date
    params: dict[str, Any]
    outcome: str  # fired | not fired | insufficient data | not applicable
    engine: str
    guard: Any = None  # expr explain tree of the pack guard, if any
    condition: Any = None  # expr explain tree of the rule's condition
    missing: list[str] = field(default_factory=list)
    message: str | None = None
    waivers: list[dict] = field(default_factory=list)
    hold: dict | None = None
    values: dict[str, Any] = field(default_factory=dict)


def explain(
    workspace: Workspace,
    rule_id: str,
    entity_id: str,
    *,
    merchant: str | None = None,
    as_of: date | None = None,
    lang: str | None = None,
) -> list[Explanation]:
    from qcrules.evaluation import load_holds, merchant_params
    from qcrules.i18n import pick

    packset = load_packs(workspace.config, apply_enable=False)
    pack, rule = packset.require_rule(rule_id)
    as_of = as_of or date.today()
    facts = build_facts(
        workspace.db,
        as_of,
        entities=[rule.entity],
        merchant_id=merchant,
        exclude_recent_days=int(pack.params.get("exclude_recent_days", 0) or 0),
        merchant_defaults=workspace.config.merchants,
    )
    from qcrules.evaluation import compute_plugin_fields

    compute_plugin_fields(
        facts, packset, {"db": workspace.db, "as_of": as_of, "window_end": facts.window_end}
    )
    chosen = [f for f in facts[rule.entity] if f.entity_id == entity_id]
    if not chosen:
        ids = sorted({f.entity_id for f in facts[rule.entity]})
        close = difflib.get_close_matches(entity_id, ids, n=1)
        scope = f" for merchant {merchant}" if merchant else ""
        raise UsageError(
            f"no {rule.entity} {entity_id!r}{scope} is evaluated as of {as_of}"
            + (f"; did you mean {close[0]!r}?" if close else ""),
            hint=f"{rule_id} judges {rule.entity}s; give a "
            + {"creator": "creator's aweme_id", "grant": "grant_id", "merchant": "merchant id"}[
                rule.entity
            ],
        )
    engine_name, factory = select_engine()
    holds = load_holds(workspace, as_of)
    results: list[Explanation] = []
    for fact in chosen:
        bound = pack.with_params(merchant_params(pack, workspace, fact.merchant_id))
        plan = plan_entity(rule.entity, [bound], lambda r: r.id == rule_id)
        outcome_text = "not applicable"
        missing: list[str] = []
        if plan is not None:
            for _, outcome in evaluate_plan(plan, [fact], factory):
                if outcome.matched:
                    outcome_text = "fired"
                elif outcome.insufficient:
                    outcome_text = "insufficient data"
                    missing = list(outcome.insufficient[0][1])
                elif outcome.not_matched:
                    outcome_text = "not fired"
        params = bound.params
        guard_tree = (
            expr.explain(expr.bind(pack.guard_node, params), fact.values)
            if pack.guard_node is not None
            else None
        )
        condition_tree = expr.explain(expr.bind(rule.node, params), fact.values)
        waivers = [
            {
                "rule": w.rule,
                "entity": w.entity,
                "merchant": w.merchant,
                "reason": w.reason,
                "expires": w.expires.isoformat(),
                "active": w.expires >= as_of,
            }
            for w in workspace.config.waivers
            if w.covers(rule.id, fact.entity_id, fact.merchant_id)
        ]
        used = {name: fact.values.get(name) for name in rule.fields}
        for name in pack.guard_fields:
            used.setdefault(name, fact.values.get(name))
        results.append(
            Explanation(
                rule=rule,
                pack=bound,
                entity_type=fact.entity_type,
                entity_id=fact.entity_id,
                merchant_id=fact.merchant_id,
                as_of=as_of,
                params={p: params.get(p) for p in (*rule.params_used, *pack.guard_params)},
                outcome=outcome_text,
                engine=engine_name,
                guard=guard_tree,
                condition=condition_tree,
                missing=missing,
                message=render_message(pick(rule.message, lang), fact.values, params)
                if outcome_text == "fired"
                else None,
                waivers=waivers,
                hold=holds.get((fact.entity_type, fact.entity_id, fact.merchant_id))
                or holds.get((fact.entity_type, fact.entity_id, None)),
                values=used,
            )
        )
    return results
