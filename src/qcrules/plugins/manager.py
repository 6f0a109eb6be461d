"""Load plugins and collect what they register.

Order: the `qcrules` entry-point group (installed plugins), then the built-ins, which
register through the very same hooks. `QCRULES_LOAD_PLUGINS` (comma list; empty = none)
and `QCRULES_DISABLE_PLUGINS` choose which installed plugins load. A misspelled hook fails
loudly; a plugin that raises on import or inside a hook is named on stderr and the rest
keep working.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy

from qcrules.errors import QcrulesError
from qcrules.i18n import tr
from qcrules.plugins import hookspecs

GROUP = "qcrules"
BUILTIN_NAME = "qcrules.builtin"


@dataclass
class PluginProblem:
    plugin: str
    where: str
    error: str
    message: str | None = None  # said as is, when "failed <where>: <error>" does not fit

    def __str__(self) -> str:
        return self.message or f"plugin {self.plugin!r} failed {self.where}: {self.error}"


@dataclass
class PluginField:
    name: str
    type: str
    entity: str
    doc: str
    compute: Callable
    origin: str
    doc_zh: str | None = None
    unit: str = ""


@dataclass
class Contributions:
    packs: list[tuple[Any, str]] = field(default_factory=list)  # (path, origin)
    fields: list[PluginField] = field(default_factory=list)
    actions: dict[str, Any] = field(default_factory=dict)
    importers: list[tuple[str, str, dict, str]] = field(default_factory=list)
    formats: dict[str, Any] = field(default_factory=dict)


class _Manager(pluggy.PluginManager):
    """Treats every `qcrules_*` function as a hook implementation, decorated or not, so a
    misspelled hook name can never be silently ignored (pytest does the same)."""

    def parse_hookimpl_opts(self, plugin, name):
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is None and name.startswith("qcrules_") and callable(getattr(plugin, name, None)):
            return {
                "wrapper": False,
                "hookwrapper": False,
                "optionalhook": False,
                "tryfirst": False,
                "trylast": False,
                "specname": None,
            }
        return opts


class PluginHost:
    def __init__(self, *, load_entrypoints: bool = True) -> None:
        self.pm = _Manager(GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.problems: list[PluginProblem] = []
        self._reported = 0  # problems[:_reported] are on stderr already
        self.versions: dict[str, str | None] = {}
        if load_entrypoints:
            self._load_entrypoints()
        from qcrules.plugins import builtin

        self.pm.register(builtin, name=BUILTIN_NAME)
        self.pm.check_pending()
        self._contributions: Contributions | None = None

    # -- loading -------------------------------------------------------------------------
    def _load_entrypoints(self) -> None:
        allow = os.environ.get("QCRULES_LOAD_PLUGINS")
        allowed = None if allow is None else {n.strip() for n in allow.split(",") if n.strip()}
        disabled = {
            n.strip() for n in os.environ.get("QCRULES_DISABLE_PLUGINS", "").split(",") if n.strip()
        }
        for ep in importlib.metadata.entry_points(group=GROUP):
            dist = getattr(ep, "dist", None)
            names = {ep.name, getattr(dist, "name", None)} - {None}
            if allowed is not None and not names & allowed:
                continue
            if names & disabled:
                self.pm.set_blocked(ep.name)
                continue
            if self.pm.get_plugin(ep.name) is not None or self.pm.is_blocked(ep.name):
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # a broken plugin must not break qcrules
                self.problems.append(PluginProblem(ep.name, "to import", _describe(exc)))
                continue
            try:
                self.pm.register(plugin, name=ep.name)
                self.pm.check_pending()
            except pluggy.PluginValidationError as exc:
                # a misspelled hook: refuse the plugin loudly, by name
                if self.pm.get_plugin(ep.name) is not None:
                    self.pm.unregister(name=ep.name)
                raise PluginLoadError(
                    f"plugin {ep.name!r} implements an unknown hook: {exc}. "
                    f"Known hooks: {', '.join(_hook_names())}",
                    hint=f"fix the plugin, or skip it with QCRULES_DISABLE_PLUGINS={ep.name}",
                ) from exc
            self.versions[ep.name] = getattr(dist, "version", None)

    def register(self, plugin: Any, name: str) -> None:
        """Register a plugin object directly (qcrules.testing uses this)."""
        self.pm.register(plugin, name=name)
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            self.pm.unregister(name=name)
            raise PluginLoadError(
                f"plugin {name!r} implements an unknown hook: {exc}. "
                f"Known hooks: {', '.join(_hook_names())}"
            ) from exc
        self._contributions = None

    def unregister(self, name: str) -> None:
        self.pm.unregister(name=name)
        self._contributions = None

    # -- calling -------------------------------------------------------------------------
    def _call_each(self, hook_name: str, **kwargs_for: Callable[[str], Any]) -> None:
        """Call every implementation separately so one raising plugin spoils nothing else."""
        hook = getattr(self.pm.hook, hook_name)
        for impl in reversed(hook.get_hookimpls()):  # registration order
            name = impl.plugin_name
            kwargs = {key: make(name) for key, make in kwargs_for.items()}
            try:
                impl.function(**{k: v for k, v in kwargs.items() if k in impl.argnames})
            except Exception as exc:
                self.problems.append(PluginProblem(name, f"in {hook_name}", _describe(exc)))

    def contributions(self) -> Contributions:
        if self._contributions is not None:
            return self._contributions
        out = Contributions()

        def packs(origin):
            def register(path, *_args):
                out.packs.append((path, _origin(origin)))

            return register

        def fields(origin):
            def register(name, type, entity, doc, compute, *, doc_zh=None, unit=""):
                extra = PluginField(name, type, entity, doc, compute, _origin(origin), doc_zh, unit)
                refused = self._refuse_field(extra, out.fields)
                if refused:  # the field is skipped, the plugin's other contributions load
                    self.problems.append(
                        PluginProblem(origin, "in qcrules_register_fields", refused, refused)
                    )
                    return
                out.fields.append(extra)

            return register

        def actions(origin):
            def register(kind, handler=None, *, zh=None, en=None, state_changing=False, priority=0):
                from qcrules.actions.kinds import ActionKind

                out.actions[kind] = ActionKind(
                    kind,
                    zh or kind,
                    en or kind,
                    state_changing,
                    priority,
                    _origin(origin),
                    handler,
                )

            return register

        def importers(origin):
            def register(kind, name, aliases):
                out.importers.append((kind, name, dict(aliases), _origin(origin)))

            return register

        def formats(origin):
            def register(name, render, description=""):
                from qcrules.output.formats import OutputFormat

                out.formats[name] = OutputFormat(name, render, description, _origin(origin))

            return register

        self._call_each("qcrules_register_packs", register=packs)
        self._call_each("qcrules_register_fields", register=fields)
        self._call_each("qcrules_register_actions", register=actions)
        self._call_each("qcrules_register_importers", register=importers)
        self._call_each("qcrules_register_formats", register=formats)
        self._contributions = out
        return out

    @staticmethod
    def _refuse_field(extra: PluginField, taken: list[PluginField]) -> str | None:
        """Why a plugin's field cannot join the fact schema (a name qcrules or an earlier
        plugin already defines for the entity, or an invalid name, type or entity), or None."""
        from qcrules.facts.schema import FieldSpec, builtin_schema

        said = f"plugin {extra.origin!r} registers fact field {extra.name!r}"
        if extra.origin != "builtin":
            try:
                FieldSpec(extra.name, extra.type, extra.entity, extra.doc, extra.doc, extra.unit)
            except ValueError as exc:
                return f"{said}, which is refused: {exc}"
            if builtin_schema().get(extra.name, extra.entity) is not None:
                return (
                    f"{said}, which qcrules already defines for {extra.entity} facts; "
                    "the plugin's field is skipped (plugins cannot replace a built-in field)"
                )
        for other in taken:
            if (other.name, other.entity) == (extra.name, extra.entity):
                return (
                    f"{said}, which plugin {other.origin!r} already defines for "
                    f"{extra.entity} facts; the second one is skipped"
                )
        return None

    def add_commands(self, cli) -> None:
        self._call_each("qcrules_register_commands", cli=lambda _name: cli)

    def describe(self) -> list[dict[str, Any]]:
        """Installed plugins as `qcrules plugins` prints them: name, version, hooks."""
        rows = []
        for name, plugin in self.pm.list_name_plugin():
            if plugin is None:
                continue
            hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
            version = self.versions.get(name)
            if name == BUILTIN_NAME:
                from qcrules import __version__ as version
            rows.append({"name": name, "version": version, "hooks": hooks})
        return sorted(rows, key=lambda r: (r["name"] == BUILTIN_NAME, r["name"]))

    def report_problems(self, stream=None) -> None:
        """Print, once each, the problems not yet reported."""
        stream = stream or sys.stderr
        for problem in self.problems[self._reported :]:
            print(tr("警告：", "warning: ") + str(problem), file=stream)
        self._reported = len(self.problems)


class PluginLoadError(QcrulesError):
    """A plugin implements a hook qcrules does not know: refuse it loudly, by name."""


class PluginFieldError(QcrulesError):
    """A plugin's fact field failed to compute: named by plugin, field and entity."""


def _origin(plugin_name: str) -> str:
    return "builtin" if plugin_name == BUILTIN_NAME else plugin_name


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _hook_names() -> list[str]:
    return sorted(n for n in dir(hookspecs) if n.startswith("qcrules_"))


_HOST: PluginHost | None = None


def get_host() -> PluginHost:
    """The process-wide plugin host (plugins load once per process)."""
    global _HOST
    if _HOST is None:
        _HOST = PluginHost(load_entrypoints=not getattr(sys, "_qcrules_no_entrypoints", False))
    return _HOST


def reset_host() -> None:
    global _HOST
    _HOST = None


def builtin_rules_dir() -> Path:
    """Where the built-in packs are: inside the wheel, or `rules/` in a source checkout."""
    here = Path(__file__).resolve().parent.parent
    packaged = here / "_builtin_rules"
    if packaged.is_dir():
        return packaged
    return here.parent.parent / "rules"
