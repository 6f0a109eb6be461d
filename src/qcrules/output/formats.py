"""Render an evaluation result. Every format reads the same JSON report (contracts.md).

A formatter is `fn(result, stream)`; `result.report` is the JSON document and
`result.checks()` yields every (rule, entity) pair that was checked, for junit.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any
from xml.etree import ElementTree as ET

from qcrules import __version__
from qcrules.safety import for_terminal, json_for_terminal, xml_text

LEVEL_ORDER = ("critical", "error", "warn", "info")
GITHUB_COMMAND = {"critical": "error", "error": "error", "warn": "warning", "info": "notice"}
SARIF_LEVEL = {"critical": "error", "error": "error", "warn": "warning", "info": "note"}


@dataclass(frozen=True)
class OutputFormat:
    name: str
    render: Callable[[Any, IO[str]], None]
    description: str
    origin: str = "builtin"


def entity_label(entity: dict) -> str:
    label = f"{entity.get('type', '?')} {entity.get('id', '?')}"
    if entity.get("merchant") and entity.get("type") != "merchant":
        label += f" @{entity['merchant']}"
    return label


def _line(text) -> str:
    """Text from data on one line of a terminal or a CI log: no control sequences."""
    return for_terminal(text, one_line=True)


def render_json(result, stream: IO[str]) -> None:
    """Written as it is encoded, in pieces: an XL report (a million insufficient-data notes)
    never sits in memory as one string, let alone two. Each piece is made safe on its own;
    the escapes are per character, so no piece boundary can split one."""
    encoder = json.JSONEncoder(ensure_ascii=False, indent=2)
    pieces: list[str] = []
    held = 0
    for piece in encoder.iterencode(result.report):
        pieces.append(piece)
        held += len(piece)
        if held >= 1 << 16:
            stream.write(json_for_terminal("".join(pieces)))
            pieces, held = [], 0
    stream.write(json_for_terminal("".join(pieces)))
    stream.write("\n")


def render_jsonl(result, stream: IO[str]) -> None:
    run_id = result.report["run"]["id"]
    for finding in result.report["findings"]:
        stream.write(json_for_terminal(json.dumps({"run": run_id, **finding}, ensure_ascii=False)))
        stream.write("\n")


LEVEL_ZH = {"critical": "严重", "error": "错误", "warn": "警告", "info": "提示"}
ENTITY_ZH = {"grant": "授权", "creator": "达人", "merchant": "商家", "waiver": "豁免"}


def level_name(level: str, lang: str) -> str:
    return LEVEL_ZH.get(level, level) if lang == "zh" else level


def entity_name(entity: dict, lang: str) -> str:
    """`grant G1 @M1` / `授权 G1 @M1`, then the creator as a 投手 finds them: nickname and
    抖音号."""
    kind = entity.get("type", "?")
    label = f"{ENTITY_ZH.get(kind, kind) if lang == 'zh' else kind} {entity.get('id', '?')}"
    if entity.get("merchant") and kind != "merchant":
        label += f" @{entity['merchant']}"
    return label


def who(entity: dict, lang: str) -> str:
    name, handle = entity.get("name"), entity.get("handle")
    if handle:
        shown = f"抖音号 {handle}" if lang == "zh" else f"@{handle}"
        return (
            f"{name}（{shown}）"
            if lang == "zh" and name
            else f"{name} ({shown})"
            if name
            else shown
        )
    return name or ""


def _kind_name(kinds: dict, kind: str, lang: str) -> str:
    """zh: the action's Chinese name; en: its id (what `actions apply --kind` takes)."""
    meta = kinds.get(kind)
    return meta.zh if meta is not None and lang == "zh" else kind


def render_table(result, stream: IO[str]) -> None:
    """Ruff-like: one finding per block (rule, entity, suggested action, then the message),
    grouped from the most severe down; it stays readable in a narrow terminal. Each action
    kind's 千川 click paths follow once, at the end."""
    from rich.console import Console
    from rich.text import Text

    from qcrules.actions.kinds import steps_text
    from qcrules.i18n import language, tr

    lang = language()
    kinds = getattr(getattr(result, "packset", None), "actions", None) or {}
    console = Console(file=stream, highlight=False, soft_wrap=True)
    report = result.report
    styles = {"critical": "bold red", "error": "red", "warn": "yellow", "info": "cyan"}
    shown_kinds: list[str] = []
    for finding in report["findings"]:
        action = finding.get("action") or {}
        kind = action.get("kind", "")
        label = _kind_name(kinds, kind, lang) if kind else ""
        if finding.get("superseded_by"):
            label = tr(
                f"{label}（被 {finding['superseded_by']} 取代）",
                f"{label} (superseded by {finding['superseded_by']})",
            )
        elif finding.get("hold"):
            label = tr("暂停处理，无动作", "on hold: no action")
        elif kind and kind not in shown_kinds:
            shown_kinds.append(kind)
        head = Text()
        level = finding["level"]
        head.append(f"{level_name(level, lang):<8}", style=styles.get(level, ""))
        head.append(f" {finding['rule']} ", style="bold")
        head.append(f"{_line(finding['name'])}  ")
        head.append(_line(entity_name(finding["entity"], lang)), style="bold")
        name = who(finding["entity"], lang)
        if name:
            head.append(f" {_line(name)}", style="dim")
        console.print(head)
        console.print(Text(f"         {_line(finding['message'])}"))
        if label:
            console.print(Text(f"         → {_line(label)}", style="green"))
    paths = [(kind, steps_text(kind, lang)) for kind in shown_kinds]
    paths = [(kind, text) for kind, text in paths if text]
    if paths:
        console.print()
        console.print(
            Text(
                tr("怎么做（千川操作路径，以后台显示为准）", "How (千川 click paths)"), style="bold"
            )
        )
        for kind, text in paths:
            console.print(Text(f"  {_line(_kind_name(kinds, kind, lang))}", style="green"))
            for line in text.splitlines():
                console.print(Text(f"    {line}"))
    summary = report["summary"]
    counts = summary["findings"]
    parts = [f"{counts.get(level, 0)} {level_name(level, lang)}" for level in LEVEL_ORDER]
    if lang == "zh":
        entities = "，".join(f"{ENTITY_ZH.get(t, t)} {n}" for t, n in summary["entities"].items())
    else:
        entities = ", ".join(f"{n} {t}" for t, n in summary["entities"].items())
    if report["findings"]:
        console.print()
    run = report["run"]
    console.print(
        tr("发现：", "Findings: ")
        + tr("，", ", ").join(parts)
        + tr(
            f"；豁免 {summary['waived']}，数据不足 {summary['insufficient_data']}，"
            f"被取代 {summary['superseded']}；检查对象：{entities}",
            f"; waived {summary['waived']}, insufficient data {summary['insufficient_data']}, "
            f"superseded {summary['superseded']}; checked {entities}",
        )
        + tr(
            f"（运行 {run['id']}，截至 {run['as_of']}，引擎 {run.get('engine', '')}）",
            f"  (run {run['id']}, as of {run['as_of']}, engine {run.get('engine', '')})",
        )
    )


def render_markdown(result, stream: IO[str]) -> None:
    from qcrules.i18n import language, tr

    lang = language()
    kinds = getattr(getattr(result, "packset", None), "actions", None) or {}
    report = result.report
    summary = report["summary"]
    lines = [
        tr(
            f"## qcrules — 截至 {report['run']['as_of']}",
            f"## qcrules — as of {report['run']['as_of']}",
        ),
        "",
    ]
    lines += [tr("| 级别 | 发现 |", "| level | findings |"), "|---|---:|"]
    lines += [
        f"| {level_name(level, lang)} | {summary['findings'].get(level, 0)} |"
        for level in LEVEL_ORDER
    ]
    lines += [
        tr(f"| 豁免 | {summary['waived']} |", f"| waived | {summary['waived']} |"),
        tr(
            f"| 数据不足 | {summary['insufficient_data']} |",
            f"| insufficient data | {summary['insufficient_data']} |",
        ),
        tr(f"| 被取代 | {summary['superseded']} |", f"| superseded | {summary['superseded']} |"),
        "",
    ]
    by_rule = Counter((f["rule"], f["name"], f["level"]) for f in report["findings"])
    if by_rule:
        lines += [tr("| 规则 | 级别 | 数量 |", "| rule | level | count |"), "|---|---|---:|"]
        for (rule, name, level), count in sorted(
            by_rule.items(), key=lambda kv: (LEVEL_ORDER.index(kv[0][2]), kv[0][0])
        ):
            lines.append(f"| `{rule}` {_line(name)} | {level_name(level, lang)} | {count} |")
        lines.append("")
        lines += [
            tr(
                "| 级别 | 规则 | 对象 | 说明 | 动作 |",
                "| level | rule | entity | message | action |",
            ),
            "|---|---|---|---|---|",
        ]
        for finding in report["findings"][:200]:
            message = _line(finding["message"]).replace("|", "\\|")
            kind = _line((finding.get("action") or {}).get("kind", ""))
            entity = entity_name(finding["entity"], lang)
            name = who(finding["entity"], lang)
            if name:
                entity += f" {name}"
            entity = _line(entity).replace("|", "\\|")
            lines.append(
                f"| {level_name(finding['level'], lang)} | `{finding['rule']}` "
                f"| {entity} | {message} | {_kind_name(kinds, kind, lang) if kind else ''} |"
            )
        if len(report["findings"]) > 200:
            more = len(report["findings"]) - 200
            lines.append(
                tr(
                    f"\n… 另有 {more} 条（见 JSON 输出）。",
                    f"\n… and {more} more (see the JSON output).",
                )
            )
    else:
        lines.append(tr("没有发现。", "No findings."))
    stream.write("\n".join(lines) + "\n")


def _escape_github(text: str, *, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    text = for_terminal(text)  # what is left: ESC, BEL, C1 … shown, never acted on
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def render_github(result, stream: IO[str]) -> None:
    for finding in result.report["findings"]:
        command = GITHUB_COMMAND[finding["level"]]
        title = _escape_github(f"{finding['rule']} {finding['name']}", prop=True)
        message = _escape_github(f"{entity_label(finding['entity'])}: {finding['message']}")
        stream.write(f"::{command} title={title}::{message}\n")


def render_junit(result, stream: IO[str]) -> None:
    report = result.report
    failures: dict[tuple[str, str, str, str], dict] = {}
    for finding in report["findings"]:
        entity = finding["entity"]
        key = (finding["rule"], entity["type"], entity["id"], entity.get("merchant") or "")
        failures[key] = finding
    suites: dict[str, ET.Element] = {}
    counts: dict[str, Counter] = {}
    root = ET.Element("testsuites", name="qcrules", tests="0", failures="0")
    for rule, pack, entity_type, entity_id, merchant, outcome in result.checks():
        suite = suites.get(pack)
        if suite is None:
            suite = suites[pack] = ET.SubElement(root, "testsuite", name=pack)
            counts[pack] = Counter()
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"{pack}.{rule}",
            name=xml_text(f"{entity_type} {entity_id}" + (f" @{merchant}" if merchant else "")),
        )
        counts[pack]["tests"] += 1
        finding = failures.get((rule, entity_type, entity_id, merchant))
        if finding is not None:
            counts[pack]["failures"] += 1
            failure = ET.SubElement(
                case, "failure", message=xml_text(finding["message"]), type=finding["level"]
            )
            failure.text = json_for_terminal(
                json.dumps(
                    {"action": finding.get("action"), "evidence": finding.get("evidence")},
                    ensure_ascii=False,
                )
            )  # json.dumps escapes every control character XML forbids; this, C1 and bidi
        elif outcome in ("insufficient_data", "waived"):
            counts[pack]["skipped"] += 1
            ET.SubElement(case, "skipped", message=outcome.replace("_", " "))
    total = Counter()
    for pack, suite in suites.items():
        for key in ("tests", "failures", "skipped"):
            suite.set(key, str(counts[pack][key]))
            total[key] += counts[pack][key]
        suite.set("errors", "0")
    root.set("tests", str(total["tests"]))
    root.set("failures", str(total["failures"]))
    ET.indent(root)
    stream.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    stream.write(ET.tostring(root, encoding="unicode"))
    stream.write("\n")


def render_sarif(result, stream: IO[str]) -> None:
    report = result.report
    rules_meta = result.rules_meta()
    index = {rule["id"]: position for position, rule in enumerate(rules_meta)}
    sarif_rules = [
        {
            "id": rule["id"],
            "name": rule["name"],
            "shortDescription": {"text": rule["message"] or rule["name"]},
            "fullDescription": {"text": rule["why"] or rule["message"] or rule["name"]},
            "help": {"text": f"{rule['why']} (source: {rule['source']})".strip()},
            "defaultConfiguration": {"level": SARIF_LEVEL[rule["level"]]},
            "properties": {
                "pack": rule["pack"],
                "qcrules-level": rule["level"],
                "action": rule["action"],
                "source": rule["source"],
            },
        }
        for rule in rules_meta
    ]
    results = []
    for finding in report["findings"]:
        entity = finding["entity"]
        item = {
            "ruleId": finding["rule"],
            "level": SARIF_LEVEL[finding["level"]],
            "message": {"text": f"{entity_label(entity)}: {finding['message']}"},
            "locations": [
                {
                    "logicalLocations": [
                        {
                            "name": entity["id"],
                            "kind": entity["type"],
                            "fullyQualifiedName": (
                                f"{entity.get('merchant')}/{entity['type']}/{entity['id']}"
                            ),
                        }
                    ]
                }
            ],
            "partialFingerprints": {"qcrules/v1": finding["fingerprint"]},
            "properties": {
                "entity": entity,
                "action": finding.get("action"),
                "evidence": finding.get("evidence"),
                "source": finding.get("source"),
            },
        }
        if finding["rule"] in index:
            item["ruleIndex"] = index[finding["rule"]]
        results.append(item)
    document = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "qcrules",
                        "version": __version__,
                        "informationUri": "https://example.invalid/qcrules",
                        "rules": sarif_rules,
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": True,
                        "exitCode": result.exit_code,
                        "startTimeUtc": report["run"]["started_at"],
                    }
                ],
                "automationDetails": {"id": f"qcrules/{report['run']['id']}"},
                "results": results,
            }
        ],
    }
    stream.write(json_for_terminal(json.dumps(document, ensure_ascii=False, indent=2)))
    stream.write("\n")


BUILTIN_FORMATS: dict[str, OutputFormat] = {
    fmt.name: fmt
    for fmt in (
        OutputFormat("table", render_table, "a readable table for a terminal"),
        OutputFormat("json", render_json, "the full report (stable field names)"),
        OutputFormat("jsonl", render_jsonl, "one finding per line"),
        OutputFormat("junit", render_junit, "JUnit XML: one test case per rule × entity"),
        OutputFormat("github", render_github, "GitHub Actions workflow commands"),
        OutputFormat("markdown", render_markdown, "a summary for a CI job summary"),
        OutputFormat("sarif", render_sarif, "SARIF 2.1.0 for code-scanning tools"),
    )
}
