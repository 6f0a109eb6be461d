"""`qcrules db upgrade` / `qcrules db current`: Alembic, run on the workspace's connection
under its write lock. An SQLite file is copied aside before its schema changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from qcrules.model.db import Database, no_workspace
from qcrules.model.migrations import BASELINE, FOLDER, HEAD


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(FOLDER))
    config.set_main_option("file_template", "%%(rev)s")  # versions/0002_name.py
    return config


def script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def is_known(revision: str) -> bool:
    """Whether `revision` is one of this release's (or "legacy", the pre-migration schema)."""
    if revision == "legacy":
        return True
    return any(r.revision == revision for r in script().walk_revisions())


@dataclass
class UpgradeResult:
    before: str
    after: str
    backup: Path | None

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def to_json(self) -> dict:
        return {
            "before": self.before,
            "after": self.after,
            "changed": self.changed,
            "backup": str(self.backup) if self.backup else None,
        }


def backup_sqlite(db: Database, revision: str) -> Path | None:
    """A consistent copy of the SQLite file beside it (`sqlite3` backup API, WAL included)."""
    path = db.sqlite_path
    if path is None or not path.is_file():
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.{revision}.{stamp}.bak")
    raw = db.engine.raw_connection()
    try:
        import sqlite3

        with sqlite3.connect(target) as copy:
            raw.driver_connection.backup(copy)
        copy.close()
    finally:
        raw.close()
    return target


def upgrade(db: Database) -> UpgradeResult:
    """Bring the workspace's schema to this release's (idempotent): stamp a pre-migration
    workspace as the baseline, then apply every newer revision in one locked transaction."""
    before = db.revision()
    if before is None:
        raise no_workspace(db.url, "the database has no qcrules tables")
    if before == HEAD:
        return UpgradeResult(before, before, None)
    if not is_known(before):
        db.check_schema()  # raises "newer than this qcrules"
    backup = backup_sqlite(db, before)
    config = alembic_config()
    with db.write("db upgrade") as conn:
        config.attributes["connection"] = conn
        if before == "legacy":
            command.stamp(config, BASELINE)
        command.upgrade(config, "head")
    return UpgradeResult(before, db.revision() or "", backup)


def current(db: Database) -> dict:
    """The schema's revision and whether it is this release's."""
    revision = db.revision()
    if revision is None:
        raise no_workspace(db.url, "the database has no qcrules tables")
    return {
        "revision": revision,
        "head": HEAD,
        "up_to_date": revision == HEAD,
        "known": is_known(revision),
    }
