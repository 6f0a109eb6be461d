"""Backtests remembered by what they were worked out from, so the TUI's 30-day chart shows at
once when nothing changed since it was drawn (at L it costs minutes of a core).

A backtest is a function of the records (named by the workspace's data version, see
`Database.data_version`), the packs' text, qcrules.toml's settings that reach evaluation,
the installed plugins and qcrules' version (and their code's files: an editable install
changes code without a version), the engine, the language of the findings'
messages, the range and today's date (holds end by date). The key is a digest of all of
them: any change is another key, never a stale chart. Results are kept as JSON (never
pickle: the folder is only as trusted as the workspace) in `.qcrules/backtests/` beside
qcrules.toml; a file that cannot be read is worked out again, and one that cannot be
written is only not remembered.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from datetime import date
from pathlib import Path
from typing import Any

from qcrules.backtest import Backtest, BacktestDay, backtest_apart
from qcrules.evaluation import EvaluateOptions, load_checked_packs
from qcrules.workspace import Workspace

FOLDER = Path(".qcrules") / "backtests"
KEEP = 8  # the newest files kept: a few days and a few workspaces' settings
FORMAT = 1  # the file layout's version: part of the key


def cache_key(workspace: Workspace, start: date, end: date) -> str:
    """The digest of everything a backtest of the range depends on."""
    from qcrules import __version__
    from qcrules.i18n import language
    from qcrules.plugins.manager import get_host

    packset = load_checked_packs(workspace, EvaluateOptions(store=False, fail_on="never"))
    config = workspace.config
    parts = {
        "format": FORMAT,
        "language": language(),  # the findings' messages
        "qcrules": __version__,
        "plugins": [(p["name"], p["version"]) for p in get_host().describe()],
        "code": _code_stamp(get_host()),
        "engine": os.environ.get("QCRULES_ENGINE", ""),
        # the records; a workspace no qcrules write has given a version yet: its database
        "data": workspace.db.data_version() or config.database_url,
        "packs": sorted(
            (name, hashlib.sha256(text.encode("utf-8")).hexdigest())
            for name, text in packset.sources.items()
        ),
        "enabled": sorted(p.id for p in packset.packs),
        "settings": [
            config.merchants,
            config.merchant_params,
            config.params,
            repr(config.packs),
            repr(config.waivers),
            config.plugins,
        ],
        "range": [start.isoformat(), end.isoformat()],
        "today": date.today().isoformat(),
    }
    text = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _code_stamp(host) -> list[tuple[str, int, int]]:
    """When and how big the code that judges is: qcrules' own modules and each plugin's
    package. An editable install (pip install -e) changes code without a new version."""
    import qcrules

    files: set[Path] = set(Path(qcrules.__file__).parent.rglob("*.py"))
    for _name, plugin in host.pm.list_name_plugin():
        name = getattr(plugin, "__module__", None) or getattr(plugin, "__name__", "")
        top = sys.modules.get(name.split(".")[0]) if name else None  # the plugin's package
        origin = getattr(top, "__file__", None)
        if not origin:
            continue
        path = Path(origin)
        # a package: all of it; a module of its own (in site-packages, say): that file only
        files.update(path.parent.rglob("*.py") if path.name == "__init__.py" else [path])
    stamp = []
    for path in sorted(files):
        try:
            info = path.stat()
        except OSError:
            continue
        stamp.append((str(path), info.st_mtime_ns, info.st_size))
    return stamp


def remembered_backtest(
    workspace: Workspace, start: date, end: date, *, started=None
) -> tuple[Backtest, bool]:
    """The backtest of the range, from the last time it was worked out on the same inputs,
    or worked out now in a child process (qcrules.backtest.backtest_apart) and remembered.
    Returns it and whether it was remembered."""
    key = cache_key(workspace, start, end)
    folder = workspace.root / FOLDER
    kept = _read(folder / f"{key}.json")
    if kept is not None:
        return kept, True
    result = backtest_apart(workspace, start, end, started=started)
    if cache_key(workspace, start, end) == key:  # nothing was written meanwhile
        _write(folder, key, result)
    return result, False


def remember(workspace: Workspace, start: date, end: date, result: Backtest) -> None:
    """Keep a backtest of the range worked out elsewhere (in this process) on the current
    inputs, as `remembered_backtest` would."""
    _write(workspace.root / FOLDER, cache_key(workspace, start, end), result)


def to_json(result: Backtest) -> dict[str, Any]:
    return {
        "days": [{**day.to_json(), "by_level": day.by_level} for day in result.days],
        "rules": result.rules,
        "levels": result.levels,
        "params": result.params,
        "named": {rule: sorted(seen) for rule, seen in result.named.items()},
    }


def from_json(data: dict[str, Any]) -> Backtest:
    return Backtest(
        days=[
            BacktestDay(
                as_of=date.fromisoformat(d["as_of"]),
                findings=int(d["findings"]),
                by_rule=dict(d["by_rule"]),
                by_level=dict(d["by_level"]),
                new=list(d["new"]),
                resolved=list(d["resolved"]),
            )
            for d in data["days"]
        ],
        rules=dict(data["rules"]),
        levels=dict(data["levels"]),
        params=dict(data["params"]),
        named={rule: set(seen) for rule, seen in data["named"].items()},
    )


def _read(path: Path) -> Backtest | None:
    try:
        return from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # none yet, or damaged: worked out again


def _write(folder: Path, key: str, result: Backtest) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{key}.json"
        partial = target.with_suffix(f".{os.getpid()}.part")
        partial.write_text(
            json.dumps(to_json(result), ensure_ascii=False, default=str), encoding="utf-8"
        )
        os.replace(partial, target)  # readers see the whole file or none
        older = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in older[KEEP:]:
            stale.unlink(missing_ok=True)
    except OSError:
        return  # a read-only folder: the chart is only not remembered
