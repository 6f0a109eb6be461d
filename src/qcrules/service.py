"""The one API that the CLI, the TUI and plugins call. Faces never touch SQL or the engine."""

from __future__ import annotations

from pathlib import Path

from qcrules.workspace import Workspace
from qcrules.workspace import init_workspace as _init_workspace


def init_workspace(folder: Path, *, demo: bool = False, seed: int = 7, today=None) -> Workspace:
    """Create a workspace; with `demo`, fill it with the generated demo data set."""
    workspace = _init_workspace(folder)
    if demo:
        from qcrules.demo import generate

        generate(workspace.db, size="demo", seed=seed, today=today)
    return workspace


def import_files(workspace: Workspace, kind: str, paths, **options):
    """Import CSV/XLSX files of one kind, all-or-nothing per file (see qcrules.ingest)."""
    from qcrules.ingest import run_import

    return run_import(workspace.db, kind, paths, **options)


def evaluate(workspace: Workspace, options=None):
    """Evaluate the packs in effect; returns the report and the exit code (qcrules.evaluation)."""
    from qcrules.evaluation import evaluate as _evaluate

    return _evaluate(workspace, options)


def output_formats() -> dict:
    """Output formats by name: the built-ins and those plugins register."""
    from qcrules.plugins.manager import get_host

    return dict(get_host().contributions().formats)


def report_plugin_problems() -> None:
    """Name, on stderr, every plugin that failed to import or raised in a hook."""
    from qcrules.plugins.manager import get_host

    get_host().report_problems()


def explain(workspace: Workspace, rule_id: str, entity_id: str, **options):
    """Why a rule did or did not fire for one entity (qcrules.explain)."""
    from qcrules.explain import explain as _explain

    return _explain(workspace, rule_id, entity_id, **options)


def plugins() -> list[dict]:
    """Installed plugins: name, version, hooks."""
    from qcrules.plugins.manager import get_host

    return get_host().describe()


def action_kinds() -> dict:
    """Action kinds by name (qcrules.actions.kinds.ActionKind): built-in and from plugins."""
    from qcrules.plugins.manager import get_host

    return dict(get_host().contributions().actions)


def recent_runs(workspace: Workspace, limit: int = 30) -> list[dict]:
    """The stored evaluation runs, oldest first: id, start, as-of date and summary."""
    from qcrules.evaluation import recent_runs as _recent_runs

    return _recent_runs(workspace, limit)
