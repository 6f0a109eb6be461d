"""Workspace discovery, precedence and the errors a mistyped qcrules.toml gets."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from qcrules.config import find_config, load_config
from qcrules.errors import ConfigError
from qcrules.model import open_database
from qcrules.workspace import Workspace, init_workspace


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_init_creates_config_and_wal_database(tmp_path):
    ws = init_workspace(tmp_path / "ws")
    assert (tmp_path / "ws" / "qcrules.toml").is_file()
    db_file = tmp_path / "ws" / "qcrules.db"
    assert db_file.is_file()
    assert ws.config.database_url == f"sqlite:///{db_file}"
    ws.close()
    with sqlite3.connect(db_file) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}
    assert {
        "merchants",
        "creators",
        "pool",
        "grants",
        "metrics",
        "runs",
        "findings",
        "audit_log",
        "holds",
    } <= tables


def test_init_refuses_an_existing_workspace(tmp_path, cli):
    assert cli("init", str(tmp_path)).returncode == 0
    before = (tmp_path / "qcrules.toml").read_text(encoding="utf-8")
    again = cli("init", str(tmp_path))
    assert again.returncode == 2
    assert "already exists" in again.stderr
    assert (tmp_path / "qcrules.toml").read_text(encoding="utf-8") == before


def test_init_on_a_database_with_records_joins_it_and_never_writes_the_demo_into_it(
    tmp_path, cli, db_url
):
    """`init --demo` on a team's database upserted the demo over the real records (a revoked
    grant came back active, the audit log no longer matched); `init` said "import your data".
    The demo is refused, changing nothing; a plain init says what it joined."""
    first = cli("--database-url", db_url, "init", str(tmp_path / "team"), "--demo")
    assert first.returncode == 0, first.stderr
    db = open_database(db_url)
    try:
        with db.connect() as conn:
            conn.execute(text("update grants set status = 'revoked' where grant_id = 'G-000004'"))
            conn.commit()
            before = conn.execute(text("select count(*) from grants")).scalar()
    finally:
        db.close()
    demo = cli("--database-url", db_url, "init", str(tmp_path / "demo"), "--demo")
    assert demo.returncode == 2
    assert "already holds records" in demo.stderr and "130 grants" in demo.stderr
    assert not (tmp_path / "demo").exists()  # nothing written, the folder neither
    db = open_database(db_url)
    try:
        with db.connect() as conn:
            status = "select status from grants where grant_id = 'G-000004'"
            assert conn.execute(text(status)).scalar() == "revoked"
            assert conn.execute(text("select count(*) from grants")).scalar() == before
    finally:
        db.close()
    join = cli("--database-url", db_url, "init", str(tmp_path / "me"))
    assert join.returncode == 0, join.stderr
    assert "Joined an existing database: 4 merchants, 400 creators, 130 grants" in join.stderr


def test_discovery_walks_up_from_the_current_folder(tmp_path):
    config = write(tmp_path / "qcrules.toml", "")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_config(cwd=deep) == config


def test_discovery_precedence_flag_then_env_then_search(tmp_path, monkeypatch):
    near = write(tmp_path / "qcrules.toml", "")
    by_env = write(tmp_path / "env" / "qcrules.toml", "")
    by_flag = write(tmp_path / "flag" / "qcrules.toml", "")
    monkeypatch.setenv("QCRULES_CONFIG", str(by_env))
    assert find_config(by_flag, cwd=tmp_path) == by_flag.resolve()
    assert find_config(None, cwd=tmp_path) == by_env.resolve()
    monkeypatch.delenv("QCRULES_CONFIG")
    assert find_config(None, cwd=tmp_path) == near


def test_missing_explicit_config_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        find_config(tmp_path / "nope.toml")


def test_database_url_precedence(tmp_path, monkeypatch):
    config = write(tmp_path / "qcrules.toml", '[database]\nurl = "sqlite:///data/q.db"\n')
    monkeypatch.delenv("QCRULES_DATABASE_URL", raising=False)
    assert load_config(config).database_url == f"sqlite:///{tmp_path / 'data' / 'q.db'}"
    monkeypatch.setenv("QCRULES_DATABASE_URL", "sqlite:////tmp/from-env.db")
    assert load_config(config).database_url == "sqlite:////tmp/from-env.db"
    ws = Workspace.discover(config, "sqlite:////tmp/from-flag.db")
    assert ws.config.database_url == "sqlite:////tmp/from-flag.db"


def test_unknown_keys_are_warnings_with_file_and_line(tmp_path):
    config = write(
        tmp_path / "qcrules.toml",
        "[database]\nurl = 'sqlite:///q.db'\n\n[packs]\ndisabel = ['monitoring']\n\n[colour]\nx = 1\n",
    )
    cfg = load_config(config)
    assert any(
        f"{config}:5: unknown key 'disabel'" in w and "did you mean 'disable'" in w
        for w in cfg.warnings
    ), cfg.warnings
    assert any(f"{config}:7: unknown key 'colour'" in w for w in cfg.warnings), cfg.warnings


def test_wrong_types_are_errors_naming_file_and_line(tmp_path):
    config = write(
        tmp_path / "qcrules.toml",
        '[merchant.M1]\nbreak_even_roi = "1.8"\n\n[packs]\npaths = "rules"\n',
    )
    with pytest.raises(ConfigError) as info:
        load_config(config)
    text = str(info.value)
    assert f"{config}:2: merchant.M1.break_even_roi must be" in text
    assert f"{config}:5: packs.paths must be list" in text


def test_broken_toml_names_the_file_and_line(tmp_path):
    config = write(tmp_path / "qcrules.toml", "[database]\nurl = \n")
    with pytest.raises(ConfigError, match=r"qcrules.toml: broken TOML: .*line 2"):
        load_config(config)


def test_waivers_need_reason_and_expiry(tmp_path):
    config = write(
        tmp_path / "qcrules.toml",
        '[[waivers]]\nrule = "PRM004"\nentity = "G1"\nreason = "agreed"\nexpires = 2026-12-31\n\n'
        '[[waivers]]\nrule = "PRM002"\nentity = "G2"\n',
    )
    with pytest.raises(ConfigError) as info:
        load_config(config)
    assert f"{config}:7: waiver is missing reason, expires" in str(info.value)


def test_cli_reports_bad_config_with_exit_2(tmp_path, cli):
    write(tmp_path / "qcrules.toml", "[merchant.M1]\nbreak_even_roi = true\n")
    result = cli("evaluate", cwd=tmp_path)
    assert result.returncode == 2
    assert "qcrules.toml:2" in result.stderr and "break_even_roi" in result.stderr
    assert result.stdout == ""


def test_cli_warns_on_unknown_key_and_goes_on(tmp_path, cli):
    init = cli("init", str(tmp_path))
    assert init.returncode == 0
    with open(tmp_path / "qcrules.toml", "a", encoding="utf-8") as handle:
        handle.write("\n[plugins]\n\n[extra_section]\nkey = 1\n")
    result = cli("evaluate", "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "unknown key 'extra_section'" in result.stderr
    assert "qcrules.toml:" in result.stderr


def test_no_workspace_is_a_clear_error(tmp_path, cli):
    result = cli("evaluate", cwd=tmp_path)
    assert result.returncode == 2
    assert "no qcrules.toml found" in result.stderr
    assert "qcrules init" in result.stderr


def test_bare_command_prints_help_and_bad_options_exit_2(cli, tmp_path):
    bare = cli(cwd=tmp_path)
    assert bare.returncode == 0 and "evaluate" in bare.stdout + bare.stderr
    bad = cli("evaluate", "--bogus", cwd=tmp_path)
    assert bad.returncode == 2 and "No such option" in bad.stderr
