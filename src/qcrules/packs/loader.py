"""Load rule packs from TOML and validate each as a whole before anything runs.

Every problem is collected (syntax, unknown keys, missing keys, bad ids and levels, unknown
action kinds, expression errors, unknown fields and params with a did-you-mean, type
mismatches, message templates, in-pack tests), each with file:line:col and a help line.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import tomli
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from qcrules import __version__
from qcrules.i18n import tr
from qcrules.packs import expr
from qcrules.packs.diagnostics import Diagnostic
from qcrules.packs.messages import format_value
from qcrules.packs.model import ENTITIES, LEVELS, Pack, Rule
from qcrules.packs.params import ParamRange, read_param
from qcrules.packs.positions import TomlPositions
from qcrules.packs.sections import _did_you_mean, _Sections

PACK_ID = re.compile(r"^[a-z][a-z0-9_-]*$")
RULE_ID = re.compile(r"^[A-Z][A-Z0-9]*[0-9]{3}$")
RULE_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
VERSION = re.compile(r"^\d+(\.\d+){0,2}([-+.][0-9A-Za-z.]+)?$")

PACK_KEYS = {
    "id",
    "version",
    "entity",
    "title",
    "description",
    "requires_qcrules",
    "guard",
    "applies",
}
RULE_KEYS = {
    "id",
    "name",
    "level",
    "when",
    "action",
    "message",
    "source",
    "enabled",
    "entity",
    "why",
    "gate",
    "guard",
}
TOP_KEYS = {"pack", "params", "bands", "rules", "tests"}
# the bands the monitoring sheet draws a day's CTR against (qcrules report, the TUI)
_TEMPLATE_FIELD = re.compile(r"\{([^{}:!]*)(?:![rsa])?(?::([^{}]*))?\}")


def version_satisfies(version: str, spec: str) -> bool:
    """PEP 440, as pip reads `requires_qcrules` (pre-releases count: a pack may need 0.2.0a1)."""
    try:
        specifier = SpecifierSet(spec)
    except InvalidSpecifier as exc:
        raise ValueError(spec) from exc
    return specifier.contains(Version(version), prereleases=True)


def deepest_line(text: str) -> int:
    """The line holding the most opening brackets: where a too-deep TOML value is."""
    lines = text.splitlines() or [""]
    counts = [line.count("[") + line.count("{") for line in lines]
    return counts.index(max(counts)) + 1


class _PackReader(_Sections):
    def __init__(
        self,
        path: Path | None,
        text: str,
        origin: str,
        field_types: Mapping[str, Mapping[str, str]],
        action_kinds: Iterable[str],
    ) -> None:
        self.path = path
        self.file = str(path) if path else "<pack>"
        self.text = text
        self.origin = origin
        self.field_types = field_types
        self.action_kinds = set(action_kinds)
        self.diagnostics: list[Diagnostic] = []
        self.pos = TomlPositions(text)

    def add(
        self,
        code: str,
        message: str,
        path: tuple,
        *,
        rule=None,
        help=None,
        length=1,
        severity="error",
    ) -> None:
        line, col = self.pos.of(*path)
        self.diagnostics.append(
            Diagnostic(code, message, self.file, line, col, length, rule, help, severity)
        )

    def unknown_keys(self, table: Mapping, known: set[str], path: tuple, rule=None) -> None:
        for key in table:
            if key not in known:
                self.add(
                    "unknown-key",
                    f"unknown key {key!r}",
                    (*path, key),
                    rule=rule,
                    help=_did_you_mean(key, known, f"known keys: {', '.join(sorted(known))}"),
                    severity="warning",
                    length=len(key),
                )

    def text_table(self, value: Any, path: tuple, what: str, rule=None) -> dict[str, str]:
        if isinstance(value, str):
            return {"zh": value, "en": value}
        if isinstance(value, dict) and value and all(isinstance(v, str) for v in value.values()):
            return dict(value)
        self.add(
            "bad-type",
            f'{what} must be text or a table like {{ zh = "…", en = "…" }}',
            path,
            rule=rule,
        )
        return {}

    def expression(
        self, source: str, path: tuple, entity: str, params: Mapping[str, Any], rule=None
    ) -> Any:
        try:
            node = expr.parse(source)
        except expr.ExprSyntaxError as exc:
            line, col = self.pos.in_string(path, exc.offset)
            self.diagnostics.append(
                Diagnostic(
                    "syntax", exc.message, self.file, line, col, max(1, exc.length), rule, exc.help
                )
            )
            return None
        problems = expr.check(node, self.field_types.get(entity, {}), params)
        for problem in problems:
            line, col = self.pos.in_string(path, problem.offset)
            self.diagnostics.append(
                Diagnostic(
                    problem.code,
                    problem.message,
                    self.file,
                    line,
                    col,
                    max(1, problem.length),
                    rule,
                    problem.help,
                )
            )
        if not problems:
            # what durable-rules itself cannot take is refused here, before any run,
            # and on the plain-Python fallback too, so packs stay portable
            from qcrules.engine.compiler import limit_problems

            line, col = self.pos.in_string(path, 0)
            for message in limit_problems(expr.bind(node, params)):
                self.diagnostics.append(
                    Diagnostic(
                        "too-complex",
                        message,
                        self.file,
                        line,
                        col,
                        1,
                        rule,
                        "split the rule into simpler ones",
                    )
                )
        return node

    def template(self, message: dict[str, str], path: tuple, entity: str, params, rule) -> None:
        fields = self.field_types.get(entity, {})
        for lang, text in message.items():
            try:
                parsed = list(string.Formatter().parse(text))
            except ValueError as exc:
                self.add(
                    "bad-message",
                    f"message.{lang}: {exc}",
                    (*path, lang),
                    rule=rule,
                    help="write {field} or {field:.1%}; double a literal brace: {{",
                )
                continue
            for _, name, spec, _ in parsed:
                if name is None:
                    continue
                if name.startswith("params."):
                    param = name[len("params.") :]
                    if param not in params:
                        self.add(
                            "unknown-param",
                            f"message.{lang} uses unknown parameter {param!r}",
                            (*path, lang),
                            rule=rule,
                            help=_did_you_mean(param, params, "declare it under [params]"),
                        )
                        continue
                    sample = params[param]
                elif name in fields:
                    sample = {"number": 0.5, "integer": 3, "bool": True, "string": "x"}[
                        fields[name]
                    ]
                else:
                    self.add(
                        "unknown-field",
                        f"message.{lang} uses unknown field {name!r}",
                        (*path, lang),
                        rule=rule,
                        help=_did_you_mean(name, fields, "see `qcrules packs fields`"),
                    )
                    continue
                try:
                    format_value(sample, spec or "")
                except (ValueError, TypeError) as exc:
                    self.add(
                        "bad-message",
                        f"message.{lang}: format {{{name}:{spec}}}: {exc}",
                        (*path, lang),
                        rule=rule,
                    )

    def read(self) -> Pack | None:
        try:
            data = tomli.loads(self.text)
        except tomli.TOMLDecodeError as exc:
            self.diagnostics.append(
                Diagnostic(
                    "toml-syntax",
                    f"broken TOML: {exc.msg}",
                    self.file,
                    exc.lineno,
                    exc.colno,
                    1,
                    None,
                    "fix the TOML syntax at this position",
                )
            )
            return None
        except RecursionError:  # tomli refuses arrays/tables nested over 400 deep this way
            line = deepest_line(self.text)
            self.diagnostics.append(
                Diagnostic(
                    "toml-syntax",
                    "broken TOML: arrays or tables nested too deeply",
                    self.file,
                    line,
                    1,
                    1,
                    None,
                    "a pack needs a few levels of nesting at most",
                )
            )
            return None
        self.unknown_keys(data, TOP_KEYS, ())
        header = data.get("pack")
        if not isinstance(header, dict):
            self.add(
                "missing-key",
                "the file has no [pack] table",
                (),
                help='start the file with [pack] id = "my-pack" version = "1.0.0"',
            )
            return None
        self.unknown_keys(header, PACK_KEYS, ("pack",))
        pack_id = header.get("id")
        if not isinstance(pack_id, str) or not PACK_ID.match(pack_id):
            self.add(
                "bad-id",
                f"pack id {pack_id!r} is missing or invalid",
                ("pack", "id"),
                help="lowercase letters, digits, '-' or '_', starting with a letter",
            )
            pack_id = str(pack_id or "?")
        version = header.get("version")
        if not isinstance(version, str) or not VERSION.match(version):
            self.add(
                "bad-version",
                f"pack version {version!r} is missing or invalid",
                ("pack", "version"),
                help='a version like "1.0.0"',
            )
            version = str(version or "0")
        entity = header.get("entity", "creator")
        if entity not in ENTITIES:
            self.add(
                "bad-entity",
                f"unknown entity {entity!r}",
                ("pack", "entity"),
                help=_did_you_mean(str(entity), ENTITIES, f"one of {', '.join(ENTITIES)}"),
            )
            entity = "creator"
        requires = header.get("requires_qcrules")
        if requires is not None:
            try:
                if not version_satisfies(__version__, str(requires)):
                    self.add(
                        "requires-qcrules",
                        f"pack needs qcrules {requires}, this is {__version__}",
                        ("pack", "requires_qcrules"),
                        help="upgrade qcrules or use an older version of the pack",
                    )
            except ValueError:
                self.add(
                    "bad-version",
                    f"requires_qcrules {requires!r} is not a version specifier",
                    ("pack", "requires_qcrules"),
                    help='e.g. ">=0.1"',
                )
        title = self.text_table(header.get("title", pack_id), ("pack", "title"), "title")
        description = (
            self.text_table(header.get("description", ""), ("pack", "description"), "description")
            if header.get("description")
            else {}
        )

        params = data.get("params", {})
        if not isinstance(params, dict):
            self.add("bad-type", "[params] must be a table", ("params",))
            params = {}
        ranges: dict[str, ParamRange] = {}
        values: dict[str, Any] = {}
        for name, raw in params.items():
            # a table declares the value's range: { value = 3, min = 1, integer = true }
            value, declared, problems = read_param(name, raw)
            for message, help_text in problems:
                self.add("bad-param", message, ("params", name), help=help_text or None)
            if problems:
                if value is not None and not isinstance(value, dict | list):
                    values[name] = value  # declared, if badly: its uses are not "unknown"
                continue
            values[name] = value
            if declared is not None:
                ranges[name] = declared
            if isinstance(value, dict | list) or value is None:
                self.add(
                    "bad-param",
                    f"parameter {name!r} must be a number, true/false or text",
                    ("params", name),
                )
            elif (problem := expr.number_problem(value)) is not None:
                self.add(
                    "bad-param",
                    f"parameter {name!r}: {problem}",
                    ("params", name),
                    help="use a finite number of a sensible size",
                )
            elif name == SHIFT_PARAM and (problem := shift_problem(value)) is not None:
                self.add("bad-param", problem, ("params", name), help=SHIFT_HELP)
        # every pack takes exclude_recent_days (0: windows end at the newest day with data)
        params = {**values, SHIFT_PARAM: values.get(SHIFT_PARAM, 0)}

        guard_source = header.get("guard")
        guard_node = None
        if guard_source is not None:
            if not isinstance(guard_source, str):
                self.add("bad-type", "guard must be an expression string", ("pack", "guard"))
            else:
                # the guard applies to every rule, so it must be valid for every entity they use
                guard_node = self.expression(guard_source, ("pack", "guard"), entity, params)

        # `applies` narrows the entities a pack judges (e.g. live-room grants only); an entity
        # outside it is "not applicable" — neither a pass nor missing data.
        applies_source = header.get("applies")
        applies_node = None
        if applies_source is not None:
            if not isinstance(applies_source, str):
                self.add("bad-type", "applies must be an expression string", ("pack", "applies"))
            else:
                applies_node = self.expression(applies_source, ("pack", "applies"), entity, params)

        rules: list[Rule] = []
        raw_rules = data.get("rules", [])
        if not isinstance(raw_rules, list) or not raw_rules:
            self.add(
                "missing-key",
                "the pack has no [[rules]]",
                ("pack",),
                help="add at least one [[rules]] table",
            )
            raw_rules = raw_rules if isinstance(raw_rules, list) else []
        seen_ids: dict[str, int] = {}
        seen_names: set[str] = set()
        for index, raw in enumerate(raw_rules):
            path = ("rules", index)
            if not isinstance(raw, dict):
                self.add("bad-type", "each [[rules]] entry must be a table", path)
                continue
            rule_id = raw.get("id")
            label = rule_id if isinstance(rule_id, str) else f"#{index + 1}"
            self.unknown_keys(raw, RULE_KEYS, path, rule=label)
            for key in ("id", "name", "level", "when", "action", "message", "source"):
                if key not in raw:
                    self.add(
                        "missing-key",
                        f"rule is missing {key!r}",
                        path,
                        rule=label,
                        help=f"add {key} = … to this [[rules]] entry",
                    )
            if isinstance(rule_id, str):
                if not RULE_ID.match(rule_id):
                    self.add(
                        "bad-id",
                        f"rule id {rule_id!r} is invalid",
                        (*path, "id"),
                        rule=label,
                        help="a prefix in capitals and three digits, e.g. MON001",
                    )
                if rule_id in seen_ids:
                    self.add(
                        "duplicate-id",
                        f"rule id {rule_id} is used twice (first at rule #{seen_ids[rule_id] + 1})",
                        (*path, "id"),
                        rule=label,
                        help="every rule id must be unique",
                    )
                seen_ids[rule_id] = index
            name = raw.get("name", "")
            if "name" in raw and (not isinstance(name, str) or not RULE_NAME.match(name)):
                self.add(
                    "bad-name",
                    f"rule name {name!r} is not kebab-case",
                    (*path, "name"),
                    rule=label,
                    help="e.g. ctr-too-broad",
                )
            elif name in seen_names:
                self.add(
                    "duplicate-name",
                    f"rule name {name!r} is used twice",
                    (*path, "name"),
                    rule=label,
                )
            seen_names.add(str(name))
            level = raw.get("level")
            if "level" in raw and level not in LEVELS:
                self.add(
                    "bad-level",
                    f"unknown level {level!r}",
                    (*path, "level"),
                    rule=label,
                    help=_did_you_mean(str(level), LEVELS, f"one of {', '.join(LEVELS)}"),
                )
            rule_entity = raw.get("entity", entity)
            if rule_entity not in ENTITIES:
                self.add(
                    "bad-entity",
                    f"unknown entity {rule_entity!r}",
                    (*path, "entity"),
                    rule=label,
                    help=_did_you_mean(str(rule_entity), ENTITIES, f"one of {', '.join(ENTITIES)}"),
                )
                rule_entity = entity
            action = raw.get("action", {})
            action_kind, action_params = "", {}
            if isinstance(action, str):
                action = {"kind": action}
            if isinstance(action, dict):
                action_kind = action.get("kind", "")
                action_params = action.get("params", {}) or {}
                if action_kind not in self.action_kinds:
                    self.add(
                        "unknown-action",
                        f"unknown action kind {action_kind!r}",
                        (*path, "action", "kind"),
                        rule=label,
                        help=_did_you_mean(
                            str(action_kind),
                            self.action_kinds,
                            "see the action kinds in `qcrules rule --all`",
                        ),
                    )
                if not isinstance(action_params, dict):
                    self.add(
                        "bad-type", "action params must be a table", (*path, "action"), rule=label
                    )
                    action_params = {}
            elif "action" in raw:
                self.add(
                    "bad-type",
                    'action must be a table like { kind = "review_creator" }',
                    (*path, "action"),
                    rule=label,
                )
            message = (
                self.text_table(raw.get("message", ""), (*path, "message"), "message", rule=label)
                if "message" in raw
                else {}
            )
            why = (
                self.text_table(raw["why"], (*path, "why"), "why", rule=label)
                if "why" in raw
                else {}
            )
            enabled = raw.get("enabled", True)
            if not isinstance(enabled, bool):
                self.add(
                    "bad-type", "enabled must be true or false", (*path, "enabled"), rule=label
                )
                enabled = True
            gate = raw.get("gate", False)
            if not isinstance(gate, bool):
                self.add(
                    "bad-type",
                    "gate must be true or false",
                    (*path, "gate"),
                    rule=label,
                    help="gate = true marks a rule that judges a grant's terms: "
                    "`qcrules grants request` refuses at warn or above",
                )
                gate = False
            source = raw.get("source", "")
            when = raw.get("when")
            node = None
            if isinstance(when, str):
                node = self.expression(when, (*path, "when"), rule_entity, params, rule=label)
                if guard_node is not None and rule_entity != entity:
                    self.expression(
                        guard_source, ("pack", "guard"), rule_entity, params, rule=label
                    )
            elif "when" in raw:
                self.add(
                    "bad-type", "when must be an expression string", (*path, "when"), rule=label
                )
            rule_guard = raw.get("guard")
            rule_guard_node = None
            if isinstance(rule_guard, str):
                rule_guard_node = self.expression(
                    rule_guard, (*path, "guard"), rule_entity, params, rule=label
                )
            elif rule_guard is not None:
                self.add(
                    "bad-type", "guard must be an expression string", (*path, "guard"), rule=label
                )
            if message:
                self.template(message, (*path, "message"), rule_entity, params, label)
            if not isinstance(rule_id, str) or node is None or level not in LEVELS:
                continue
            if rule_guard is not None and rule_guard_node is None:
                continue
            fields = tuple(expr.fields_read(node))
            rules.append(
                Rule(
                    id=rule_id,
                    name=str(name),
                    level=level,
                    when=when,
                    node=node,
                    entity=rule_entity,
                    pack=pack_id,
                    action_kind=str(action_kind),
                    action_params=dict(action_params),
                    message=message,
                    why=why,
                    source=str(source),
                    enabled=enabled,
                    gate=gate,
                    line=self.pos.of(*path)[0],
                    fields=tuple(f for f in fields if not f.startswith("params.")),
                    params_used=tuple(expr.params_read(node)),
                    guard=rule_guard if rule_guard_node is not None else None,
                    guard_node=rule_guard_node,
                    guard_fields=tuple(expr.fields_read(rule_guard_node))
                    if rule_guard_node is not None
                    else (),
                    guard_params=tuple(expr.params_read(rule_guard_node))
                    if rule_guard_node is not None
                    else (),
                )
            )

        tests = self.read_tests(data.get("tests", []), entity, seen_ids, rules)
        bands = self.read_bands(data.get("bands", {}), params)
        guard_fields: tuple[str, ...] = ()
        guard_params: tuple[str, ...] = ()
        if guard_node is not None:
            guard_fields = tuple(expr.fields_read(guard_node))
            guard_params = tuple(expr.params_read(guard_node))
        return Pack(
            id=pack_id,
            version=version,
            entity=entity,
            title=title,
            description=description,
            requires_qcrules=requires,
            guard=guard_source if isinstance(guard_source, str) else None,
            guard_node=guard_node,
            params=dict(params),
            param_ranges=ranges,
            rules=rules,
            tests=tests,
            path=self.path,
            origin=self.origin,
            applies=applies_source if isinstance(applies_source, str) else None,
            applies_node=applies_node,
            guard_fields=guard_fields,
            guard_params=guard_params,
            text=self.text,
            bands=bands,
        )


def load_pack_text(
    text: str,
    *,
    path: Path | None,
    origin: str,
    field_types: Mapping[str, Mapping[str, str]],
    action_kinds: Iterable[str],
) -> tuple[Pack | None, list[Diagnostic]]:
    reader = _PackReader(path, text, origin, field_types, action_kinds)
    pack = reader.read()
    errors = [d for d in reader.diagnostics if d.severity == "error"]
    return (None if errors else pack), reader.diagnostics


def load_pack_file(
    path: Path,
    *,
    origin: str,
    field_types: Mapping[str, Mapping[str, str]],
    action_kinds: Iterable[str],
) -> tuple[Pack | None, list[Diagnostic]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [
            Diagnostic(
                "unreadable",
                f"cannot read pack file: {exc}",
                str(path),
                help="check the path and that the file is UTF-8 text",
            )
        ]
    return load_pack_text(
        text, path=path, origin=origin, field_types=field_types, action_kinds=action_kinds
    )


def check_overrides(pack: Pack, overrides: Mapping[str, Any], where: str) -> list[Diagnostic]:
    """Workspace [params.<pack>] overrides: known names and the declared value types only."""
    problems: list[Diagnostic] = []
    for name, value in overrides.items():
        if name not in pack.params:
            problems.append(
                Diagnostic(
                    "unknown-param",
                    f"pack {pack.id!r} has no parameter {name!r}",
                    where,
                    help=_did_you_mean(
                        name, pack.params, f"its parameters: {', '.join(pack.params)}"
                    ),
                )
            )
            continue
        default = pack.params[name]
        numeric = isinstance(default, int | float) and not isinstance(default, bool)
        ok = (
            (isinstance(value, int | float) and not isinstance(value, bool))
            if numeric
            else isinstance(value, type(default))
        )
        if not ok:
            problems.append(
                Diagnostic(
                    "type-mismatch",
                    f"parameter {pack.id}.{name} must be "
                    f"{'a number' if numeric else type(default).__name__}, got {value!r}",
                    where,
                )
            )
        elif (problem := expr.number_problem(value)) is not None:
            problems.append(
                Diagnostic(
                    "bad-param",
                    f"parameter {pack.id}.{name}: {problem}",
                    where,
                    help="use a finite number of a sensible size",
                )
            )
        elif name == SHIFT_PARAM and (problem := shift_problem(value)) is not None:
            problems.append(Diagnostic("bad-param", f"{pack.id}.{problem}", where, help=SHIFT_HELP))
        elif (declared := pack.param_ranges.get(name)) is not None and (
            problem := declared.problem(value)
        ) is not None:
            problems.append(
                Diagnostic(
                    "out-of-range",
                    tr(f"参数 {pack.id}.{name} {problem}", f"parameter {pack.id}.{name} {problem}"),
                    where,
                    help=tr(
                        f"规则包 {pack.id} 规定 {name} 为{declared.describe()}",
                        f"pack {pack.id} declares {name} as {declared.describe()}",
                    ),
                )
            )
    return problems


SHIFT_PARAM = "exclude_recent_days"
SHIFT_HELP = "0 ends the windows at the newest day with data; N ends them N days before as-of"


def shift_problem(value: Any) -> str | None:
    """`exclude_recent_days` is a whole number of days, 0 to 30."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        return f"{SHIFT_PARAM} must be a whole number of days, got {value!r}"
    if not 0 <= value <= 30:
        return f"{SHIFT_PARAM} must be between 0 and 30 days, got {value!r}"
    return None
