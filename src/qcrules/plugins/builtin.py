"""qcrules' own contributions, registered through the same hooks as any plugin's."""

from __future__ import annotations

from qcrules.plugins.hookspecs import hookimpl


@hookimpl
def qcrules_register_packs(register):
    from qcrules.plugins.manager import builtin_rules_dir

    for path in sorted(builtin_rules_dir().glob("*.toml")):
        register(path)


@hookimpl
def qcrules_register_actions(register):
    from qcrules.actions.kinds import BUILTIN_ACTIONS

    for kind in BUILTIN_ACTIONS.values():
        register(
            kind.name,
            kind.handler,
            zh=kind.zh,
            en=kind.en,
            state_changing=kind.state_changing,
            priority=kind.priority,
        )


@hookimpl
def qcrules_register_formats(register):
    from qcrules.output.formats import BUILTIN_FORMATS

    for fmt in BUILTIN_FORMATS.values():
        register(fmt.name, fmt.render, fmt.description)
