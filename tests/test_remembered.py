"""The workspace's data version and the backtests remembered by it (qcrules.remembered): the
TUI's 30-day chart comes back at once on the same inputs, and any change to the records,
packs or settings works it out again — never a stale chart."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest

from conftest import DEMO_DAY
from helpers import write_csv
from qcrules import service
from qcrules.remembered import FOLDER
from qcrules.workspace import Workspace

START = DEMO_DAY - timedelta(days=6)
GRANT, CREATOR = "G-000004", "2269146343602051947"  # an active grant of the demo's M1


@pytest.fixture
def fresh(demo_copy):
    """The demo copy opened, with nothing remembered yet."""
    shutil.rmtree(demo_copy / FOLDER, ignore_errors=True)
    workspace = Workspace.discover(demo_copy / "qcrules.toml")
    yield workspace
    workspace.close()


def metrics_file(folder, spend: str):
    """One creator-day of a grant in the range, with a new spend and no GMV."""
    return write_csv(
        folder / f"metrics-{spend}.csv",
        ["日期", "商家ID", "达人UID", "授权ID", "整体消耗", "整体展示次数", "整体点击次数", "整体成交金额"],
        [[(DEMO_DAY - timedelta(days=2)).isoformat(), "M1", CREATOR, GRANT, spend, "100", "5", "0"]],
    )  # fmt: skip


def test_every_change_to_the_records_gives_a_new_data_version_and_storing_a_run_does_not(
    fresh, tmp_path
):
    db = fresh.db
    first = db.data_version()
    assert first  # the demo's records carry one
    service.evaluate(fresh, service.EvaluateOptions(as_of=DEMO_DAY, fail_on="never"))
    assert db.data_version() == first  # a stored run changes no record
    bad = write_csv(
        tmp_path / "bad.csv", ["日期", "商家ID", "达人UID", "整体消耗"], [["x", "M1", "1", "1"]]
    )
    assert not service.import_files(fresh, "metrics", [bad]).ok
    assert db.data_version() == first  # a refused import wrote nothing
    assert service.import_files(fresh, "metrics", [metrics_file(tmp_path, "999")]).ok
    imported = db.data_version()
    assert imported != first
    service.hold_entity(fresh, "grant", GRANT, "checking")
    assert db.data_version() not in (first, imported)


def test_a_backtest_is_remembered_until_its_inputs_change(fresh, tmp_path):
    children: list = []
    first, remembered = service.remembered_backtest(fresh, START, DEMO_DAY, started=children.append)
    assert not remembered and len(children) == 1  # worked out in a child process
    assert list((fresh.root / FOLDER).glob("*.json"))
    again, remembered = service.remembered_backtest(fresh, START, DEMO_DAY, started=children.append)
    assert remembered and len(children) == 1  # no second child
    assert again.to_json() == first.to_json()
    assert [d.by_level for d in again.days] == [d.by_level for d in first.days]
    assert again.named == first.named and again.levels == first.levels

    # new records: worked out again, and equal to a backtest made now
    assert service.import_files(fresh, "metrics", [metrics_file(tmp_path, "5000")]).ok
    changed, remembered = service.remembered_backtest(fresh, START, DEMO_DAY)
    assert not remembered
    assert changed.to_json() == service.backtest(fresh, START, DEMO_DAY).to_json()
    assert changed.to_json() != first.to_json()

    # another parameter in qcrules.toml: worked out again
    service.save_params(fresh, {"monitoring": {"roi_streak_days": 2}})
    lowered, remembered = service.remembered_backtest(fresh, START, DEMO_DAY)
    assert not remembered
    assert lowered.to_json() == service.backtest(fresh, START, DEMO_DAY).to_json()
    assert lowered.rules["MON004"]["days_firing"] >= changed.rules["MON004"]["days_firing"]

    # another range is another backtest
    _, remembered = service.remembered_backtest(fresh, START + timedelta(days=1), DEMO_DAY)
    assert not remembered


def test_a_changed_pack_file_or_language_is_not_the_remembered_backtest(demo_copy, monkeypatch):
    from qcrules.i18n import language

    folder = demo_copy / "team-packs"
    folder.mkdir()
    pack = folder / "team.toml"
    rule = (
        '[pack]\nid = "team"\nversion = "1.0.0"\nentity = "grant"\n'
        '[[rules]]\nid = "TEM001"\nname = "x"\nlevel = "info"\nwhen = "roi_7d < LIMIT"\n'
        'action = { kind = "review_grant" }\nmessage = "x"\nsource = "team"\n'
    )
    pack.write_text(rule.replace("LIMIT", "0"), encoding="utf-8")
    config = demo_copy / "qcrules.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace("paths = []", 'paths = ["team-packs"]'),
        encoding="utf-8",
    )
    shutil.rmtree(demo_copy / FOLDER, ignore_errors=True)
    workspace = Workspace.discover(config)
    try:
        first, _ = service.remembered_backtest(workspace, START, DEMO_DAY)
        assert (
            "TEM001" not in first.rules
            and service.remembered_backtest(workspace, START, DEMO_DAY)[1]
        )
        pack.write_text(
            rule.replace("LIMIT", "100"), encoding="utf-8"
        )  # the same file, another rule
        got, remembered = service.remembered_backtest(workspace, START, DEMO_DAY)
        assert not remembered and got.rules["TEM001"]["days_firing"] == 7
        monkeypatch.setenv("QCRULES_LANG", "zh" if language() == "en" else "en")
        language.cache_clear()
        assert not service.remembered_backtest(workspace, START, DEMO_DAY)[1]
    finally:
        language.cache_clear()
        workspace.close()


def test_a_damaged_or_unwritable_memory_is_worked_out_again(fresh):
    first, _ = service.remembered_backtest(fresh, START, DEMO_DAY)
    (kept,) = (fresh.root / FOLDER).glob("*.json")
    kept.write_text('{"days": [{"as_of": "not a date"', encoding="utf-8")
    again, remembered = service.remembered_backtest(fresh, START, DEMO_DAY)
    assert not remembered and again.to_json() == first.to_json()
    assert service.remembered_backtest(fresh, START, DEMO_DAY)[1]  # written whole again
    shutil.rmtree(fresh.root / FOLDER)
    (fresh.root / FOLDER).parent.mkdir(exist_ok=True)
    (fresh.root / FOLDER).write_text("a file where the folder goes", encoding="utf-8")
    got, remembered = service.remembered_backtest(fresh, START, DEMO_DAY)
    assert not remembered and got.to_json() == first.to_json()


def test_the_data_version_on_either_database(stored_demo, tmp_path):
    workspace, _ = stored_demo
    first = workspace.db.data_version()
    assert first
    service.evaluate(workspace, service.EvaluateOptions(as_of=DEMO_DAY, fail_on="never"))
    assert workspace.db.data_version() == first
    assert service.import_files(workspace, "metrics", [metrics_file(tmp_path, "7")]).ok
    assert workspace.db.data_version() not in ("", first)


def test_a_plugins_code_edited_in_place_is_another_key(tmp_path, monkeypatch):
    """An editable plugin (pip install -e) changes its code without a new version: the key
    covers its files, as it covers qcrules' own."""
    import importlib
    import os
    from types import SimpleNamespace

    from qcrules.remembered import _code_stamp

    package = tmp_path / "myplug"
    package.mkdir()
    (package / "__init__.py").write_text("LIMIT = 1\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("myplug")
    host = SimpleNamespace(pm=SimpleNamespace(list_name_plugin=lambda: [("myplug", module)]))
    before = _code_stamp(host)
    assert any("myplug" in path for path, *_ in before)
    source = package / "__init__.py"
    source.write_text("LIMIT = 10\n", encoding="utf-8")
    os.utime(source, ns=(1, 1))  # another size and time, as an edit gives
    assert _code_stamp(host) != before
