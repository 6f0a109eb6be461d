"""The packs in effect for a workspace: plugin and folder packs, validated together.

Sources, in order: packs registered by installed plugins, the `[packs] paths` folders of
qcrules.toml, then the built-ins (registered through the same hook as any plugin's).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qcrules.config import Config
from qcrules.errors import ConfigError, UsageError
from qcrules.facts.schema import FactSchema, FieldSpec, builtin_schema
from qcrules.i18n import did_you_mean, tr
from qcrules.packs.diagnostics import Diagnostic
from qcrules.packs.loader import check_overrides, load_pack_file
from qcrules.packs.model import ENTITIES, Pack
from qcrules.plugins.manager import PluginHost, get_host


@dataclass
class PackSet:
    packs: list[Pack]
    diagnostics: list[Diagnostic]
    schema: FactSchema
    actions: dict[str, Any]
    sources: dict[str, str] = field(default_factory=dict)  # file -> text, for rendering
    disabled: list[Pack] = field(default_factory=list)

    origins: dict[str, str] = field(default_factory=dict)  # file -> origin

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    def plugin_of(self, diagnostic: Diagnostic) -> str | None:
        """The plugin whose pack file this diagnostic is about, if a plugin's."""
        origin = self.origins.get(diagnostic.file or "")
        return origin if origin not in (None, "builtin", "folder", "file") else None

    @property
    def blocking_errors(self) -> list[Diagnostic]:
        """Errors that stop an evaluation: those in the user's own or the built-in packs.
        A third-party plugin's broken pack is skipped with a warning instead, since the
        user cannot fix it and the other packs still deserve to run."""
        return [d for d in self.errors if self.plugin_of(d) is None]

    def field_types(self) -> dict[str, dict[str, str]]:
        return {entity: self.schema.fields_for(entity) for entity in ENTITIES}

    def rule(self, rule_id: str):
        for pack in self.packs + self.disabled:
            rule = pack.rule(rule_id)
            if rule is not None:
                return pack, rule
        return None, None

    def require_rule(self, rule_id: str):
        """(pack, rule), or a usage error with a did-you-mean."""
        pack, rule = self.rule(rule_id)
        if rule is None:
            raise UsageError(
                f"unknown rule {rule_id!r}" + did_you_mean(rule_id, self.all_rule_ids()),
                hint="`qcrules rule --all` lists every rule",
            )
        return pack, rule

    def all_rule_ids(self) -> list[str]:
        return [r.id for p in self.packs + self.disabled for r in p.rules]


def workspace_schema(host: PluginHost | None = None) -> FactSchema:
    """The built-in fact schema plus every plugin-provided field."""
    host = host or get_host()
    schema = builtin_schema()
    for extra in host.contributions().fields:
        schema.add(
            FieldSpec(
                extra.name,
                extra.type,
                extra.entity,
                extra.doc,
                extra.doc_zh or extra.doc,
                extra.unit,
                extra.origin,
            )
        )
    return schema


def _expand(path: Any) -> list[Path]:
    path = Path(str(path)) if not isinstance(path, Path) else path
    if path.is_dir():
        return sorted(path.glob("*.toml"))
    return [path]


def load_packs(
    config: Config | None,
    *,
    host: PluginHost | None = None,
    extra_files: list[Path] | None = None,
    apply_enable: bool = True,
) -> PackSet:
    host = host or get_host()
    contributions = host.contributions()
    schema = workspace_schema(host)
    actions = dict(contributions.actions)
    field_types = {entity: schema.fields_for(entity) for entity in ENTITIES}

    sources: list[tuple[Path, str]] = []
    builtin = [(p, o) for p, o in contributions.packs if o == "builtin"]
    plugin = [(p, o) for p, o in contributions.packs if o != "builtin"]
    for path, origin in plugin:
        sources += [(f, origin) for f in _expand(path)]
    if config is not None:
        for folder in config.packs.paths:
            if not folder.exists():
                raise ConfigError(
                    f"[packs] paths names {folder}, which does not exist",
                    hint=f"create the folder or remove it from {config.path}",
                )
            sources += [(f, "folder") for f in _expand(folder)]
    for path in extra_files or []:
        sources.append((path, "file"))
    for path, origin in builtin:
        sources += [(f, origin) for f in _expand(path)]

    packs: list[Pack] = []
    diagnostics: list[Diagnostic] = []
    texts: dict[str, str] = {}
    seen_pack: dict[str, Pack] = {}
    seen_rule: dict[str, Pack] = {}
    origins = {str(path): origin for path, origin in sources}
    for path, origin in sources:
        pack, problems = load_pack_file(
            path, origin=origin, field_types=field_types, action_kinds=actions
        )
        diagnostics += problems
        if pack is None:
            if problems:  # keep the text so diagnostics can show the offending line
                with contextlib.suppress(OSError, UnicodeDecodeError):
                    texts[str(path)] = path.read_text(encoding="utf-8")
            continue
        texts[str(path)] = pack.text
        if pack.id in seen_pack:
            first = seen_pack[pack.id]
            diagnostics.append(
                Diagnostic(
                    "duplicate-pack",
                    f"pack id {pack.id!r} is also defined by {first.path} ({first.origin})",
                    str(path),
                    1,
                    1,
                    help="rename one of the packs (pack ids must be unique)",
                )
            )
            continue
        clash = [r.id for r in pack.rules if r.id in seen_rule]
        if clash:
            diagnostics.append(
                Diagnostic(
                    "duplicate-id",
                    f"rule ids {', '.join(clash)} are also defined by "
                    f"pack {seen_rule[clash[0]].id!r}",
                    str(path),
                    pack.rules[0].line,
                    1,
                    help="rule ids are public names and must be unique across packs",
                )
            )
            continue
        seen_pack[pack.id] = pack
        for rule in pack.rules:
            seen_rule[rule.id] = pack
        packs.append(pack)

    disabled: list[Pack] = []
    if config is not None:
        override_problems: list[str] = []

        def where(*key: str) -> str:
            line = config.param_lines.get(key)
            return f"{config.path}:{line}" if line else str(config.path)

        def said(problem: Diagnostic) -> str:
            return problem.message + (f" ({problem.help})" if problem.help else "")

        for pack_id, overrides in config.params.items():
            if pack_id not in seen_pack:
                override_problems.append(
                    f"{config.path}: [params.{pack_id}] names no pack"
                    + did_you_mean(pack_id, seen_pack, form="[params.{}]")
                )
                continue
            for name, value in overrides.items():
                at = where("params", pack_id, name)
                for problem in check_overrides(seen_pack[pack_id], {name: value}, at):
                    override_problems.append(f"{at}: [params.{pack_id}] {said(problem)}")
        for merchant, per_pack in config.merchant_params.items():
            for pack_id, overrides in per_pack.items():
                if pack_id not in seen_pack:
                    override_problems.append(
                        f"{config.path}: [merchant.{merchant}.params.{pack_id}] names no pack"
                    )
                    continue
                for name, value in overrides.items():
                    at = where("merchant", merchant, "params", pack_id, name)
                    for problem in check_overrides(seen_pack[pack_id], {name: value}, at):
                        override_problems.append(
                            f"{at}: [merchant.{merchant}.params.{pack_id}] {said(problem)}"
                        )
        if override_problems:
            raise ConfigError(
                tr("参数覆盖无效：", "invalid parameter overrides:")
                + "\n  "
                + "\n  ".join(override_problems),
                hint=tr(
                    "参数的名称、类型和取值范围以规则包为准（qcrules packs show ID）；改正或删去这些值",
                    "parameter names, types and ranges are those of the pack "
                    "(`qcrules packs show ID`); correct or remove these values",
                ),
            )
        packs = [p.with_params(config.params.get(p.id, {})) for p in packs]
        if apply_enable:
            unknown = [i for i in config.packs.enable + config.packs.disable if i not in seen_pack]
            if unknown:
                raise ConfigError(
                    f"{config.path}: [packs] names unknown pack(s) {', '.join(unknown)}",
                    hint=f"packs available: {', '.join(seen_pack)}",
                )
            keep = [
                p
                for p in packs
                if (not config.packs.enable or p.id in config.packs.enable)
                and p.id not in config.packs.disable
            ]
            disabled = [p for p in packs if p not in keep]
            packs = keep
    return PackSet(packs, diagnostics, schema, actions, texts, disabled, origins)
