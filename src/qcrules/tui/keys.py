"""Key bindings whose descriptions follow the language in effect when the app starts.

A class's BINDINGS are built when its module is imported, so `tr()` there freezes the
language of that moment; the footer, the help screen and the palette would then keep it
even when QCRULES_LANG says otherwise by the time the app opens. `bind()` remembers both
texts and `speak()` puts the current language's into a class's bindings."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from textual.binding import Binding

from qcrules.i18n import tr

_TEXTS: dict[tuple[str, str], tuple[str, str]] = {}  # (action, either text) -> (zh, en)


def bind(keys: str, action: str, zh: str, en: str, **options: Any) -> Binding:
    """`Binding(keys, action, description)` with the description in both languages."""
    _TEXTS[(action, zh)] = _TEXTS[(action, en)] = (zh, en)
    return Binding(keys, action, tr(zh, en), **options)


def said(binding: Binding) -> str:
    """A binding's description in the current language."""
    pair = _TEXTS.get((binding.action, binding.description))
    return tr(*pair) if pair else binding.description


def speak(*classes: type) -> None:
    """Put the current language's descriptions into these classes' merged bindings (their
    widgets copy them when created: call before the app is constructed)."""
    for cls in classes:
        merged = getattr(cls, "_merged_bindings", None)
        if merged is None:
            continue
        for name, bindings in merged.key_to_bindings.items():
            merged.key_to_bindings[name] = [
                replace(b, description=said(b)) if b.description else b for b in bindings
            ]
