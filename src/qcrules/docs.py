"""Human documentation of packs and rules, and the rendering of explanations."""

from __future__ import annotations

from typing import Any

from qcrules.i18n import language, pick, tr
from qcrules.packs.model import Pack, Rule


def _action_label(kind: str, actions: dict[str, Any]) -> str:
    meta = actions.get(kind)
    if meta is None:
        return kind
    return f"{kind} ({meta.zh if language() == 'zh' else meta.en})"


def _examples(pack: Pack, rule: Rule) -> list[dict[str, Any]]:
    return [
        {"name": t.name, "fact": t.fact, "fires": rule.id in t.expect}
        for t in pack.tests
        if t.entity == rule.entity
    ]


def rule_guard(pack: Pack, rule: Rule) -> str | None:
    """What must hold before the rule judges at all (the pack's guard and the rule's own)."""
    parts = [g for g in (pack.guard, rule.guard) if g]
    return " and ".join(parts) or None


def rule_info(pack: Pack, rule: Rule, actions: dict[str, Any]) -> dict[str, Any]:
    examples = _examples(pack, rule)
    firing = next((e for e in examples if e["fires"]), None)
    quiet = next((e for e in examples if not e["fires"]), None)
    return {
        "id": rule.id,
        "name": rule.name,
        "pack": pack.id,
        "level": rule.level,
        "entity": rule.entity,
        "when": " ".join(rule.when.split()),
        "guard": rule_guard(pack, rule),
        "params": {
            p: pack.params.get(p) for p in dict.fromkeys([*rule.params_used, *rule.guard_params])
        },
        "message": rule.message,
        "why": rule.why,
        "action": {"kind": rule.action_kind, "params": rule.action_params},
        "source": rule.source,
        "enabled": rule.enabled,
        "gate": rule.gate,
        "example_fires": firing,
        "example_quiet": quiet,
    }


def rule_text(pack: Pack, rule: Rule, actions: dict[str, Any]) -> str:
    info = rule_info(pack, rule, actions)
    lines = [
        f"# {rule.id} {rule.name} ({rule.level})",
        "",
        f"{tr('规则包', 'Pack')}: {pack.id} {pack.version} — {pick(pack.title)}",
        f"{tr('对象', 'Judges')}: {rule.entity}",
        "",
        f"## {tr('做什么', 'What it does')}",
        f"{tr('当', 'Fires when')}: {info['when']}",
    ]
    if info["guard"]:
        lines.append(
            f"{tr('前提（不满足即数据不足）', 'Guard (else insufficient data)')}: {info['guard']}"
        )
    if rule.gate:
        lines.append(
            tr(
                "把关：评判授权条款；qcrules grants request 在 warn 及以上拒绝（除非 --accept-risk）",
                "Gate: judges a grant's terms; qcrules grants request refuses at warn or above "
                "(unless --accept-risk)",
            )
        )
    if info["params"]:
        lines.append(
            tr("参数", "Parameters")
            + ": "
            + ", ".join(f"{k} = {v}" for k, v in info["params"].items())
        )
    lines += ["", f"## {tr('为什么', 'Why')}", pick(rule.why) or pick(rule.message), ""]
    if info["example_fires"]:
        ex = info["example_fires"]
        lines += [
            f"## {tr('示例', 'Example')}",
            f"{tr('会触发', 'Fires for')} ({ex['name']}): "
            + ", ".join(f"{k} = {v}" for k, v in ex["fact"].items()),
        ]
        if info["example_quiet"]:
            ex = info["example_quiet"]
            lines.append(
                f"{tr('不会触发', 'Quiet for')} ({ex['name']}): "
                + ", ".join(f"{k} = {v}" for k, v in ex["fact"].items())
            )
        lines.append("")
    lines += [
        f"## {tr('建议动作', 'Suggested action')}",
        _action_label(rule.action_kind, actions),
        "",
        f"## {tr('出处', 'Source')}",
        rule.source,
    ]
    return "\n".join(lines)


def packs_markdown(packs: list[Pack], actions: dict[str, Any]) -> str:
    out: list[str] = []
    for pack in packs:
        out += [f"# {pack.id} {pack.version} — {pick(pack.title)}", ""]
        if pack.description:
            out += [pick(pack.description), ""]
        out += [f"- origin: {pack.origin}", f"- default entity: {pack.entity}"]
        if pack.guard:
            out.append(f"- guard: `{pack.guard}`")
        out.append("")
        if pack.params:
            ranges = pack.param_ranges
            out += ["| parameter | default | range |", "|---|---|---|"]
            out += [
                f"| `{k}` | {v} | {ranges[k].short() if k in ranges else ''} |"
                for k, v in pack.params.items()
            ]
            out.append("")
        out += [
            "| id | name | level | entity | when | action | source |",
            "|---|---|---|---|---|---|---|",
        ]
        for rule in pack.rules:
            when = "`" + " ".join(rule.when.split()).replace("|", "\\|") + "`"
            if rule.guard:
                when += " (guard `" + rule.guard.replace("|", "\\|") + "`)"
            out.append(
                f"| {rule.id} | {rule.name} | {rule.level} | {rule.entity} | {when} "
                f"| {_action_label(rule.action_kind, actions)} | {rule.source} |"
            )
        out.append("")
        for rule in pack.rules:
            out += [f"## {rule.id} {rule.name}", "", pick(rule.why) or pick(rule.message), ""]
    return "\n".join(out) + "\n"


def core_rules_markdown(core: dict[str, dict[str, Any]], actions: dict[str, Any]) -> str:
    """The core rules qcrules judges itself (waivers), in the catalog's shape."""
    out = [
        "# qcrules core rules",
        "",
        "| id | name | level | entity | when | action | source |",
        "|---|---|---|---|---|---|---|",
    ]
    for rule_id, doc in sorted(core.items()):
        out.append(
            f"| {rule_id} | {doc['name']} | {doc['level']} | {doc['entity']} "
            f"| {pick(doc['when'])} | {_action_label(doc['action'], actions)} | {doc['source']} |"
        )
    out.append("")
    for rule_id, doc in sorted(core.items()):
        out += [f"## {rule_id} {doc['name']}", "", pick(doc["why"]), ""]
    return "\n".join(out) + "\n"


def _tree_json(node: Any) -> Any:
    if node is None:
        return None
    if hasattr(node, "to_json"):
        return node.to_json()
    return {
        "text": getattr(node, "text", str(node)),
        "result": getattr(node, "result", None),
        "values": getattr(node, "values", {}),
        "children": [_tree_json(c) for c in getattr(node, "children", [])],
    }


def _tree_lines(node: Any, depth: int = 0) -> list[str]:
    if node is None:
        return []
    result = getattr(node, "result", None)
    mark = {True: "✔ true ", False: "✘ false"}.get(result, "? unknown")
    values = getattr(node, "values", {}) or {}
    shown = ", ".join(f"{k} = {'missing' if v is None else repr(v)}" for k, v in values.items())
    line = f"{'  ' * depth}{mark}  {getattr(node, 'text', node)}"
    if shown:
        line += f"    [{shown}]"
    lines = [line]
    for child in getattr(node, "children", []) or []:
        lines += _tree_lines(child, depth + 1)
    return lines


def explanation_json(e) -> dict[str, Any]:
    return {
        "rule": e.rule.id,
        "name": e.rule.name,
        "pack": e.pack.id,
        "entity": {"type": e.entity_type, "id": e.entity_id, "merchant": e.merchant_id},
        "as_of": e.as_of.isoformat(),
        "outcome": e.outcome,
        "engine": e.engine,
        "guard": _tree_json(e.guard),
        "condition": _tree_json(e.condition),
        "missing": e.missing,
        "params": e.params,
        "values": e.values,
        "message": e.message,
        "waivers": e.waivers,
        "hold": e.hold,
        "window_end": e.window_end.isoformat() if e.window_end else None,
        "days": e.days,
    }


def explanation_text(e) -> str:
    entity = {"grant": "授权", "creator": "达人", "merchant": "商家"}.get(e.entity_type)
    who = f"{tr(entity or e.entity_type, e.entity_type)} {e.entity_id}"
    who += f" @{e.merchant_id}" if e.merchant_id else ""
    verdict = {
        "fired": tr("触发", "FIRED"),
        "not fired": tr("未触发", "did not fire"),
        "insufficient data": tr("数据不足", "insufficient data"),
        "not applicable": tr("不适用", "not applicable"),
    }[e.outcome]
    lines = [
        tr(
            f"{e.rule.id} {e.rule.name} — {who}，截至 {e.as_of}：{verdict}（引擎：{e.engine}）",
            f"{e.rule.id} {e.rule.name} — {who}, as of {e.as_of}: {verdict}  (engine: {e.engine})",
        )
    ]
    if e.params:
        lines.append(
            tr("参数：", "params: ") + ", ".join(f"{k} = {v}" for k, v in e.params.items())
        )
    if e.guard is not None:
        lines += ["", tr("前提（guard）：", "guard:"), *_tree_lines(e.guard, 1)]
    lines += ["", tr("条件：", "condition:"), *_tree_lines(e.condition, 1)]
    if e.missing:
        lines += ["", tr("缺少数据：", "missing values: ") + ", ".join(e.missing)]
    if e.days:
        lines += [
            "",
            tr(
                "逐日（自窗口末日 {} 向前）：", "day by day (back from the window's last day {}):"
            ).format(e.window_end),
        ]
        verdicts = {
            "below": tr("低于保本，计入", "below break-even: counted"),
            "skipped": tr("消耗低于下限，跳过", "spend under the floor: skipped"),
            "ends": tr("未低于保本，连续中断", "not below break-even: the streak ends"),
            "unknown": tr(
                "有消耗但没有成交金额：ROI 未知，连续天数无法判断",
                "spend without GMV: ROI unknown, so is the streak",
            ),
        }
        for day in e.days:
            roi = "—" if day["roi"] is None else f"{day['roi']:.2f}"
            lines.append(
                f"  {day['date']}  {tr('消耗', 'spend')} ¥{day['spend']:,.2f}  ROI {roi}  "
                f"{verdicts[day['verdict']]}"
            )
    if e.message:
        lines += ["", f"message: {e.message}"]
    for waiver in e.waivers:
        state = tr("有效", "active") if waiver["active"] else tr("已过期", "expired")
        lines.append(f"waiver ({state}, until {waiver['expires']}): {waiver['reason']}")
    if e.hold:
        lines.append(f"hold: {e.hold['reason']}")
    return "\n".join(lines)


def core_rule_info(rule_id: str, doc: dict[str, Any]) -> dict[str, Any]:
    """A core rule (judged by qcrules itself) in the shape `rule_info` gives pack rules."""
    return {
        "id": rule_id,
        "name": doc["name"],
        "pack": "qcrules",
        "level": doc["level"],
        "entity": doc["entity"],
        "when": pick(doc["when"]),
        "guard": None,
        "params": {},
        "message": doc["advice"],
        "why": doc["why"],
        "action": {"kind": doc["action"], "params": {}},
        "source": doc["source"],
        "enabled": True,
        "example_fires": None,
        "example_quiet": None,
    }


def core_rule_text(rule_id: str, doc: dict[str, Any], actions: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"# {rule_id} {doc['name']} ({doc['level']})",
            "",
            f"{tr('规则包', 'Pack')}: qcrules — "
            + tr("qcrules 自身的核心规则", "qcrules' own core rules"),
            f"{tr('对象', 'Judges')}: {doc['entity']}",
            "",
            f"## {tr('做什么', 'What it does')}",
            f"{tr('当', 'Fires when')}: {pick(doc['when'])}",
            "",
            f"## {tr('为什么', 'Why')}",
            pick(doc["why"]),
            "",
            f"## {tr('建议动作', 'Suggested action')}",
            f"{_action_label(doc['action'], actions)}: {pick(doc['advice'])}",
            "",
            f"## {tr('出处', 'Source')}",
            doc["source"],
        ]
    )
