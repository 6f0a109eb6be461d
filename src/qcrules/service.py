"""The one API that the CLI, the TUI and plugins call. Faces never touch SQL or the engine."""

from __future__ import annotations

from pathlib import Path

from qcrules.workspace import Workspace
from qcrules.workspace import init_workspace as _init_workspace


def init_workspace(folder: Path) -> Workspace:
    return _init_workspace(folder)


def import_files(workspace: Workspace, kind: str, paths, **options):
    """Import CSV/XLSX files of one kind, all-or-nothing per file (see qcrules.ingest)."""
    from qcrules.ingest import run_import

    return run_import(workspace.db, kind, paths, **options)
