"""`evaluate`: packs + facts → findings, waivers, holds, conflicts → a stored run and a report.

The faces (CLI, TUI) call this through `qcrules.service`; nothing here prints.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from qcrules import __version__
from qcrules.actions.kinds import steps_for
from qcrules.actions.planning import apply_waivers, plan_actions
from qcrules.config import Config
from qcrules.engine import select_engine
from qcrules.engine.run import Accounting, EntityPlan, judge
from qcrules.errors import PackError, UsageError
from qcrules.facts.builders import build_facts
from qcrules.facts.core import Fact, FactSet
from qcrules.i18n import did_you_mean, language, pick
from qcrules.model.db import table
from qcrules.model.tables import EvaluationRun, Finding, Hold, Merchant
from qcrules.packs.messages import render_message
from qcrules.packs.model import LEVEL_RANK, LEVELS, Pack, matches_code
from qcrules.packs.registry import PackSet, load_packs
from qcrules.safety import check_day
from qcrules.workspace import Workspace

FAIL_ON = ("critical", "error", "warn", "info", "never")


@dataclass
class EvaluateOptions:
    packs: list[str] = field(default_factory=list)
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    merchant: str | None = None
    as_of: date | None = None
    fail_on: str = "error"
    baseline: Path | None = None
    store: bool = True
    exit_zero: bool = False
    lang: str | None = None
    # what-if / backtest `--set PACK.PARAM=V`: on top of qcrules.toml's [params]
    params: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class EvaluationResult:
    report: dict[str, Any]
    exit_code: int
    packset: PackSet
    accounting: Accounting
    facts: dict[str, list[Fact]] = field(default_factory=dict)
    _plans: list[tuple[EntityPlan, list[Fact]]] = field(default_factory=list)
    _outcomes: dict[tuple, str] = field(default_factory=dict)

    def checks(self) -> Iterator[tuple[str, str, str, str, str, str]]:
        """Every (rule, pack, entity type, entity id, merchant, outcome) that was checked."""
        for plan, facts in self._plans:
            for fact in facts:
                for compiled in plan.rules:
                    rule = compiled.rule
                    key = (rule.id, fact.entity_type, fact.entity_id, fact.merchant_id or "")
                    yield (
                        rule.id,
                        rule.pack,
                        fact.entity_type,
                        fact.entity_id,
                        fact.merchant_id or "",
                        self._outcomes.get(key, "passed"),
                    )

    def rules_meta(self) -> list[dict[str, Any]]:
        lang = language()
        return [
            {
                "id": rule.id,
                "name": rule.name,
                "pack": pack.id,
                "level": rule.level,
                "message": pick(rule.message, lang),
                "why": pick(rule.why, lang),
                "action": rule.action_kind,
                "source": rule.source,
            }
            for pack in self.packset.packs
            for rule in pack.rules
        ]


def fingerprint(rule: str, entity_type: str, entity_id: str, merchant: str | None) -> str:
    raw = f"{rule}|{entity_type}|{entity_id}|{merchant or ''}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:24]


def select_packs(packset: PackSet, options: EvaluateOptions) -> list[Pack]:
    packs = packset.packs
    known_ids = [p.id for p in packs] + [p.id for p in packset.disabled]
    if options.packs:
        unknown = [p for p in options.packs if p not in known_ids]
        if unknown:
            raise UsageError(
                f"unknown pack {unknown[0]!r}" + did_you_mean(unknown[0], known_ids),
                hint=f"packs: {', '.join(known_ids)}",
            )
        packs = [p for p in packs + packset.disabled if p.id in options.packs]
    all_ids = packset.all_rule_ids()
    for code in options.select + options.ignore:
        if not any(r == code or r.startswith(code) for r in all_ids):
            raise UsageError(
                f"no rule matches {code!r}" + did_you_mean(code, all_ids),
                hint="give a rule id (MON004) or a prefix (MON, PRM00)",
            )
    return packs


def rule_filter(options: EvaluateOptions):
    def keep(rule) -> bool:
        if options.select and not matches_code(rule.id, options.select):
            return False
        return not (options.ignore and matches_code(rule.id, options.ignore))

    return keep


def check_merchant(workspace: Workspace, merchant: str | None) -> None:
    if merchant is None:
        return
    with workspace.db.connect() as conn:
        ids = list(conn.execute(select(table(Merchant).c.merchant_id)).scalars())
    if merchant not in ids:
        raise UsageError(
            f"unknown merchant {merchant!r}" + did_you_mean(merchant, ids),
            hint=f"merchants in this workspace: {', '.join(ids[:20]) or '(none: import some)'}",
        )


def recent_runs(workspace: Workspace, limit: int = 30) -> list[dict[str, Any]]:
    """The last `limit` stored runs, oldest first (the TUI draws findings over time)."""
    runs = table(EvaluationRun)
    query = select(runs).order_by(runs.c.started_at.desc()).limit(limit)
    with workspace.db.connect() as conn:
        rows = list(conn.execute(query).mappings())
    return [
        {
            "id": row["run_id"],
            "started_at": row["started_at"],
            "as_of": row["as_of"],
            "summary": row["summary"] or {},
        }
        for row in reversed(rows)
    ]


def load_holds(workspace: Workspace, as_of: date) -> dict[tuple, dict]:
    holds: dict[tuple, dict] = {}
    with workspace.db.connect() as conn:
        for row in conn.execute(select(table(Hold))).mappings():
            if row["until"] is not None and row["until"] < as_of:
                continue
            key = (row["entity_type"], row["entity_id"], row["merchant_id"] or None)
            holds[key] = {
                "reason": row["reason"],
                "until": row["until"].isoformat() if row["until"] else None,
            }
    return holds


def _load_baseline(path: Path) -> set[str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UsageError(
            f"baseline file {path} does not exist",
            hint="pass the JSON output of an earlier `qcrules evaluate --format json`",
        ) from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise UsageError(  # (RecursionError: arrays nested deeper than the parser goes)
            f"baseline file {path} is not qcrules JSON output: {exc}",
            hint="create it with `qcrules evaluate --format json --output FILE`",
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("findings"), list):
        raise UsageError(
            f"baseline file {path} has no 'findings' list",
            hint="create it with `qcrules evaluate --format json --output FILE`",
        )
    return {f.get("fingerprint") for f in data["findings"] if isinstance(f, dict)}


def _entity_json(fact: Fact) -> dict[str, Any]:
    entity = {"type": fact.entity_type, "id": fact.entity_id, "merchant": fact.merchant_id}
    if fact.entity_type in ("grant", "creator") and fact.aweme_id:
        entity["creator"] = fact.aweme_id
    name = fact.values.get(
        {"creator": "nickname", "grant": "creator.nickname", "merchant": "name"}[fact.entity_type]
    )
    if name:
        entity["name"] = name
    # the 抖音号 千川 search uses: how a 投手 finds the creator
    handle = fact.values.get(
        {"creator": "aweme_show_id", "grant": "creator.aweme_show_id"}.get(fact.entity_type, "")
    )
    if handle:
        entity["handle"] = handle
    return entity


def _action_json(kind: str, params: Any, lang: str) -> dict[str, Any]:
    """The suggested action, with where to do it in 千川 (PC and 随心推) when known."""
    action: dict[str, Any] = {"kind": kind, "params": dict(params)}
    steps = steps_for(kind, lang)
    if steps:
        action["steps"] = steps
    return action


def merchant_params(pack: Pack, workspace: Workspace, merchant: str | None) -> dict[str, Any]:
    overrides = workspace.config.merchant_params.get(merchant or "", {}).get(pack.id)
    return {**pack.params, **overrides} if overrides else pack.params


def streak_floors(packs: list[Pack], workspace: Workspace) -> tuple[float, dict[str, float]]:
    """`params.min_daily_spend` of the packs that declare it, and per merchant where its
    overrides change it: the ROI streak (a fact shared by these packs) skips days below it.
    Packs that disagree get the largest: a trivial day is never a reason to act."""
    declaring = [p for p in packs if "min_daily_spend" in p.params]
    if not declaring:
        return 0.0, {}

    def floor(params_of) -> float:
        return max(float(params_of(p).get("min_daily_spend") or 0.0) for p in declaring)

    default = floor(lambda p: p.params)
    per_merchant = {
        mid: value
        for mid in workspace.config.merchant_params
        if (value := floor(lambda p, m=mid: merchant_params(p, workspace, m))) != default
    }
    return default, per_merchant


def facts_context(workspace: Workspace, facts: FactSet) -> dict[str, Any]:
    """What plugin fields get: the database, as_of, and where each merchant's windows end."""
    return {
        "db": workspace.db,
        "as_of": facts.as_of,
        "window_end": facts.window_end,
        "window_ends": dict(facts.window_ends),
    }


def compute_plugin_fields(facts: FactSet, packset: PackSet, context: dict[str, Any]) -> None:
    """Fill plugin-provided fields, one batch per entity, so plugins stay set-based."""
    from qcrules.plugins.manager import get_host

    for extra in get_host().contributions().fields:
        batch = facts[extra.entity]
        if not batch:
            continue
        values = extra.compute(batch, context)
        if isinstance(values, dict):
            for fact in batch:
                fact.values[extra.name] = values.get(
                    (fact.entity_id, fact.merchant_id), values.get(fact.entity_id)
                )
        else:
            values = list(values)
            if len(values) != len(batch):
                raise UsageError(
                    f"plugin field {extra.name!r} ({extra.origin}) returned {len(values)} values "
                    f"for {len(batch)} facts"
                )
            for fact, value in zip(batch, values, strict=True):
                fact.values[extra.name] = value


def config_with_params(config: Config, params: dict[str, dict[str, Any]]) -> Config:
    """The workspace's configuration with `--set` overrides merged into its [params]."""
    if not params:
        return config
    merged = {pack: dict(values) for pack, values in config.params.items()}
    for pack, values in params.items():
        merged.setdefault(pack, {}).update(values)
    return replace(config, params=merged)


def load_checked_packs(workspace: Workspace, options: EvaluateOptions) -> PackSet:
    """The packs in effect (with the options' parameter overrides), refusing broken ones."""
    packset = load_packs(config_with_params(workspace.config, options.params))
    if packset.blocking_errors:
        raise PackError(
            f"{len(packset.blocking_errors)} problem(s) in rule packs; nothing was evaluated",
            diagnostics=packset.diagnostics,
            hint="run `qcrules packs validate` for the full list",
        )
    for diagnostic in packset.errors:  # a plugin's broken pack: skipped, said loudly
        diagnostic.severity = "warning"
        diagnostic.message = (
            f"plugin {packset.plugin_of(diagnostic)!r}: pack skipped: {diagnostic.message}"
        )
    return packset


FactsSource = Callable[..., FactSet]


def evaluate(
    workspace: Workspace,
    options: EvaluateOptions | None = None,
    *,
    packset: PackSet | None = None,
    facts_source: FactsSource | None = None,
    factory: Callable | None = None,
) -> EvaluationResult:
    """One evaluation as of `options.as_of`.

    Backtests evaluate many days on this same pipeline and pass what they share: the
    `packset` (already loaded and checked), a `facts_source` with the signature of
    `build_facts` (facts built from one load of the whole range) and an evaluator
    `factory` that remembers verdicts across days."""
    options = options or EvaluateOptions()
    started = time.perf_counter()
    started_at = datetime.now(UTC)
    if options.fail_on not in FAIL_ON:
        raise UsageError(f"--fail-on must be one of {', '.join(FAIL_ON)}")
    checked = packset is not None  # a backtest checked the packs and merchant once
    if packset is None:
        packset = load_checked_packs(workspace, options)
    packs = select_packs(packset, options)
    keep = rule_filter(options)
    if not checked:
        check_merchant(workspace, options.merchant)
    baseline = _load_baseline(options.baseline) if options.baseline else None
    as_of = options.as_of or date.today()
    check_day(as_of, "as of")
    engine_name, default_factory = select_engine()
    factory = factory or default_factory
    build = facts_source or build_facts
    lang = options.lang or language()

    # facts: one build per distinct `exclude_recent_days` among the packs in effect
    by_shift: dict[int, list[Pack]] = defaultdict(list)
    for pack in packs:
        by_shift[int(pack.params.get("exclude_recent_days", 0) or 0)].append(pack)
    result = EvaluationResult({}, 0, packset, Accounting())
    data_through: dict[str, date] = {}
    window_ends: dict[str, str] = {}
    findings: list[dict] = []
    insufficient: list[dict] = []
    entity_counts: dict[str, set] = defaultdict(set)
    for shift, group in sorted(by_shift.items()):
        entities = sorted({r.entity for p in group for r in p.rules if r.enabled and keep(r)})
        if not entities:
            continue
        floor, merchant_floors = streak_floors(group, workspace)
        facts = build(
            workspace.db,
            as_of,
            entities=entities,
            merchant_id=options.merchant,
            exclude_recent_days=shift,
            merchant_defaults=workspace.config.merchants,
            min_daily_spend=floor,
            merchant_min_daily_spend=merchant_floors,
        )
        data_through.update(facts.data_through)
        for mid, end in facts.window_ends.items():  # the unshifted build's, when there is one
            window_ends.setdefault(mid, end.isoformat())
        compute_plugin_fields(facts, packset, facts_context(workspace, facts))
        for entity in entities:
            entity_counts[entity].update((f.entity_id, f.merchant_id) for f in facts[entity])
            judged = judge(
                entity,
                group,
                facts[entity],
                factory,
                params_for=lambda p, m: merchant_params(p, workspace, m),
                keep=keep,
                plans=result._plans,
            )
            for plan, fact, outcome in judged:
                result.accounting.add(outcome, len(plan.rules))
                if not outcome.matched and not outcome.insufficient:
                    continue  # most facts: nothing to report
                entity_json = _entity_json(fact)
                for compiled in outcome.matched:
                    rule = compiled.rule
                    evidence = {f: fact.values.get(f) for f in rule.fields}
                    evidence.update(
                        {f"params.{p}": compiled.params.get(p) for p in rule.params_used}
                    )
                    findings.append(
                        {
                            "rule": rule.id,
                            "name": rule.name,
                            "pack": rule.pack,
                            "level": rule.level,
                            "entity": entity_json,
                            "message": render_message(
                                pick(rule.message, lang), fact.values, compiled.params
                            ),
                            "action": _action_json(rule.action_kind, rule.action_params, lang),
                            "evidence": evidence,
                            "fingerprint": fingerprint(
                                rule.id, fact.entity_type, fact.entity_id, fact.merchant_id
                            ),
                            "source": rule.source,
                            "superseded_by": None,
                        }
                    )
                for compiled, missing, by_guard in outcome.insufficient:
                    note = {
                        "rule": compiled.rule.id,
                        "entity": entity_json,
                        "missing": list(missing),
                    }
                    if by_guard:
                        note["guard"] = plan.guard_text.get(compiled.guard_key or "", "")
                    insufficient.append(note)
                    result._outcomes[
                        (
                            compiled.rule.id,
                            fact.entity_type,
                            fact.entity_id,
                            fact.merchant_id or "",
                        )
                    ] = "insufficient_data"
        result.facts.update({e: facts[e] for e in entities})
    result.accounting.verify()

    kept, waived, waiver_findings = apply_waivers(
        findings,
        workspace.config.waivers,
        as_of,
        str(workspace.config.path) if workspace.config.path else None,
    )
    for item in waived:
        entity = item["entity"]
        result._outcomes[
            (item["rule"], entity["type"], entity["id"], entity.get("merchant") or "")
        ] = "waived"
    if not options.select and not options.packs:
        kept += waiver_findings
    holds = load_holds(workspace, as_of)
    superseded = plan_actions(kept, packset.actions, holds)
    baseline_hidden = 0
    if baseline is not None:
        before = len(kept)
        kept = [f for f in kept if f["fingerprint"] not in baseline]
        baseline_hidden = before - len(kept)
    kept.sort(
        key=lambda f: (
            -LEVEL_RANK[f["level"]],
            f["rule"],
            f["entity"]["type"],
            str(f["entity"].get("merchant")),
            f["entity"]["id"],
        )
    )

    counts = {level: 0 for level in reversed(LEVELS)}
    for finding in kept:
        counts[finding["level"]] += 1
    exit_code = 0
    if options.fail_on != "never" and not options.exit_zero:
        threshold = LEVEL_RANK[options.fail_on]
        if any(LEVEL_RANK[f["level"]] >= threshold for f in kept):
            exit_code = 1
    run_id = f"{started_at:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    used_packs = [p.summary() for p in packs]
    report = {
        "qcrules_version": __version__,
        "run": {
            "id": run_id,
            "as_of": as_of.isoformat(),
            "started_at": started_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "duration_ms": 0,
            "engine": engine_name,
            "packs": used_packs,
            # the newest metric day up to as_of, and where each merchant's windows end
            "data_through": max(data_through.values()).isoformat() if data_through else None,
            "window_ends": dict(sorted(window_ends.items())),
        },
        "summary": {
            "entities": {
                e: len(entity_counts[e])
                for e in ("creator", "grant", "merchant")
                if e in entity_counts
            },
            "findings": counts,
            "waived": len(waived),
            "insufficient_data": len(insufficient),
            "superseded": superseded,
            "baseline_hidden": baseline_hidden,
            "checks": result.accounting.to_json(),
        },
        "findings": kept,
        "insufficient_data": insufficient,
        "waived": waived,
    }
    report["run"]["duration_ms"] = int((time.perf_counter() - started) * 1000)
    result.report = report
    result.exit_code = exit_code
    if options.store:
        _store_run(workspace, result, options, packs)
    return result


def _store_run(
    workspace: Workspace, result: EvaluationResult, options: EvaluateOptions, packs: list[Pack]
) -> None:
    report = result.report
    run = report["run"]
    options_json = {
        "packs": options.packs,
        "select": options.select,
        "ignore": options.ignore,
        "merchant": options.merchant,
        "fail_on": options.fail_on,
        "baseline": str(options.baseline) if options.baseline else None,
    }
    with workspace.db.write("evaluate") as conn:
        conn.execute(
            table(EvaluationRun)
            .insert()
            .values(
                run_id=run["id"],
                started_at=datetime.fromisoformat(run["started_at"].replace("Z", "+00:00")),
                duration_ms=run["duration_ms"],
                as_of=date.fromisoformat(run["as_of"]),
                engine=run["engine"],
                packs=run["packs"],
                params={p.id: p.params for p in packs},
                options=options_json,
                summary=report["summary"],
                exit_code=result.exit_code,
            )
        )
        rows = []
        for finding in report["findings"]:
            entity = finding["entity"]
            status = "superseded" if finding.get("superseded_by") else "open"
            rows.append(
                {
                    "run_id": run["id"],
                    "rule": finding["rule"],
                    "name": finding["name"],
                    "pack": finding["pack"],
                    "level": finding["level"],
                    "entity_type": entity["type"],
                    "entity_id": entity["id"],
                    "merchant_id": entity.get("merchant"),
                    "aweme_id": entity.get("creator"),
                    "message": finding["message"],
                    "action_kind": (finding.get("action") or {}).get("kind"),
                    "action_params": (finding.get("action") or {}).get("params"),
                    "evidence": finding.get("evidence"),
                    "fingerprint": finding["fingerprint"],
                    "source": finding.get("source"),
                    "status": status,
                }
            )
        for item in report["waived"]:
            entity = item["entity"]
            rows.append(
                {
                    "run_id": run["id"],
                    "rule": item["rule"],
                    "name": "",
                    "pack": "",
                    "level": "info",
                    "entity_type": entity["type"],
                    "entity_id": entity["id"],
                    "merchant_id": entity.get("merchant"),
                    "aweme_id": entity.get("creator"),
                    "message": item["reason"],
                    "action_kind": None,
                    "action_params": None,
                    "evidence": {"expires": item["expires"]},
                    "fingerprint": item["fingerprint"],
                    "source": None,
                    "status": "waived",
                }
            )
        for start in range(0, len(rows), 2000):
            conn.execute(table(Finding).insert(), rows[start : start + 2000])


def stored_report(workspace: Workspace) -> dict[str, Any] | None:
    """The last stored run as a report (the shape `evaluate` gives), read back from the
    runs and findings tables — what the TUI shows at once while it evaluates again.

    Not kept in storage, so absent here: insufficient-data notes, waived findings (only
    counted) and which rule superseded a finding (its status says it was)."""
    from qcrules.model.tables import Creator

    runs, findings = table(EvaluationRun), table(Finding)
    creators, merchants = table(Creator), table(Merchant)
    with workspace.db.connect() as conn:
        run = (
            conn.execute(select(runs).order_by(runs.c.started_at.desc()).limit(1))
            .mappings()
            .first()
        )
        if run is None:
            return None
        rows = list(
            conn.execute(
                select(findings)
                .where(findings.c.run_id == run["run_id"], findings.c.status != "waived")
                .order_by(findings.c.id)
            ).mappings()
        )
        wanted = {r["aweme_id"] for r in rows if r["aweme_id"]}
        nicknames: dict[str, str] = {}
        if wanted:
            nicknames = {
                aweme: name
                for aweme, name in conn.execute(
                    select(creators.c.aweme_id, creators.c.nickname).where(
                        creators.c.aweme_id.in_(wanted)
                    )
                )
                if name
            }
        names = {
            mid: name
            for mid, name in conn.execute(select(merchants.c.merchant_id, merchants.c.name))
            if name
        }
    out = []
    for row in rows:
        entity: dict[str, Any] = {
            "type": row["entity_type"],
            "id": row["entity_id"],
            "merchant": row["merchant_id"],
        }
        if row["aweme_id"]:
            entity["creator"] = row["aweme_id"]
        name = (
            names.get(row["entity_id"])
            if row["entity_type"] == "merchant"
            else nicknames.get(row["aweme_id"] or "")
        )
        if name:
            entity["name"] = name
        finding = {
            "rule": row["rule"],
            "name": row["name"],
            "pack": row["pack"],
            "level": row["level"],
            "entity": entity,
            "message": row["message"],
            "action": {"kind": row["action_kind"], "params": row["action_params"] or {}},
            "evidence": row["evidence"] or {},
            "source": row["source"],
            "fingerprint": row["fingerprint"],
        }
        if row["status"] == "superseded":
            finding["superseded_by"] = "…"
        out.append(finding)
    started = run["started_at"]
    if started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    return {
        "qcrules_version": __version__,
        "run": {
            "id": run["run_id"],
            "as_of": run["as_of"].isoformat(),
            "started_at": started.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "duration_ms": run["duration_ms"],
            "engine": run["engine"],
            "packs": run["packs"] or [],
            "stored": True,
        },
        "summary": run["summary"] or {},
        "findings": out,
        "insufficient_data": [],
        "waived": [],
    }
