"""Alembic migrations of the workspace schema (docs/schema-changes.md says how to add one).

HEAD is the newest revision: opening a workspace compares its `alembic_version` with it
(one cheap query), and only on a difference loads Alembic to say what to do.
"""

from __future__ import annotations

from pathlib import Path

HEAD = "0004_run_parts"
BASELINE = "0001_baseline"  # the schema of the releases before migrations (schema_meta v1)
FOLDER = Path(__file__).parent
