"""The schema belongs to Alembic: the models and the migrations agree, a workspace of an
earlier release is recognised and upgraded without losing a row, and only `init` creates a
workspace — on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import column as sql_column
from sqlalchemy import func, inspect, select, text
from sqlalchemy import table as sql_table
from sqlmodel import SQLModel

from helpers import baseline_schema
from qcrules.errors import ConfigError
from qcrules.model import migrate, open_database
from qcrules.model.db import DatabaseError
from qcrules.model.migrations import HEAD
from qcrules.workspace import Workspace, init_workspace

DAY = date(2026, 11, 27)


def _diff(db) -> list:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, SQLModel.metadata)


def test_head_is_the_newest_migration():
    assert migrate.script().get_current_head() == HEAD


def test_the_migrations_build_exactly_the_models(db_url):
    db = open_database(db_url, check=False)  # an empty database
    config = migrate.alembic_config()
    with db.write("test") as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    assert db.revision() == HEAD
    assert _diff(db) == []
    db.close()


def test_a_new_workspace_is_at_head_and_equals_the_models(db_url):
    db = open_database(db_url)
    assert db.revision() == HEAD
    assert _diff(db) == []
    assert migrate.upgrade(db).changed is False  # idempotent
    db.close()


def _earlier_release(db_url, tmp_path):
    """A database as the releases before migrations left it: the baseline schema, its
    schema_meta row, no alembic_version — and the demo data in it (made at head, copied over
    the columns the baseline has, a metric row without a grant as NULL as they stored it)."""
    from qcrules.demo import generate

    source = open_database(f"sqlite:///{tmp_path / 'source.db'}")
    generate(source, size="demo", seed=7, today=DAY)
    db = open_database(db_url, create=True, check=False)
    with db.write("test") as conn:
        baseline_schema(conn)
        conn.execute(text("drop table alembic_version"))
        legacy = inspect(conn)
        with source.engine.connect() as read:
            for table in SQLModel.metadata.sorted_tables:
                if table.name == "schema_meta" or not legacy.has_table(table.name):
                    continue
                names = {c["name"] for c in legacy.get_columns(table.name)}
                rows = [
                    {k: v for k, v in row.items() if k in names}
                    for row in read.execute(select(table)).mappings()
                ]
                if table.name == "metrics":  # one row a creator-day, no account, as then
                    days: dict[tuple, dict] = {}
                    for row in rows:
                        row["grant_id"] = row["grant_id"] or None
                        days.setdefault((row["merchant_id"], row["aweme_id"], row["date"]), row)
                    rows = list(days.values())
                if rows:  # only the baseline's columns: no defaults of newer ones
                    legacy_table = sql_table(
                        table.name,
                        *[sql_column(c.name, c.type) for c in table.c if c.name in names],
                    )
                    conn.execute(legacy_table.insert(), rows)
    source.close()
    return db


def _contents(db) -> dict[str, list]:
    out = {}
    with db.engine.connect() as conn:
        names = set(inspect(conn).get_table_names())
        for table in SQLModel.metadata.sorted_tables:
            if table.name == "schema_meta" or table.name not in names:
                continue
            columns = {c["name"] for c in inspect(conn).get_columns(table.name)}
            query = select(*[c for c in table.c if c.name in columns])
            key = list(table.primary_key.columns)
            out[table.name] = [dict(r) for r in conn.execute(query.order_by(*key)).mappings()]
    return out


def test_an_earlier_release_workspace_is_refused_then_upgraded_without_losing_a_row(
    db_url, tmp_path
):
    db = _earlier_release(db_url, tmp_path)
    before = _contents(db)
    assert sum(len(rows) for rows in before.values()) > 1000
    assert any(row["grant_id"] is None for row in before["metrics"])
    # what the upgrade changes: no grant is '' (not NULL), and every row has no account
    for row in before["metrics"]:
        row["grant_id"] = row["grant_id"] or ""
        row["account_id"] = ""
    assert db.revision() == "legacy"
    config = tmp_path / "qcrules.toml"
    config.write_text(f'[database]\nurl = "{db_url}"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        Workspace.discover(config).db  # noqa: B018
    assert "earlier qcrules" in refused.value.message
    assert "qcrules db upgrade" in refused.value.hint

    result = migrate.upgrade(db)
    assert (result.before, result.after, result.changed) == ("legacy", HEAD, True)
    if db.dialect == "sqlite":
        assert result.backup is not None and result.backup.stat().st_size > 0
        backup = open_database(f"sqlite:///{result.backup}", create=False, check=False)
        assert backup.revision() == "legacy"  # the copy is the workspace as it was
        backup.close()
    assert _contents(db) == before
    assert _diff(db) == []
    assert migrate.upgrade(db).changed is False  # a second run changes nothing
    workspace = Workspace.discover(config)
    assert workspace.db.revision() == HEAD
    workspace.close()
    db.close()


def test_a_schema_newer_than_this_release_is_refused(db_url):
    db = open_database(db_url)
    with db.begin() as conn:
        conn.execute(text("update alembic_version set version_num = '9999_future'"))
    with pytest.raises(DatabaseError) as refused:
        db.check_schema()
    assert "newer than this qcrules" in str(refused.value)
    with pytest.raises(DatabaseError):
        migrate.upgrade(db)
    db.close()


def test_only_init_creates_a_workspace(tmp_path, monkeypatch):
    missing = tmp_path / "nothing.db"
    with pytest.raises(DatabaseError) as refused:
        open_database(f"sqlite:///{missing}", create=False)
    assert f"no qcrules workspace at sqlite:///{missing}" in str(refused.value)
    assert "qcrules init" in refused.value.hint
    assert not missing.exists()  # looking did not create it

    empty = tmp_path / "empty.db"
    import sqlite3

    sqlite3.connect(empty).execute("create table other (x)").connection.close()  # not ours
    with pytest.raises(DatabaseError, match="no qcrules workspace"):
        open_database(f"sqlite:///{empty}", create=False)


def test_init_honours_a_database_url_and_a_failed_init_leaves_nothing(db_url, tmp_path):
    folder = tmp_path / "team"
    workspace = init_workspace(folder, database_url=db_url)
    assert workspace.db.revision() == HEAD
    text_ = (folder / "qcrules.toml").read_text(encoding="utf-8")
    assert f'url = "{db_url}"' in text_
    workspace.close()
    again = Workspace.discover(folder / "qcrules.toml")
    with again.db.connect() as conn:
        assert "grants" in inspect(conn).get_table_names()
    again.close()

    bad = tmp_path / "bad"
    with pytest.raises(ConfigError):
        init_workspace(bad, database_url=f"sqlite:///{tmp_path / 'no' / 'such' / 'x.db'}")
    assert not bad.exists()


def test_a_password_is_not_written_into_the_config(tmp_path):
    from qcrules.workspace import _without_password

    url = "postgresql+psycopg://qc:s3cret@db.example/qcrules"
    assert _without_password(url) == "postgresql+psycopg://qc@db.example/qcrules"


def test_commands_without_a_workspace_exit_2_and_create_nothing(cli, tmp_path):
    target = tmp_path / "x.db"
    result = cli("--database-url", f"sqlite:///{target}", "actions", "list", cwd=tmp_path)
    assert result.returncode == 2
    assert f"no qcrules workspace at sqlite:///{target}" in result.stderr
    assert "Traceback" not in result.stderr
    assert not target.exists()
    made = cli("--database-url", f"sqlite:///{target}", "init", str(tmp_path / "w"))
    assert made.returncode == 0, made.stderr
    current = cli("db", "current", cwd=tmp_path / "w")
    assert current.stdout.strip() == f"{HEAD} (head)"
    counted = open_database(f"sqlite:///{target}", create=False)
    with counted.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(text("grants"))).scalar() == 0
    counted.close()


@pytest.mark.parametrize(
    "url", ["sqlite://", "sqlite:///:memory:", "postgresql+psycopg://postgres@127.0.0.1:5432"]
)
def test_a_url_that_names_no_database_is_no_workspace(url):
    for create in (False, True):  # not even init makes a workspace nobody can open again
        with pytest.raises(DatabaseError) as refused:
            open_database(url, create=create)
        assert "no qcrules workspace at" in str(refused.value)
        assert "names no database" in str(refused.value)
