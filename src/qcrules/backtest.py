"""Backtest and what-if: a rule's effect over past days, or with other parameters, before
trusting it. Both run `qcrules.evaluation.evaluate` (the one rule reader) and store nothing.

- `whatif` evaluates as of one day with the current parameters and with `--set` overrides,
  and returns the difference.
- `backtest` evaluates every day of a range as of that day (its windows end there). The days
  share their work: the facts of every day come from one load of the range (see
  `qcrules.facts.rolling`), and verdicts are remembered across days.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from qcrules.errors import UsageError
from qcrules.evaluation import (
    EvaluateOptions,
    check_merchant,
    evaluate,
    load_checked_packs,
)
from qcrules.facts import build_facts
from qcrules.facts.core import Fact, FactSet
from qcrules.facts.schema import ENTITIES
from qcrules.findings import Finding
from qcrules.i18n import did_you_mean, tr
from qcrules.packs.loader import check_overrides
from qcrules.packs.registry import PackSet
from qcrules.workspace import Workspace

MAX_DAYS = 366  # a backtest longer than a year is almost surely a typo in --from
LEVELS_DOWN = ("critical", "error", "warn", "info")


# ---------------------------------------------------------------------------------------------
# --set PACK.PARAM=VALUE


def parse_value(raw: str) -> Any:
    """A `--set` value read as a TOML value (3, 0.02, true, "text", [..]); anything that is
    not TOML is taken as text, so `--set screening.category=美妆` needs no quotes."""
    text = raw.strip()
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except (tomllib.TOMLDecodeError, RecursionError):  # (nested over 400 deep: text too)
        return text


def parse_sets(packset: PackSet, sets: list[str] | tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """`PACK.PARAM=VALUE` items → {pack: {param: value}}, checked as [params] in qcrules.toml
    is checked: the pack and the parameter must exist, and the value has the declared type."""
    packs = {p.id: p for p in [*packset.packs, *packset.disabled]}
    out: dict[str, dict[str, Any]] = {}
    for item in sets:
        key, sep, raw = item.partition("=")
        pack_id, dot, name = key.strip().partition(".")
        if not sep or not dot or not pack_id or not name.strip():
            raise UsageError(
                tr(
                    f"--set {item!r} 不是 规则包.参数=值", f"--set {item!r} is not PACK.PARAM=VALUE"
                ),
                hint=tr(
                    "例如 --set monitoring.min_days=5", "for example --set monitoring.min_days=5"
                ),
            )
        name = name.strip()
        pack = packs.get(pack_id)
        if pack is None:
            raise UsageError(
                tr(
                    f"--set {item!r}：没有规则包 {pack_id!r}",
                    f"--set {item!r}: no pack {pack_id!r}",
                )
                + did_you_mean(pack_id, packs),
                hint=tr("规则包：", "packs: ") + ", ".join(packs),
            )
        if name not in pack.params:
            raise UsageError(
                tr(
                    f"--set {item!r}：规则包 {pack_id!r} 没有参数 {name!r}",
                    f"--set {item!r}: pack {pack_id!r} has no parameter {name!r}",
                )
                + did_you_mean(name, pack.params, form=pack_id + ".{}"),
                hint=tr("它的参数：", "its parameters: ")
                + f"{', '.join(pack.params) or '-'} (`qcrules packs show {pack_id}`)",
            )
        value = parse_value(raw)
        problems = check_overrides(pack, {name: value}, "--set")
        if problems:
            declared = pack.param_ranges.get(name)
            raise UsageError(
                f"--set {item!r}: {problems[0].message}",
                hint=tr(
                    f"现在的值是 {pack.params[name]!r}",
                    f"the current value is {pack.params[name]!r}",
                )
                + (
                    tr(
                        f"；{name} 须为{declared.describe()}",
                        f"; {name} takes {declared.describe()}",
                    )
                    if declared is not None
                    else ""
                ),
            )
        out.setdefault(pack_id, {})[name] = value
    return out


def _param_changes(packset: PackSet, overrides: dict[str, dict[str, Any]]) -> dict[str, Any]:
    packs = {p.id: p for p in [*packset.packs, *packset.disabled]}
    return {
        pack_id: {
            name: {"current": packs[pack_id].params.get(name), "new": value}
            for name, value in values.items()
        }
        for pack_id, values in overrides.items()
    }


def _key(finding: Finding) -> str:
    """A finding's identity (rule, entity, merchant): its fingerprint."""
    return finding.fingerprint


# ---------------------------------------------------------------------------------------------
# what-if


@dataclass
class WhatIf:
    """The findings the overrides add and remove, against the current parameters."""

    as_of: date
    added: list[Finding]
    removed: list[Finding]
    unchanged: int
    params: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "added": [f.to_json() for f in self.added],
            "removed": [f.to_json() for f in self.removed],
            "unchanged": self.unchanged,
            "params": self.params,
        }


class _SharedFacts:
    """One facts build for both evaluations of a what-if. Facts do not depend on rule
    parameters except through what the build is given (the streak's spend floor, the days
    left out at the end), and those are its key: a parameter that changes them gets its own
    build. Each evaluation gets its own copies of the facts, since plugin fields are written
    into them."""

    def __init__(self) -> None:
        self.built: dict[tuple, FactSet] = {}

    @classmethod
    def for_scope(cls, workspace: Workspace, merchant: str | None) -> _SharedFacts | None:
        """Only where one build holds the whole scope: a larger workspace is built and let
        go a batch at a time, and keeping every batch for the second evaluation would hold
        all of its facts at once."""
        from qcrules.scope import batches

        return cls() if len(batches(workspace, merchant, None)) == 1 else None

    def __call__(self, db: Any, as_of: date, **options: Any) -> FactSet:
        key = (as_of, repr(sorted(options.items())))
        facts = self.built.get(key)
        if facts is None:
            facts = self.built[key] = build_facts(db, as_of, **options)
        copy = replace(facts)
        for entity in ENTITIES:
            setattr(
                copy,
                entity,
                [
                    Fact(f.entity_type, f.entity_id, f.merchant_id, f.aweme_id, dict(f.values))
                    for f in facts[entity]
                ],
            )
        return copy


def whatif(
    workspace: Workspace,
    sets: list[str] | tuple[str, ...] | dict[str, dict[str, Any]],
    *,
    merchant: str | None = None,
    as_of: date | None = None,
) -> WhatIf:
    """Evaluate with and without the overrides (nothing stored) and diff the findings."""
    base = EvaluateOptions(merchant=merchant, as_of=as_of or date.today(), store=False)
    packset = load_checked_packs(workspace, base)
    overrides = sets if isinstance(sets, dict) else parse_sets(packset, sets)
    if not overrides:
        raise UsageError(
            tr("至少给一个 --set 规则包.参数=值", "give at least one --set PACK.PARAM=VALUE")
        )
    check_merchant(workspace, merchant)
    shared = _SharedFacts.for_scope(workspace, merchant)
    before = evaluate(workspace, base, packset=packset, facts_source=shared).findings
    changed = replace(base, params=overrides)
    packset_after = load_checked_packs(workspace, changed)
    after = evaluate(workspace, changed, packset=packset_after, facts_source=shared).findings
    old = {_key(f): f for f in before}
    new = {_key(f): f for f in after}
    return WhatIf(
        as_of=base.as_of or date.today(),
        added=[f for k, f in new.items() if k not in old],
        removed=[f for k, f in old.items() if k not in new],
        unchanged=sum(1 for k in new if k in old),
        params=_param_changes(packset, overrides),
    )


# ---------------------------------------------------------------------------------------------
# backtest


@dataclass
class BacktestDay:
    as_of: date
    findings: int
    by_rule: dict[str, int]
    by_level: dict[str, int]
    new: list[dict[str, Any]]
    resolved: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "findings": self.findings,
            "by_rule": self.by_rule,
            "new": self.new,
            "resolved": self.resolved,
        }


@dataclass
class Backtest:
    """Every day of the range, and per rule: the first day it fired, on how many days, and
    how many distinct entities it named."""

    days: list[BacktestDay]
    rules: dict[str, dict[str, Any]]
    levels: dict[str, str] = field(default_factory=dict)  # rule -> level
    params: dict[str, Any] = field(default_factory=dict)
    # rule -> the fingerprints it named: what parts of a range run apart are merged by
    named: dict[str, set[str]] = field(default_factory=dict, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"days": [d.to_json() for d in self.days], "rules": self.rules}


def _brief(finding: Finding) -> dict[str, Any]:
    """What a backtest keeps of a finding: enough to name it, not its whole evidence."""
    return {
        "rule": finding.rule,
        "level": finding.level,
        "entity": finding.subject.to_json(),
        "message": finding.message,
        "fingerprint": finding.fingerprint,
    }


def backtest(
    workspace: Workspace,
    start: date,
    end: date,
    *,
    packs: list[str] | None = None,
    select: list[str] | None = None,
    merchant: str | None = None,
    sets: list[str] | tuple[str, ...] | dict[str, dict[str, Any]] = (),
    progress=None,
    jobs: int = 1,
) -> Backtest:
    """Evaluate every day from `start` to `end` as of that day; nothing is stored.

    A day's `new` and `resolved` compare it with the day before (for the first day, the day
    before the range, evaluated too). `progress(done, total)` is called after each day (with
    `jobs`, after each part). `jobs` > 1 splits the range into that many consecutive parts,
    each backtested in its own process (one per core); the result is the same."""
    if start > end:
        raise UsageError(
            tr(f"--from {start} 晚于 --to {end}", f"--from {start} is after --to {end}"),
            hint=tr("--from 给较早的那天", "give the earlier day as --from"),
        )
    latest = date.today() + timedelta(days=1)  # tomorrow: 北京 time may be a day ahead
    if end > latest:
        raise UsageError(
            tr(
                f"--to {end} 在今天之后：未来的日子没有数据可回测",
                f"--to {end} is after today: no day to come has data to replay",
            ),
            hint=tr(f"--to 最晚为 {latest}", f"give --to {latest} at the latest"),
        )
    total = (end - start).days + 1
    if total > MAX_DAYS:
        raise UsageError(
            tr(
                f"回测 {total} 天，超过 {MAX_DAYS} 天",
                f"a backtest of {total} days is longer than {MAX_DAYS}",
            ),
            hint=tr("每次回测一年以内", "backtest a year or less at a time"),
        )
    base = EvaluateOptions(
        packs=list(packs or []),
        select=list(select or []),
        merchant=merchant,
        store=False,
        fail_on="never",
    )
    packset = current = load_checked_packs(workspace, base)
    overrides = sets if isinstance(sets, dict) else parse_sets(packset, sets)
    if overrides:
        base = replace(base, params=overrides)
        packset = load_checked_packs(workspace, base)
    check_merchant(workspace, merchant)
    levels = {r.id: r.level for p in [*packset.packs, *packset.disabled] for r in p.rules}
    if jobs < 1:
        raise UsageError(
            tr(f"--jobs {jobs} 应不小于 1", f"--jobs {jobs} must be at least 1"),
            hint=tr("例如 --jobs 2（每核一个进程）", "for example --jobs 2 (a process per core)"),
        )
    if jobs > 1 and total > 1:
        parts = _split(start, end, min(jobs, total))
        options = {"packs": packs, "select": select, "merchant": merchant, "sets": overrides}
        return _merged(
            _in_parts(workspace, parts, options, progress, total),
            levels,
            _param_changes(current, overrides),
        )

    from qcrules.facts.rolling import RollingFacts

    days: list[BacktestDay] = []
    rules: dict[str, dict[str, Any]] = {}
    entities: dict[str, set[str]] = {}
    previous: dict[str, Finding] | None = None
    first = start - timedelta(days=1)
    with RollingFacts(workspace.db, first, end) as rolling:
        for offset in range(total + 1):
            day = first + timedelta(days=offset)
            result = evaluate(
                workspace,
                replace(base, as_of=day),
                packset=packset,
                facts_source=rolling.build_facts,
                factory=rolling.factory,
            )
            today = {_key(f): f for f in result.findings}
            del result  # its facts: one day's at a time is enough (an L day is ~0.5 GB)
            if previous is not None:
                by_rule = Counter(f.rule for f in today.values())
                by_level = Counter(f.level for f in today.values())
                days.append(
                    BacktestDay(
                        as_of=day,
                        findings=len(today),
                        by_rule=dict(sorted(by_rule.items())),
                        by_level={level: by_level.get(level, 0) for level in LEVELS_DOWN},
                        new=[_brief(f) for k, f in today.items() if k not in previous],
                        resolved=[_brief(f) for k, f in previous.items() if k not in today],
                    )
                )
                for key, finding in today.items():
                    rule = finding.rule
                    rules.setdefault(
                        rule, {"first_seen": day.isoformat(), "days_firing": 0, "entities": 0}
                    )
                    entities.setdefault(rule, set()).add(key)
                for rule in by_rule:
                    rules[rule]["days_firing"] += 1
                if progress is not None:
                    progress(len(days), total)
            previous = today
    for rule, seen in entities.items():
        rules[rule]["entities"] = len(seen)
    return Backtest(
        days=days,
        rules=dict(sorted(rules.items())),
        levels=levels,
        params=_param_changes(current, overrides),
        named=entities,
    )


def _split(start: date, end: date, parts: int) -> list[tuple[date, date]]:
    """The range as `parts` consecutive runs of days, as even as they come."""
    total = (end - start).days + 1
    out, first = [], start
    for index in range(parts):
        size = total // parts + (1 if index < total % parts else 0)
        out.append((first, first + timedelta(days=size - 1)))
        first += timedelta(days=size)
    return out


def _in_parts(workspace, parts, options, progress, total) -> list[Backtest]:
    """Each part in its own process at once (threads only wait for the children)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    done = 0
    counting = threading.Lock()

    def run(part: tuple[date, date]) -> Backtest:
        nonlocal done
        result = backtest_apart(workspace, part[0], part[1], **options)
        with counting:  # parts end in any order: each count reported once, rising
            done += len(result.days)
            if progress is not None:
                progress(done, total)
        return result

    with ThreadPoolExecutor(len(parts)) as pool:
        return list(pool.map(run, parts))


def _merged(results: list[Backtest], levels: dict[str, str], params: dict) -> Backtest:
    """Consecutive parts as one backtest: each part's first day was already compared with
    the day before it, so the days simply follow; per rule the earliest first day, the
    days firing summed and the entities it named counted once."""
    rules: dict[str, dict[str, Any]] = {}
    named: dict[str, set[str]] = {}
    for result in results:
        for rule, info in result.rules.items():
            merged = rules.setdefault(rule, {**info, "days_firing": 0})
            merged["first_seen"] = min(merged["first_seen"], info["first_seen"])
            merged["days_firing"] += info["days_firing"]
            named.setdefault(rule, set()).update(result.named.get(rule, set()))
    for rule, seen in named.items():
        rules[rule]["entities"] = len(seen)
    return Backtest(
        days=[day for result in results for day in result.days],
        rules=dict(sorted(rules.items())),
        levels=levels,
        params=params,
        named=named,
    )


def backtest_apart(
    workspace: Workspace, start: date, end: date, *, started=None, **options: Any
) -> Backtest:
    """`backtest` in a child process (qcrules.apart), for an interactive app: its minute of
    CPU on M (and a day's facts, ~0.5 GB at L) stay out of the app's process, so the app's UI
    thread never waits for the GIL behind it and its memory goes back when the backtest ends."""
    from qcrules.apart import call_apart

    return call_apart(workspace, "backtest", start, end, started=started, **options)


def whatif_apart(workspace: Workspace, sets: Any, *, started=None, **options: Any) -> WhatIf:
    """`whatif` in a child process (qcrules.apart), for an interactive app: its two
    evaluations keep neither the app's GIL nor, once killed, the app's exit waiting."""
    from qcrules.apart import call_apart

    return call_apart(workspace, "whatif", sets, started=started, **options)


# ---------------------------------------------------------------------------------------------
# saving what-if parameters


def save_params(
    workspace: Workspace, overrides: dict[str, dict[str, Any]], *, note: str | None = None
) -> Path:
    """Write `overrides` into [params.<pack>] of the workspace's qcrules.toml and reload it.

    tomlkit edits the document in place, so the user's comments and layout stay; the file is
    replaced in one step (never half written). The values are checked first, as `--set` is.
    A `note` (why the value changed) is written as a comment on each value's line."""
    from qcrules.config import set_config_values

    path = workspace.config.path
    if path is None:
        raise UsageError(
            "this workspace has no qcrules.toml to save parameters into",
            hint="run `qcrules init` in the workspace folder first",
        )
    packset = load_checked_packs(workspace, EvaluateOptions())
    items = [
        f"{pack}.{name}={_toml(value)}"
        for pack, v in overrides.items()
        for name, value in v.items()
    ]
    checked = parse_sets(packset, items)
    set_config_values(
        path, {("params", pack): values for pack, values in checked.items()}, comment=note
    )
    workspace.reload_config()
    return path


def _toml(value: Any) -> str:
    """A value as TOML text, for `parse_sets` to read back exactly."""
    import tomlkit

    return tomlkit.item(value).as_string()
