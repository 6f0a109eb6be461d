"""`explain`: why a rule did or did not fire for one entity, with every value it read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from qcrules.engine import select_engine
from qcrules.engine.run import judge
from qcrules.errors import UsageError
from qcrules.facts.builders import build_facts
from qcrules.facts.single import entity_ids, merchants_of
from qcrules.i18n import did_you_mean
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
    window_end: date | None = None  # the last day of the entity's metric windows
    # for rules that read the ROI streak: each day back from the window end (see streak_days)
    days: list[dict[str, Any]] = field(default_factory=list)


def streak_days(
    workspace: Workspace, grant_id: str, merchant_id: str | None, end: date, floor: float
) -> list[dict[str, Any]]:
    """The days behind `roi_below_break_even_streak`, newest first: each day's summed spend,
    GMV and ROI and what it did to the streak — `below` (counted), `skipped` (spent less than
    the floor), or `ends` (the first day that is not below break-even, shown last)."""
    from qcrules.facts.core import STREAK_DAYS
    from qcrules.facts.single import grant_days

    rows = grant_days(
        workspace.db,
        end,
        days=STREAK_DAYS,
        merchant_id=merchant_id,
        grant_ids=[grant_id],
        merchant_defaults=workspace.config.merchants,
    )
    spend: dict[date, float] = {}
    gmv: dict[date, float | None] = {}
    ber = None
    for row in rows:
        ber = row.break_even_roi
        spend[row.day] = spend.get(row.day, 0.0) + row.spend
        known = gmv.get(row.day, 0.0)
        gmv[row.day] = None if known is None or row.gmv is None else known + row.gmv
    out: list[dict[str, Any]] = []
    for k in range(STREAK_DAYS):
        day = end - timedelta(days=k)
        s, g = spend.get(day, 0.0), gmv.get(day)  # a day without rows spent nothing
        roi = g / s if s and g is not None else None
        if floor > 0 and s < floor:
            verdict = "skipped"
        elif ber is not None and roi is not None and s > 0 and roi < ber:
            verdict = "below"
        elif s > 0 and g is None:
            verdict = "unknown"  # spent, no GMV: the streak is unknown from here
        else:
            verdict = "ends"
        out.append(
            {
                "date": day.isoformat(),
                "spend": round(s, 2),
                "gmv": None if g is None else round(g, 2),
                "roi": None if roi is None else round(roi, 4),
                "break_even_roi": ber,
                "verdict": verdict,
            }
        )
        if verdict in ("ends", "unknown"):
            break
    return out


def explain(
    workspace: Workspace,
    rule_id: str,
    entity_id: str,
    *,
    merchant: str | None = None,
    as_of: date | None = None,
    lang: str | None = None,
) -> list[Explanation]:
    from qcrules.evaluation import merchant_params
    from qcrules.i18n import pick
    from qcrules.runs import load_holds

    packset = load_packs(workspace.config, apply_enable=False)
    pack, rule = packset.require_rule(rule_id)
    as_of = as_of or date.today()
    from qcrules.evaluation import compute_plugin_fields, facts_context, streak_floors

    floor, merchant_floors = streak_floors([pack], workspace)
    # only the entity's own merchants, and only the entity: its pools' percentiles are still
    # taken over the whole pool, so the values equal a full evaluation's
    merchants = merchants_of(workspace.db, rule.entity, entity_id)
    if merchant is not None:
        merchants = [m for m in merchants if m == merchant]
    facts = build_facts(
        workspace.db,
        as_of,
        entities=[rule.entity],
        merchants=merchants,
        exclude_recent_days=int(pack.params.get("exclude_recent_days", 0) or 0),
        merchant_defaults=workspace.config.merchants,
        min_daily_spend=floor,
        merchant_min_daily_spend=merchant_floors,
        only=[entity_id],
    )
    compute_plugin_fields(facts, packset, facts_context(workspace, facts))
    chosen = [f for f in facts[rule.entity] if f.entity_id == entity_id]
    if not chosen:
        ids = entity_ids(workspace.db, rule.entity, merchant)
        scope = f" for merchant {merchant}" if merchant else ""
        raise UsageError(
            f"no {rule.entity} {entity_id!r}{scope} is evaluated as of {as_of}"
            + did_you_mean(entity_id, ids),
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
        outcome_text = "not applicable"
        missing: list[str] = []
        for _, _, outcome in judge(
            rule.entity, [bound], [fact], factory, keep=lambda r: r.id == rule_id
        ):
            if outcome.matched:
                outcome_text = "fired"
            elif outcome.insufficient:
                outcome_text = "insufficient data"
                missing = list(outcome.insufficient[0][1])
            elif outcome.not_matched:
                outcome_text = "not fired"
        params = bound.params
        guards = [g for g in (pack.guard_node, rule.guard_node) if g is not None]
        guard_tree = (
            expr.explain(
                expr.bind(guards[0] if len(guards) == 1 else expr.And(items=tuple(guards)), params),
                fact.values,
            )
            if guards
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
        end = facts.window_end_of(fact.merchant_id)
        days: list[dict[str, Any]] = []
        if fact.entity_type == "grant" and "roi_below_break_even_streak" in rule.fields:
            floor = float(params.get("min_daily_spend") or 0.0)
            days = streak_days(workspace, fact.entity_id, fact.merchant_id, end, floor)
        used = {name: fact.values.get(name) for name in rule.fields}
        for name in (*pack.guard_fields, *rule.guard_fields):
            used.setdefault(name, fact.values.get(name))
        results.append(
            Explanation(
                rule=rule,
                pack=bound,
                entity_type=fact.entity_type,
                entity_id=fact.entity_id,
                merchant_id=fact.merchant_id,
                as_of=as_of,
                params={
                    p: params.get(p)
                    for p in (*rule.params_used, *pack.guard_params, *rule.guard_params)
                }
                | ({"min_daily_spend": params.get("min_daily_spend")} if days else {}),
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
                window_end=end,
                days=days,
            )
        )
    return results
