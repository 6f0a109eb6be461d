"""Hook specifications. Every hook takes a `register` callback (the llm/tox style), so a
plugin contributes by calling it, and qcrules can check and attribute each contribution."""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("qcrules")
hookimpl = pluggy.HookimplMarker("qcrules")


@hookspec
def qcrules_register_packs(register):
    """Contribute rule pack files.

    Call ``register(path)`` with a ``pathlib.Path`` (or an ``importlib.resources`` traversable)
    of a pack TOML file, or of a folder whose ``*.toml`` files are packs.
    """


@hookspec
def qcrules_register_fields(register):
    """Contribute fact fields.

    Call ``register(name, type, entity, doc, compute, *, doc_zh=None, unit="")`` where ``type``
    is "number", "integer", "bool" or "string", ``entity`` is "creator", "grant" or "merchant",
    and ``compute(facts, context)`` receives a batch of facts of that entity and returns a
    dict ``{entity_id: value}`` (missing ids mean a missing value).
    """


@hookspec
def qcrules_register_actions(register):
    """Contribute action kinds and their handlers.

    Call ``register(kind, handler, *, zh=None, en=None, state_changing=False, priority=0)``;
    ``handler(action, context)`` carries the action out when an operator applies it.
    """


@hookspec
def qcrules_register_importers(register):
    """Contribute header maps for other export formats.

    Call ``register(kind, name, aliases)`` where ``aliases`` maps a canonical column of the
    import kind to extra header names accepted for it.
    """


@hookspec
def qcrules_register_formats(register):
    """Contribute output formats for ``qcrules evaluate --format``.

    Call ``register(name, render, description)`` where ``render(result, stream)`` writes
    ``result.report`` (the JSON document) to the text stream.
    """


@hookspec
def qcrules_register_commands(cli):
    """Add subcommands to the ``qcrules`` click group ``cli``."""
