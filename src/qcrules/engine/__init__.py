"""The engine: durable-rules wherever it imports, else the plain-Python reading.

durable-rules 2.0.28 (its last release) builds on Python 3.13+ but its C extension cannot
load there (`PyEval_CallObject` was removed). There, and only where durable-rules is not
installed at all, qcrules evaluates with the plain-Python reading of the same syntax trees
and says so once per run. A durable-rules that is installed but broken is an error that
names the cause — never a silent fallback. `QCRULES_ENGINE=python` chooses the fallback
on purpose.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable

from qcrules.errors import QcrulesError

DURABLE = "durable-rules"
PYTHON = "python"
_notice_shown = False


class EngineUnavailable(QcrulesError):
    """durable-rules is installed but cannot be used."""


def durable_available() -> tuple[bool, str | None]:
    """(True, None) if the C core imports; else (False, the reason)."""
    if importlib.util.find_spec("durable_rules_engine") is None:
        return False, "durable-rules is not installed"
    try:
        import durable_rules_engine  # noqa: F401
    except Exception as exc:  # ImportError (`undefined symbol: PyEval_CallObject`), or worse
        return False, f"durable-rules is installed but cannot be imported: {exc}"
    return True, None


def select_engine() -> tuple[str, Callable]:
    """The engine name and a factory `(conditions, name) -> evaluator`."""
    global _notice_shown
    from qcrules.engine.evaluator import PythonEvaluator, RuleEvaluator

    wanted = os.environ.get("QCRULES_ENGINE", "").strip().lower()
    if wanted in ("python", "py"):
        return PYTHON, PythonEvaluator
    if wanted not in ("", "durable-rules", "durable"):
        raise EngineUnavailable(
            f"QCRULES_ENGINE={wanted!r} is not an engine", hint="use durable-rules or python"
        )
    ok, reason = durable_available()
    if ok:
        return DURABLE, RuleEvaluator
    installed = importlib.util.find_spec("durable_rules_engine") is not None
    if installed or wanted or sys.version_info < (3, 13):
        raise EngineUnavailable(
            f"the durable-rules engine cannot be used: {reason}",
            hint="reinstall it (pip install --force-reinstall durable-rules==2.0.28), "
            "or set QCRULES_ENGINE=python to use the plain-Python reading",
        )
    if not _notice_shown:
        _notice_shown = True
        print(
            f"notice: durable-rules cannot run on Python {sys.version_info.major}."
            f"{sys.version_info.minor}; evaluating with qcrules' plain-Python reading "
            "of the same rules",
            file=sys.stderr,
        )
    return PYTHON, PythonEvaluator
