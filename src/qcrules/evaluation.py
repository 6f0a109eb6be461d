"""`evaluate`: packs + facts → findings, waivers, holds, conflicts → a stored run and a report.

The faces (CLI, TUI) call this through `qcrules.service`; nothing here prints.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import json
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from qcrules import __version__
from qcrules.actions.agreement import require_merchant
from qcrules.actions.kinds import steps_for
from qcrules.actions.planning import apply_waivers, plan_actions
from qcrules.config import Config
from qcrules.engine import select_engine
from qcrules.engine.run import Accounting, EntityPlan, judge
from qcrules.errors import PackError, UsageError
from qcrules.facts.builders import build_facts
from qcrules.facts.core import Fact, FactSet
from qcrules.findings import Action, Finding, RunInfo, RunReport, Subject, Waived, utc_text
from qcrules.i18n import did_you_mean, language, pick, tr
from qcrules.packs.messages import render_message
from qcrules.packs.model import LEVEL_RANK, LEVELS, Pack, matches_code
from qcrules.packs.registry import PackSet, load_packs
from qcrules.runs import load_holds, store_run
from qcrules.safety import check_day
from qcrules.workspace import Workspace

FAIL_ON = ("critical", "error", "warn", "info", "never")
CONSISTENT_ATTEMPTS = 3  # evaluations begun again when the records change under one


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
    # splitting a workspace (qcrules.scope): the merchants judged (None: all), a shard
    # (k, n) of them, parallel processes, and how many entities one batch of facts holds
    merchants: list[str] | None = None
    shard: tuple[int, int] | None = None
    jobs: int = 1
    batch_entities: int | None = None
    keep_facts: bool = True  # the TUI shows them; junit lists every check

    def __post_init__(self) -> None:
        # `--select MON004,PRM014` as ruff takes it: each comma-separated item on its own
        for name in ("packs", "select", "ignore"):
            given = getattr(self, name)
            setattr(self, name, [p.strip() for g in given for p in str(g).split(",") if p.strip()])


@dataclass
class EvaluationResult:
    report: dict[str, Any]
    exit_code: int
    packset: PackSet
    accounting: Accounting
    facts: dict[str, list[Fact]] = field(default_factory=dict)
    # the report's findings and waived findings, typed (the report is their JSON)
    findings: list[Finding] = field(default_factory=list)
    waived: list[Waived] = field(default_factory=list)
    _plans: list[tuple[EntityPlan, list[Fact]]] = field(default_factory=list)
    _outcomes: dict[tuple, str] = field(default_factory=dict)

    @property
    def run_report(self) -> RunReport:
        """The report, typed (it shares this result's findings: nothing is copied)."""
        report = self.report
        return RunReport(
            RunInfo.from_json(report["run"]),
            report["summary"],
            self.findings,
            report["insufficient_data"],
            self.waived,
            report["qcrules_version"],
        )

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
        require_merchant(conn, merchant)


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


def _subject(fact: Fact) -> Subject:
    names = {"creator": "nickname", "grant": "creator.nickname", "merchant": "name"}
    # the 抖音号 千川 search uses: how a 投手 finds the creator
    handles = {"creator": "aweme_show_id", "grant": "creator.aweme_show_id"}
    return Subject(
        fact.entity_type,
        fact.entity_id,
        fact.merchant_id,
        fact.aweme_id if fact.entity_type in ("grant", "creator") else None,
        fact.values.get(names[fact.entity_type]) or None,
        fact.values.get(handles.get(fact.entity_type, "")) or None,
    )


def _action(kind: str, params: Any, lang: str) -> Action:
    """The suggested action, with where to do it in 千川 (PC and 随心推) when known."""
    return Action(kind, dict(params), steps_for(kind, lang) or None)


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


def fields_read(packs: list[Pack]) -> set[str]:
    """Every field the packs' rules may read: conditions, guards, `applies`, message and
    why templates."""
    import string

    from qcrules.packs.expr.parse import fields_read as read

    out: set[str] = set()
    for pack in packs:
        out.update(pack.guard_fields)
        if pack.applies_node is not None:
            out.update(read(pack.applies_node))
        for rule in pack.rules:
            out.update(rule.fields)
            out.update(rule.guard_fields)
            for template in [*rule.message.values(), *rule.why.values()]:
                with contextlib.suppress(ValueError):
                    out.update(
                        name
                        for _, name, _, _ in string.Formatter().parse(template)
                        if name and not name.startswith("params.")
                    )
    return out


def compute_plugin_fields(
    facts: FactSet,
    packset: PackSet,
    context: dict[str, Any],
    packs: list[Pack] | None = None,
) -> None:
    """Fill plugin-provided fields, one batch per entity, so plugins stay set-based.

    Only the fields `packs` (default: every pack of the set, disabled ones too, since
    `explain` shows them) read are computed: a field no such rule reads: a plugin's broken or slow field then
    costs nothing to the packs that do not use it. A compute that raises is a
    `PluginFieldError` naming the plugin, the field and the entity it failed on."""
    from qcrules.plugins.manager import get_host

    wanted = None
    for extra in get_host().contributions().fields:
        batch = facts[extra.entity]
        if not batch:
            continue
        if wanted is None:
            wanted = fields_read(packs if packs is not None else packset.packs + packset.disabled)
        if extra.name not in wanted:
            continue
        try:
            values = extra.compute(batch, context)
            if not isinstance(values, dict):
                values = list(values)
        except Exception as exc:
            raise _field_failed(extra, batch, context, exc) from exc
        if isinstance(values, dict):
            for fact in batch:
                fact.values[extra.name] = values.get(
                    (fact.entity_id, fact.merchant_id), values.get(fact.entity_id)
                )
        else:
            if len(values) != len(batch):
                raise UsageError(
                    f"plugin field {extra.name!r} ({extra.origin}) returned {len(values)} values "
                    f"for {len(batch)} facts"
                )
            for fact, value in zip(batch, values, strict=True):
                fact.values[extra.name] = value


def _field_failed(extra, batch: list[Fact], context: dict[str, Any], exc: Exception):
    """The error for a plugin field whose compute raised: which entity it fails on is found
    by computing the batch again one fact at a time (only on this error path)."""
    from qcrules.plugins.manager import PluginFieldError

    culprit = None
    if len(batch) == 1:
        culprit = batch[0]
    else:
        for fact in batch:
            try:
                values = extra.compute([fact], context)
                if not isinstance(values, dict):
                    list(values)
            except Exception as single:
                culprit, exc = fact, single
                break
    where = (
        f"{culprit.entity_type} {culprit.entity_id}"
        + (f" (merchant {culprit.merchant_id})" if culprit.merchant_id else "")
        if culprit is not None
        else f"a batch of {len(batch)} {extra.entity} facts"
    )
    return PluginFieldError(
        f"plugin {extra.origin!r} failed computing fact field {extra.name!r} "
        f"({extra.entity}) on {where}: {type(exc).__name__}: {exc}",
        hint=f"fix or update the plugin, or skip it with QCRULES_DISABLE_PLUGINS={extra.origin} "
        "(docs/plugins.md § Loading and safety)",
    )


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


@dataclass
class Judged:
    """What judging some merchants found, before waivers, holds and supersession: a serial
    evaluation's whole workspace, or one `--jobs` part (picklable: it comes back from a
    child process), merged with `add`."""

    findings: list[Finding] = field(default_factory=list)
    # (rule, subject, missing fields, guard text or None): `_notes` makes their JSON
    insufficient: list[tuple] = field(default_factory=list)
    outcomes: dict[tuple, str] = field(default_factory=dict)
    accounting: Accounting = field(default_factory=Accounting)
    entity_counts: dict[str, int] = field(default_factory=dict)  # distinct entities judged
    data_through: dict[str, date] = field(default_factory=dict)
    window_ends: dict[str, str] = field(default_factory=dict)
    facts: dict[str, list[Fact]] = field(default_factory=dict)
    plans: list[tuple[EntityPlan, list[Fact]]] = field(default_factory=list)

    def add(self, other: Judged) -> None:
        self.findings += other.findings
        self.insufficient += other.insufficient
        self.outcomes.update(other.outcomes)
        for name, value in other.accounting.to_json().items():
            setattr(self.accounting, name, getattr(self.accounting, name) + value)
        for entity, count in other.entity_counts.items():  # disjoint merchants: they add up
            self.entity_counts[entity] = self.entity_counts.get(entity, 0) + count
        self.data_through.update(other.data_through)
        for mid, end in other.window_ends.items():
            self.window_ends.setdefault(mid, end)
        for entity, facts in other.facts.items():
            self.facts.setdefault(entity, []).extend(facts)
        self.plans += other.plans


def _finding_order(f: Finding) -> tuple:
    return (-LEVEL_RANK[f.level], f.rule, f.subject.type, str(f.subject.merchant), f.subject.id)


def judge_scope(
    workspace: Workspace,
    options: EvaluateOptions,
    as_of: date,
    packset: PackSet | None = None,
    packs: list[Pack] | None = None,
    *,
    factory: Callable | None = None,
    build: FactsSource | None = None,
    lang: str | None = None,
) -> Judged:
    """Build and judge the facts of the options' merchants (all, `--merchant`, a shard's or a
    `--jobs` part's), a batch of merchants at a time: a batch's facts are let go once judged
    (unless `options.keep_facts`), so memory follows the largest batch, not the workspace."""
    from qcrules.scope import batches

    if packset is None:
        packset = load_checked_packs(workspace, options)
    if packs is None:
        packs = select_packs(packset, options)
    factory = factory or select_engine()[1]
    build = build or build_facts
    lang = lang or options.lang or language()
    keep = rule_filter(options)
    out = Judged()
    findings, insufficient = out.findings, out.insufficient
    data_through, window_ends, entity_counts = (
        out.data_through,
        out.window_ends,
        out.entity_counts,
    )
    if build is build_facts:
        parts = batches(workspace, options.merchant, options.merchants, options.batch_entities)
    else:  # a backtest's rolling facts: one build a day
        parts = [None if options.merchants is None else list(options.merchants)]
    # facts: one build per distinct `exclude_recent_days` among the packs in effect
    by_shift: dict[int, list[Pack]] = defaultdict(list)
    for pack in packs:
        by_shift[int(pack.params.get("exclude_recent_days", 0) or 0)].append(pack)
    seen: dict[str, set] = defaultdict(set)  # this batch's entities (a shift builds them again)
    first_shift = min(by_shift, default=0)
    for part, (shift, group) in itertools.product(parts, sorted(by_shift.items())):
        if shift == first_shift:  # a new batch: count the last one's entities, let them go
            _count(entity_counts, seen)
            if not options.keep_facts and len(parts) > 1:
                _give_back_memory()
        entities = sorted({r.entity for p in group for r in p.rules if r.enabled and keep(r)})
        if not entities:
            continue
        floor, merchant_floors = streak_floors(group, workspace)
        facts = build(
            workspace.db,
            as_of,
            entities=entities,
            merchant_id=options.merchant,
            merchants=part,
            exclude_recent_days=shift,
            merchant_defaults=workspace.config.merchants,
            min_daily_spend=floor,
            merchant_min_daily_spend=merchant_floors,
        )
        data_through.update(facts.data_through)
        for mid, end in facts.window_ends.items():  # the unshifted build's, when there is one
            window_ends.setdefault(mid, end.isoformat())
        compute_plugin_fields(facts, packset, facts_context(workspace, facts), group)
        for entity in entities:
            seen[entity].update((f.entity_id, f.merchant_id) for f in facts[entity])
            judged = judge(
                entity,
                group,
                facts[entity],
                factory,
                params_for=lambda p, m: merchant_params(p, workspace, m),
                keep=keep,
                plans=out.plans if options.keep_facts else None,
            )
            for plan, fact, outcome in judged:
                out.accounting.add(outcome, len(plan.rules))
                if not outcome.matched and not outcome.insufficient:
                    continue  # most facts: nothing to report
                subject = _subject(fact)
                for compiled in outcome.matched:
                    rule = compiled.rule
                    evidence = {f: fact.values.get(f) for f in rule.fields}
                    evidence.update(
                        {f"params.{p}": compiled.params.get(p) for p in rule.params_used}
                    )
                    findings.append(
                        Finding(
                            rule.id,
                            rule.name,
                            rule.pack,
                            rule.level,
                            subject,
                            render_message(pick(rule.message, lang), fact.values, compiled.params),
                            _action(rule.action_kind, rule.action_params, lang),
                            evidence,
                            fingerprint(
                                rule.id, fact.entity_type, fact.entity_id, fact.merchant_id
                            ),
                            rule.source,
                        )
                    )
                for compiled, missing, by_guard in outcome.insufficient:
                    guard = plan.guard_text.get(compiled.guard_key or "", "") if by_guard else None
                    # a tuple, not the note's JSON: an XL run holds a million of them
                    insufficient.append((compiled.rule.id, subject, tuple(missing), guard))
                    if not options.keep_facts:
                        continue  # outcomes serve checks(), which needs the facts too
                    out.outcomes[
                        (
                            compiled.rule.id,
                            fact.entity_type,
                            fact.entity_id,
                            fact.merchant_id or "",
                        )
                    ] = "insufficient_data"
        if options.keep_facts:
            for e in entities:
                out.facts.setdefault(e, []).extend(facts[e])
    _count(entity_counts, seen)
    return out


def _notes(insufficient: list) -> list[dict[str, Any]]:
    """The insufficient-data notes' JSON, made once the facts are gone and in place (each
    tuple gives way to its note, so the two never both fill memory); an entity's JSON and a
    list of missing fields are shared by every note that has them."""
    entities: dict[tuple, dict[str, Any]] = {}
    missing_lists: dict[tuple, list[str]] = {}
    for i, (rule, subject, missing, guard) in enumerate(insufficient):
        entity = entities.get(subject.key)
        if entity is None:
            entity = entities[subject.key] = subject.to_json()
        fields = missing_lists.get(missing)
        if fields is None:
            fields = missing_lists[missing] = list(missing)
        note = {"rule": rule, "entity": entity, "missing": fields}
        if guard is not None:
            note["guard"] = guard
        insufficient[i] = note
    return insufficient


@functools.cache
def _malloc_trim() -> Callable[[int], Any] | None:
    """glibc's malloc_trim, looked up once (find_library runs ldconfig); None elsewhere."""
    import ctypes
    import ctypes.util

    with contextlib.suppress(OSError, AttributeError, TypeError):
        return ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim
    return None


def _give_back_memory() -> None:
    """Return the heap pages the freed facts left to the system (glibc keeps them for
    itself otherwise; Python's small-object arenas cannot reuse them), so the report built
    next does not add to the judging's high-water mark."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _count(counts: dict[str, int], seen: dict[str, set]) -> None:
    for entity, keys in seen.items():
        counts[entity] = counts.get(entity, 0) + len(keys)
    seen.clear()


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
    if not checked:
        check_merchant(workspace, options.merchant)
    if options.shard is not None and options.merchants is None:
        from qcrules.scope import shard_merchants

        options = replace(options, merchants=shard_merchants(workspace, options.shard))
    baseline = _load_baseline(options.baseline) if options.baseline else None
    as_of = options.as_of or date.today()
    check_day(as_of, "as of")
    engine_name, default_factory = select_engine()
    factory = factory or default_factory
    build = facts_source or build_facts
    lang = options.lang or language()

    result = EvaluationResult({}, 0, packset, Accounting())
    for attempt in range(1, CONSISTENT_ATTEMPTS + 1):
        # the records' version before they are read: a change meanwhile leaves it behind
        data_version = workspace.db.data_version()
        if options.jobs > 1 and facts_source is None:
            from qcrules.scope import judge_in_parts

            judged = judge_in_parts(workspace, options, as_of)
        else:
            judged = judge_scope(
                workspace,
                options,
                as_of,
                packset,
                packs,
                factory=factory,
                build=build,
                lang=lang,
            )
        # parts (--jobs) and batches each read their own snapshot: an import committed in
        # between would give one report of two states of the records. Judged again then.
        if facts_source is not None or workspace.db.data_version() == data_version:
            break
        if attempt == CONSISTENT_ATTEMPTS:
            raise UsageError(
                tr(
                    f"评估期间数据被改动了 {attempt} 次（导入或动作）：没有得到一致的结果",
                    f"the records changed {attempt} times during the evaluation (imports or "
                    "actions): no consistent result",
                ),
                hint=tr("等导入结束后再评估", "evaluate again once the imports are done"),
            )
    if not options.store:
        data_version = None
    if not options.keep_facts:
        _give_back_memory()  # the batches' facts are gone: the notes' JSON can use the room
    result.accounting = judged.accounting
    result.facts = judged.facts
    result._plans = judged.plans
    result._outcomes = judged.outcomes
    findings, insufficient = judged.findings, judged.insufficient
    data_through, window_ends, entity_counts = (
        judged.data_through,
        judged.window_ends,
        judged.entity_counts,
    )
    result.accounting.verify()
    findings.sort(key=_finding_order)
    insufficient.sort(key=lambda n: (n[0], n[1].type, str(n[1].merchant), n[1].id))

    kept, waived, waiver_findings = apply_waivers(
        findings,
        workspace.config.waivers,
        as_of,
        str(workspace.config.path) if workspace.config.path else None,
    )
    for item in waived:
        subject = item.finding.subject
        result._outcomes[(item.finding.rule, *subject.key[:2], subject.merchant or "")] = "waived"
    if not options.select and not options.packs and options.shard is None:
        kept += waiver_findings  # a shard's are made when its run is merged (all findings)
    holds = load_holds(workspace, as_of)
    superseded = plan_actions(kept, packset.actions, holds)
    baseline_hidden = 0
    if baseline is not None:
        before = len(kept)
        kept = [f for f in kept if f.fingerprint not in baseline]
        baseline_hidden = before - len(kept)
    kept.sort(key=_finding_order)

    counts = {level: 0 for level in reversed(LEVELS)}
    for finding in kept:
        counts[finding.level] += 1
    exit_code = 0
    if options.fail_on != "never" and not options.exit_zero:
        threshold = LEVEL_RANK[options.fail_on]
        if any(LEVEL_RANK[f.level] >= threshold for f in kept):
            exit_code = 1
    run_id = f"{started_at:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    used_packs = [p.summary() for p in packs]
    report = {
        "qcrules_version": __version__,
        "run": {
            "id": run_id,
            "as_of": as_of.isoformat(),
            "started_at": utc_text(started_at),
            "duration_ms": 0,
            "engine": engine_name,
            "packs": used_packs,
            # the newest metric day up to as_of, and where each merchant's windows end
            "data_through": max(data_through.values()).isoformat() if data_through else None,
            "window_ends": dict(sorted(window_ends.items())),
        },
        "summary": {
            "entities": {
                e: entity_counts[e] for e in ("creator", "grant", "merchant") if e in entity_counts
            },
            "findings": counts,
            "waived": len(waived),
            "insufficient_data": len(insufficient),
            "superseded": superseded,
            "baseline_hidden": baseline_hidden,
            "checks": result.accounting.to_json(),
        },
        "findings": [f.to_json() for f in kept],
        "insufficient_data": _notes(insufficient),
        "waived": [w.to_json() for w in waived],
    }
    report["run"]["duration_ms"] = int((time.perf_counter() - started) * 1000)
    result.report = report
    result.findings, result.waived = kept, waived
    result.exit_code = exit_code
    if options.store:
        store_run(workspace, result, options, packs, data_version)
    return result
