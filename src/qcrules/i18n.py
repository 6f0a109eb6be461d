"""Bilingual user-facing text: zh when the locale says so, else en (QCRULES_LANG overrides)."""

from __future__ import annotations

import locale
import os
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
