"""From raw findings to what an operator should do: waivers, holds, conflicts, baseline.

One entity gets at most one state-changing action per run; the highest priority wins and
the others are kept as findings marked `superseded_by` (never dropped silently). An entity
on hold keeps its findings but gets no action. Waived findings are counted apart; an expired
waiver is itself reported (warn), and so is a waiver that matched nothing (info).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from qcrules.config import Waiver
from qcrules.findings import Action, Finding, Subject, Waived
from qcrules.packs.model import LEVEL_RANK

WAIVER_EXPIRED = ("QCR001", "waiver-expired", "warn")
WAIVER_UNUSED = ("QCR002", "waiver-unused", "info")

# The core rules are judged by qcrules itself (they read the configuration, not facts);
# `qcrules rule QCR001` documents them like any pack rule.
CORE_RULES: dict[str, dict[str, Any]] = {
    "QCR001": {
        "name": "waiver-expired",
        "level": "warn",
        "entity": "waiver",
        "when": {
            "zh": "qcrules.toml 中的一条 [[waivers]] 的 expires 早于评估日期",
            "en": "a [[waivers]] entry in qcrules.toml has an expires date before the as-of date",
        },
        "why": {
            "zh": "过期的豁免不再生效：被它压下的发现会重新出现。过期本身也要告诉你，"
            "免得你以为问题仍被有意接受。",
            "en": "An expired waiver no longer applies, so the findings it hid come back; the "
            "expiry is reported so nobody believes the risk is still accepted on purpose.",
        },
        "action": "review_waiver",
        "advice": {
            "zh": "确认风险仍可接受就改一个新的 expires 日期，否则删掉这条豁免",
            "en": "give it a new expires date if the risk is still accepted, else remove it",
        },
        "source": "qcrules: waivers (contracts.md § configuration)",
    },
    "QCR002": {
        "name": "waiver-unused",
        "level": "info",
        "entity": "waiver",
        "when": {
            "zh": "一条有效的 [[waivers]] 在本次评估中没有匹配任何发现",
            "en": "an active [[waivers]] entry matched no finding in this run",
        },
        "why": {
            "zh": "不再匹配任何发现的豁免是过时的配置，日后可能悄悄压下一个新的真实问题。",
            "en": "A waiver that matches nothing is stale configuration that could later hide "
            "a new, real problem without anyone noticing.",
        },
        "action": "review_waiver",
        "advice": {
            "zh": "删掉这条豁免，或修正它的 rule / entity / merchant",
            "en": "remove the waiver, or fix its rule / entity / merchant",
        },
        "source": "qcrules: waivers (contracts.md § configuration)",
    },
}


def apply_waivers(
    findings: list[Finding], waivers: Iterable[Waiver], as_of: date, config_path: str | None
) -> tuple[list[Finding], list[Waived], list[Finding]]:
    """Split findings into (kept, waived) and report expired or unused waivers as findings."""
    waivers = list(waivers)
    active = [w for w in waivers if w.expires >= as_of]
    used: set[int] = set()
    kept: list[Finding] = []
    waived: list[Waived] = []
    for finding in findings:
        subject = finding.subject
        hit = next(
            (w for w in active if w.covers(finding.rule, subject.id, subject.merchant)),
            None,
        )
        if hit is None:
            kept.append(finding)
            continue
        used.add(id(hit))
        waived.append(Waived(finding, hit.reason, hit.expires.isoformat()))
    return kept, waived, waiver_notes(waivers, used, as_of, config_path)


def waiver_notes(
    waivers: list[Waiver], used: set[int], as_of: date, config_path: str | None
) -> list[dict]:
    """Findings about waivers that expired, or that matched none of the findings (`used`
    holds the `id()` of each waiver that matched one)."""
    meta: list[dict] = []
    where = f"{config_path}:{{line}}" if config_path else "qcrules.toml"
    for waiver in waivers:
        expired = waiver.expires < as_of
        if not expired and id(waiver) in used:
            continue
        rule_id, name, level = WAIVER_EXPIRED if expired else WAIVER_UNUSED
        target = f"{waiver.rule} / {waiver.entity}" + (
            f" @{waiver.merchant}" if waiver.merchant else ""
        )
        location = where.format(line=waiver.line or "?")
        if expired:
            message = (
                f"waiver for {target} expired on {waiver.expires.isoformat()} and no longer "
                f"applies ({location}); renew it with a new date or remove it"
            )
        else:
            message = f"waiver for {target} matched no finding ({location}); remove it"
        meta.append(
            Finding(
                rule_id,
                name,
                "qcrules",
                level,
                Subject("waiver", f"{waiver.rule}:{waiver.entity}", waiver.merchant),
                message,
                Action("review_waiver", {}),
                {"expires": waiver.expires.isoformat(), "reason": waiver.reason},
                f"waiver:{waiver.rule}:{waiver.entity}:{waiver.merchant or ''}",
                location,
            )
        )
    return meta


def plan_actions(
    findings: list[Finding],
    action_kinds: Mapping[str, Any],
    holds: Mapping[tuple, dict],
) -> int:
    """Resolve conflicts and holds in place; returns how many findings were superseded."""
    by_entity: dict[tuple, list[Finding]] = defaultdict(list)
    for finding in findings:
        key = finding.subject.key
        hold = holds.get(key) or holds.get((*key[:2], None))  # no merchant: for every one
        if hold is not None:
            finding.hold = hold
            finding.held_action, finding.action = finding.action, None
            continue
        kind = action_kinds.get(finding.action.kind) if finding.action is not None else None
        if kind is not None and kind.state_changing:
            by_entity[key].append(finding)
    superseded = 0
    for group in by_entity.values():
        if len(group) < 2:
            continue
        group.sort(
            key=lambda f: (
                -action_kinds[f.action.kind].priority,  # type: ignore[union-attr]
                -LEVEL_RANK[f.level],
                f.rule,
            )
        )
        winner = group[0]
        for loser in group[1:]:
            loser.superseded_by = winner.rule
            superseded += 1
    return superseded
