"""Bilingual user-facing text: zh when the locale says so, else en (QCRULES_LANG overrides)."""

from __future__ import annotations

import difflib
import locale
import os
from collections.abc import Iterable
from functools import cache


@cache
def language() -> str:
    explicit = os.environ.get("QCRULES_LANG", "").strip().lower()
    if explicit in ("zh", "en"):
        return explicit
    for var in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        value = os.environ.get(var, "")
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    try:
        loc = locale.getlocale()[0] or ""
    except ValueError:
        loc = ""
    return "zh" if loc.lower().startswith("zh") else "en"


def tr(zh: str, en: str) -> str:
    """Pick the text for the user's language."""
    return zh if language() == "zh" else en


def pick(text: dict | str | None, lang: str | None = None) -> str:
    """Pick from a {zh:…, en:…} table as packs declare titles and messages."""
    if text is None:
        return ""
    if isinstance(text, str):
        return text
    lang = lang or language()
    return text.get(lang) or text.get("en") or text.get("zh") or ""


def did_you_mean(
    word: str, choices: Iterable[str], *, form: str = "{!r}", cutoff: float = 0.6, lead: str = "; "
) -> str:
    """The closest of `choices` as "; did you mean 'x'?" (zh: "；是不是 'x'？"), or "" when
    none is close. `form` shows it ("[params.{}]"); `lead` "" for a hint of its own."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=cutoff)
    if not close:
        return ""
    shown = form.format(close[0])
    return tr(f"{'；' if lead else ''}是不是 {shown}？", f"{lead}did you mean {shown}?")
