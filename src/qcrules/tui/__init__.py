"""The Textual UI (`qcrules tui`, and what `qcrules demo` opens)."""

from __future__ import annotations

from qcrules.tui.app import QcrulesApp

__all__ = ["QcrulesApp"]
