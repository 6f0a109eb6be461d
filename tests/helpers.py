"""Plain helpers shared by several test files (the fixtures are in conftest.py, which has
pytest rewrite this module's asserts as it does a test file's)."""

from __future__ import annotations

import csv
from pathlib import Path

from alembic import command
from sqlalchemy import text

from qcrules.ingest import run_import
from qcrules.model import migrate
from qcrules.model.migrations import BASELINE


def write_csv(path: Path, header, rows, *, encoding="utf-8", delimiter=",") -> Path:
    """An export file at `path`: the header row, then the rows."""
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def ok(result):
    """The first file's report of an import that must succeed (else the importer's problems
    fail the test, file:line each)."""
    assert result.ok, [p.format(f.path) for f in result.files for p in f.problems]
    return result.files[0]


def import_csv(db, kind: str, path: Path, header, rows):
    """Set-up data: a CSV written at `path` and imported into `db` as `kind`, which must
    succeed; its file report."""
    return ok(run_import(db, kind, [write_csv(path, header, rows)]))


def baseline_schema(conn):
    """The schema as releases before migrations left it (Alembic's baseline, schema_version 1)
    made on `conn`, for upgrade tests; the Alembic config, bound to `conn`, for later steps."""
    config = migrate.alembic_config()
    config.attributes["connection"] = conn
    command.upgrade(config, BASELINE)
    conn.execute(text("insert into schema_meta (key, value) values ('schema_version', '1')"))
    return config
