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
from qcrules.packs.model import LEVEL_RANK

WAIVER_EXPIRED = ("QCR001", "waiver-expired", "warn")
WAIVER_UNUSED = ("QCR002", "waiver-unused", "info")


def _entity_key(finding: dict) -> tuple:
    entity = finding["entity"]
    return entity["type"], entity["id"], entity.get("merchant")


def apply_waivers(
    findings: list[dict], waivers: Iterable[Waiver], as_of: date, config_path: str | None
) -> tuple[list[dict], list[dict], list[dict]]:
    """Split findings into (kept, waived) and report expired or unused waivers as findings."""
    waivers = list(waivers)
    active = [w for w in waivers if w.expires >= as_of]
    used: set[int] = set()
    kept, waived = [], []
    for finding in findings:
        entity = finding["entity"]
        hit = next(
            (w for w in active if w.covers(finding["rule"], entity["id"], entity.get("merchant"))),
            None,
        )
        if hit is None:
            kept.append(finding)
            continue
        used.add(id(hit))
        waived.append(
            {
                "rule": finding["rule"],
                "entity": entity,
                "reason": hit.reason,
                "expires": hit.expires.isoformat(),
                "fingerprint": finding["fingerprint"],
            }
        )
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
            {
                "rule": rule_id,
                "name": name,
                "pack": "qcrules",
                "level": level,
                "entity": {
                    "type": "waiver",
                    "id": f"{waiver.rule}:{waiver.entity}",
                    "merchant": waiver.merchant,
                },
                "message": message,
                "action": {"kind": "review_waiver", "params": {}},
                "evidence": {"expires": waiver.expires.isoformat(), "reason": waiver.reason},
                "fingerprint": f"waiver:{waiver.rule}:{waiver.entity}:{waiver.merchant or ''}",
                "source": location,
                "superseded_by": None,
            }
        )
    return kept, waived, meta


def plan_actions(
    findings: list[dict],
    action_kinds: Mapping[str, Any],
    holds: Mapping[tuple, dict],
) -> int:
    """Resolve conflicts and holds in place; returns how many findings were superseded."""
    by_entity: dict[tuple, list[dict]] = defaultdict(list)
    for finding in findings:
        key = _entity_key(finding)
        hold = holds.get(key) or holds.get((*key[:2], None))  # no merchant: for every one
        if hold is not None:
            finding["hold"] = hold
            finding["action"] = None
            continue
        kind = action_kinds.get((finding.get("action") or {}).get("kind"))
        if kind is not None and kind.state_changing:
            by_entity[key].append(finding)
    superseded = 0
    for group in by_entity.values():
        if len(group) < 2:
            continue
        group.sort(
            key=lambda f: (
                -action_kinds[f["action"]["kind"]].priority,
                -LEVEL_RANK[f["level"]],
                f["rule"],
            )
        )
        winner = group[0]
        for loser in group[1:]:
            loser["superseded_by"] = winner["rule"]
            superseded += 1
    return superseded
