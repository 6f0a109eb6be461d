"""`qcrules backtest` and `qcrules whatif`: the same pipeline as evaluate, nothing stored.

Backtests build every day's facts from one load of the range (qcrules.facts.rolling); the
equality tests check each day against a full `evaluate --as-of` that day, on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from conftest import DEMO_DAY
from qcrules import service
from qcrules.errors import QcrulesError, UsageError
from qcrules.evaluation import EvaluateOptions, evaluate
from qcrules.facts.builders import build_facts
from qcrules.facts.rolling import RollingFacts
from qcrules.model.db import table
from qcrules.model.tables import AuditEntry, EvaluationRun, Finding
from qcrules.workspace import Workspace, init_workspace
from test_facts import add_creator, add_grant, add_merchant, add_metric, day

AS_OF = date(2026, 11, 27)  # tests.test_facts' day 0


def stored_rows(workspace: Workspace) -> dict[str, int]:
    with workspace.db.connect() as conn:
        return {
            model.__tablename__: conn.execute(
                select(func.count()).select_from(table(model))
            ).scalar_one()
            for model in (EvaluationRun, Finding, AuditEntry)
        }


def same_values(got: dict, want: dict) -> bool:
    """Equal facts; sums of money may differ in their last bits, as the database's own sums
    do between SQLite and PostgreSQL (their order of addition is not defined)."""
    if got.keys() != want.keys():
        return False
    for name, value in want.items():
        other = got[name]
        if isinstance(value, float) and isinstance(other, float):
            if other != pytest.approx(value, rel=1e-12, abs=1e-12):
                print(name, other, value)
                return False
        elif other != value or type(other) is not type(value):
            print(name, other, value)
            return False
    return True


def brief(finding: dict) -> tuple:
    return (finding["fingerprint"], finding["rule"], finding["level"], finding["message"])


@pytest.fixture
def planted(db_url, tmp_path):
    """A workspace whose one grant (G1) has a healthy ROI until day -11, then below its
    break-even (2.0) every day from day -10: MON004 needs 3 days, so it fires from day -8."""
    workspace = init_workspace(tmp_path / "ws", database_url=db_url)
    db = workspace.db
    add_merchant(db, "M1", break_even_roi=2.0)
    add_creator(db, "A")
    add_grant(
        db,
        "G1",
        "M1",
        "A",
        starts_at=day(-60),
        ends_at=day(60),
        requested_at=day(-61),
        has_agreement=True,
    )
    for offset in range(-40, 1):
        add_metric(db, "M1", "A", offset, 100, gmv=300 if offset < -10 else 100)
    yield workspace
    workspace.close()


def test_a_planted_streak_fires_from_its_third_day(planted):
    before = stored_rows(planted)
    result = service.backtest(planted, day(-15), day(0), select=["MON004"])
    assert [d.as_of for d in result.days] == [day(k) for k in range(-15, 1)]
    firing = [d.as_of for d in result.days if d.by_rule.get("MON004")]
    assert firing == [day(k) for k in range(-8, 1)]
    assert result.rules["MON004"] == {
        "first_seen": day(-8).isoformat(),
        "days_firing": 9,
        "entities": 1,
    }
    first = next(d for d in result.days if d.as_of == day(-8))
    assert [(f["rule"], f["entity"]["id"]) for f in first.new] == [("MON004", "G1")]
    assert all(not d.new for d in result.days if d.as_of != day(-8))
    assert all(not d.resolved for d in result.days)
    assert stored_rows(planted) == before  # nothing stored


def test_each_backtest_day_equals_a_full_evaluate_of_that_day(db_url, tmp_path):
    """The demo data set (every built-in rule fires) on both backends: each day's facts
    from the shared load equal a fresh build, and its findings a full evaluate's."""
    from qcrules.demo import generate

    workspace = init_workspace(tmp_path / "ws", database_url=db_url)
    try:
        generate(workspace.db, size="demo", seed=7, today=AS_OF)
        first, last = AS_OF - timedelta(days=9), AS_OF
        result = service.backtest(workspace, first, last)
        with RollingFacts(workspace.db, first - timedelta(days=1), last) as rolling:
            for offset in range(10):
                as_of = first + timedelta(days=offset)
                for shift, floor in ((0, 50.0), (2, 0.0)):  # floor: the ROI streak's spend
                    fresh = build_facts(
                        workspace.db,
                        as_of,
                        exclude_recent_days=shift,
                        merchant_defaults=workspace.config.merchants,
                        min_daily_spend=floor,
                    )
                    shared = rolling.build_facts(
                        workspace.db,
                        as_of,
                        exclude_recent_days=shift,
                        merchant_defaults=workspace.config.merchants,
                        min_daily_spend=floor,
                    )
                    for entity in ("creator", "grant", "merchant"):
                        got = {(f.entity_id, f.merchant_id): f.values for f in shared[entity]}
                        want = {(f.entity_id, f.merchant_id): f.values for f in fresh[entity]}
                        assert list(got) == list(want), (as_of, shift, entity)
                        for key, values in want.items():
                            assert same_values(got[key], values), (as_of, shift, entity, key)
                options = EvaluateOptions(as_of=as_of, store=False, fail_on="never")
                full = evaluate(workspace, options).report
                day_report = evaluate(
                    workspace,
                    options,
                    facts_source=rolling.build_facts,
                    factory=rolling.factory,
                ).report
                assert [brief(f) for f in day_report["findings"]] == [
                    brief(f) for f in full["findings"]
                ], as_of
                for got, want in zip(day_report["findings"], full["findings"], strict=True):
                    assert same_values(got["evidence"], want["evidence"]), as_of
                for key in ("insufficient_data", "waived"):
                    assert day_report[key] == full[key], (as_of, key)
                assert day_report["summary"] == full["summary"]
                counted = result.days[offset]
                assert counted.as_of == as_of
                assert counted.findings == len(full["findings"])
                by_rule: dict[str, int] = {}
                for finding in full["findings"]:
                    by_rule[finding["rule"]] = by_rule.get(finding["rule"], 0) + 1
                assert counted.by_rule == by_rule
        assert len(result.rules) >= 30  # the demo makes nearly every rule fire
    finally:
        workspace.close()


def test_whatif_adds_exactly_what_an_evaluate_with_the_override_finds(cli, demo_copy):
    base = cli(
        "evaluate", "--as-of", DEMO_DAY.isoformat(), "--format", "json", "--no-store", cwd=demo_copy
    )
    assert base.returncode in (0, 1), base.stderr
    workspace = Workspace.discover(demo_copy / "qcrules.toml")
    before = stored_rows(workspace)
    got = cli(
        "whatif",
        "--set",
        "permissions.max_pending_days=1",
        "--set",
        "monitoring.ctr_normal_min=0.05",
        "--as-of",
        DEMO_DAY.isoformat(),
        "--format",
        "json",
        cwd=demo_copy,
    )
    assert got.returncode == 0, got.stderr
    assert stored_rows(workspace) == before  # nothing stored
    workspace.close()
    whatif = json.loads(got.stdout)
    config = demo_copy / "qcrules.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text + "\n[params.permissions]\nmax_pending_days = 1\n"
        "[params.monitoring]\nctr_normal_min = 0.05\n",
        encoding="utf-8",
    )
    changed = cli(
        "evaluate", "--as-of", DEMO_DAY.isoformat(), "--format", "json", "--no-store", cwd=demo_copy
    )
    old = {f["fingerprint"]: f for f in json.loads(base.stdout)["findings"]}
    new = {f["fingerprint"]: f for f in json.loads(changed.stdout)["findings"]}
    added = [f for k, f in new.items() if k not in old]
    removed = [f for k, f in old.items() if k not in new]
    assert {f["fingerprint"] for f in whatif["added"]} == {f["fingerprint"] for f in added}
    assert {f["fingerprint"] for f in whatif["removed"]} == {f["fingerprint"] for f in removed}
    assert len(added) >= 5 and any(f["rule"] == "PRM008" for f in added)
    assert whatif["unchanged"] == len(set(old) & set(new))
    assert whatif["params"] == {
        "permissions": {"max_pending_days": {"current": 3, "new": 1}},
        "monitoring": {"ctr_normal_min": {"current": 0.03, "new": 0.05}},
    }
    # the added findings are the evaluate's, evidence and all
    assert whatif["added"] == added


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("monitorin.min_days=1", "no pack 'monitorin'; did you mean 'monitoring'?"),
        ("monitoring.min_dys=1", "has no parameter 'min_dys'; did you mean monitoring.min_days?"),
        ("monitoring.min_days=many", "must be a number, got 'many'"),
        ("monitoring.min_days", "is not PACK.PARAM=VALUE"),
    ],
)
def test_a_bad_set_is_exit_2_with_a_did_you_mean(cli, demo_folder, item, message):
    for command in (["whatif"], ["backtest", "--from", "2026-11-20", "--to", "2026-11-27"]):
        got = cli(*command, "--set", item, cwd=demo_folder)
        assert got.returncode == 2, got.stderr
        assert message in got.stderr
        assert got.stdout == ""


def test_set_values_are_typed_like_params_in_the_toml_file(demo_folder):
    from qcrules.backtest import parse_sets

    workspace = Workspace.discover(demo_folder / "qcrules.toml")
    packset = service.packs(workspace)
    workspace.close()
    assert parse_sets(packset, ["monitoring.min_days=5", "monitoring.ctr_low = 0.02"]) == {
        "monitoring": {"min_days": 5, "ctr_low": 0.02}
    }
    assert parse_sets(packset, ["monitoring.ctr_low=1"]) == {"monitoring": {"ctr_low": 1}}


def test_backtest_json_csv_and_nothing_stored(cli, demo_copy):
    workspace = Workspace.discover(demo_copy / "qcrules.toml")
    before = stored_rows(workspace)
    got = cli(
        "backtest", "--from", "2026-11-21", "--to", "2026-11-27", "--format", "json", cwd=demo_copy
    )
    assert got.returncode == 0, got.stderr
    data = json.loads(got.stdout)
    assert set(data) == {"days", "rules"}
    assert [d["as_of"] for d in data["days"]] == [f"2026-11-{n}" for n in range(21, 28)]
    for entry in data["days"]:
        assert set(entry) == {"as_of", "findings", "by_rule", "new", "resolved"}
        assert entry["findings"] == sum(entry["by_rule"].values())
    for rule, summary in data["rules"].items():
        assert set(summary) == {"first_seen", "days_firing", "entities"}
        assert summary["days_firing"] == sum(1 for d in data["days"] if rule in d["by_rule"])
    # new and resolved follow from the counts of consecutive days
    for prev, cur in zip(data["days"], data["days"][1:], strict=False):
        assert cur["findings"] == prev["findings"] + len(cur["new"]) - len(cur["resolved"])
    full = cli("evaluate", "--as-of", "2026-11-27", "--format", "json", "--no-store", cwd=demo_copy)
    assert data["days"][-1]["findings"] == len(json.loads(full.stdout)["findings"])
    csv_out = cli(
        "backtest", "--from", "2026-11-26", "--to", "2026-11-27", "--format", "csv", cwd=demo_copy
    )
    lines = csv_out.stdout.splitlines()
    assert lines[0] == "as_of,rule,level,findings,new,resolved"
    assert any(line.startswith("2026-11-27,PRM001,critical,") for line in lines)
    table = cli("backtest", "--from", "2026-11-26", "--to", "2026-11-27", cwd=demo_copy)
    assert table.returncode == 0 and "2026-11-26" in table.stdout and "MON004" in table.stdout
    assert stored_rows(workspace) == before
    workspace.close()
    bad = cli("backtest", "--from", "2026-11-27", "--to", "2026-11-20", cwd=demo_copy)
    assert bad.returncode == 2 and "is after --to" in bad.stderr
    ahead = (date.today() + timedelta(days=5)).isoformat()
    future = cli("backtest", "--from", "2026-11-27", "--to", ahead, cwd=demo_copy)
    assert future.returncode == 2 and f"--to {ahead} is after today" in future.stderr


def test_backtest_with_a_set_uses_the_override(planted):
    # with an 11-day streak needed, MON004 starts 8 days later than with 3
    result = service.backtest(
        planted, day(-15), day(0), select=["MON004"], sets=["monitoring.roi_streak_days=11"]
    )
    assert result.rules["MON004"] == {
        "first_seen": day(0).isoformat(),
        "days_firing": 1,
        "entities": 1,
    }
    assert result.params == {"monitoring": {"roi_streak_days": {"current": 3, "new": 11}}}


def test_a_backtest_in_a_child_process_equals_one_in_process(planted):
    """The TUI's charts run the backtest apart (its CPU and memory out of the app): the same
    days and rules come back, and an error comes back as the child's message and hint."""
    here = service.backtest(planted, day(-15), day(0), select=["MON004"])
    apart = service.backtest_apart(planted, day(-15), day(0), select=["MON004"])
    assert apart.to_json() == here.to_json() and apart.rules["MON004"]["days_firing"] == 9
    with pytest.raises(QcrulesError) as caught:
        service.backtest_apart(planted, day(0), day(-15))
    assert "is after" in caught.value.message and caught.value.hint


def test_the_tuis_whatif_runs_apart_and_gives_what_the_whatif_gives_here(demo_folder):
    """The TUI's what-if runs in a child (quitting kills it rather than waiting for it): the
    same findings added and removed come back, and the child it started is told."""
    workspace = Workspace.discover(demo_folder / "qcrules.toml")
    started: list = []
    try:
        sets = ["monitoring.ctr_normal_min=0.05"]
        here = service.whatif(workspace, sets, as_of=DEMO_DAY)
        apart = service.whatif_apart(workspace, sets, as_of=DEMO_DAY, started=started.append)
    finally:
        workspace.close()
    assert apart.to_json() == here.to_json() and here.added
    assert len(started) == 1 and started[0].returncode == 0


def test_a_config_broken_after_opening_is_an_error_in_words_from_the_child(planted):
    planted.config.path.write_text("[params\n", encoding="utf-8")
    with pytest.raises(QcrulesError) as caught:
        service.backtest_apart(planted, day(-3), day(0))
    assert "qcrules.toml" in caught.value.message and "Traceback" not in caught.value.message
    assert "backtest process failed" not in caught.value.message


def test_save_params_writes_the_override_and_keeps_the_comments(demo_copy):
    config = demo_copy / "qcrules.toml"
    config.write_text(
        config.read_text(encoding="utf-8")
        + "\n# our own note: keep it\n[params.screening]\nmin_rebate_rate = 0.25  # agreed\n",
        encoding="utf-8",
    )
    before = config.read_text(encoding="utf-8")
    workspace = Workspace.discover(config)
    try:
        service.save_params(workspace, {"monitoring": {"min_days": 5}})
        service.save_params(workspace, {"screening": {"min_rebate_rate": 0.3}})
        text = config.read_text(encoding="utf-8")
        comments = [line for line in before.splitlines() if line.lstrip().startswith("#")]
        assert all(line in text.splitlines() for line in comments)
        assert "min_rebate_rate = 0.3  # agreed" in text
        assert workspace.config.params == {
            "screening": {"min_rebate_rate": 0.3},
            "monitoring": {"min_days": 5},
        }
        pack = next(p for p in service.packs(workspace).packs if p.id == "monitoring")
        assert pack.params["min_days"] == 5
        with pytest.raises(UsageError, match="did you mean"):
            service.save_params(workspace, {"monitoring": {"min_dayz": 5}})
        assert config.read_text(encoding="utf-8") == text  # a refused save changes nothing
    finally:
        workspace.close()


def test_a_backtest_split_over_processes_equals_one_in_one(cli, demo_copy):
    """--jobs splits the days into consecutive parts, each in its own process: every day,
    every new and resolved finding and every rule's summary are the same as one process
    gives (an entity named in two parts counts once)."""
    args = ("backtest", "--from", "2026-11-21", "--to", "2026-11-27", "--format", "json")
    one = cli(*args, cwd=demo_copy)
    assert one.returncode == 0, one.stderr
    for jobs in ("2", "3"):
        split = cli(*args, "--jobs", jobs, cwd=demo_copy)
        assert split.returncode == 0, split.stderr
        assert json.loads(split.stdout) == json.loads(one.stdout)
    data = json.loads(one.stdout)
    assert len(data["days"]) == 7 and any(s["days_firing"] > 3 for s in data["rules"].values())
    bad = cli(*args, "--jobs", "0", cwd=demo_copy)
    assert bad.returncode == 2 and "--jobs 0 must be at least 1" in bad.stderr


@pytest.mark.parametrize(
    "item",
    [
        "monitoring.min_daily_spend=1000",  # the streak's floor: part of what the build is given
        "monitoring.exclude_recent_days=2",  # another build altogether
        "screening.min_active_fan_ratio=0.9",  # judged on the same facts
    ],
)
def test_whatif_equals_two_evaluations_whether_or_not_the_facts_can_be_shared(demo_folder, item):
    """A what-if builds the facts once for both of its evaluations when the parameter does not
    reach the build, and builds again when it does: either way its difference is the one
    two separate evaluations give."""
    from qcrules.backtest import parse_sets

    workspace = Workspace.discover(demo_folder / "qcrules.toml")
    try:
        overrides = parse_sets(service.packs(workspace), [item])
        got = service.whatif(workspace, overrides, as_of=DEMO_DAY)
        options = EvaluateOptions(as_of=DEMO_DAY, store=False, fail_on="never")
        before = {f.fingerprint: f for f in service.evaluate(workspace, options).findings}
        changed = replace(options, params=overrides)
        after = {f.fingerprint: f for f in service.evaluate(workspace, changed).findings}
    finally:
        workspace.close()
    assert [f.to_json() for f in got.added] == [
        f.to_json() for k, f in after.items() if k not in before
    ]
    assert [f.to_json() for f in got.removed] == [
        f.to_json() for k, f in before.items() if k not in after
    ]
    assert got.unchanged == len(before.keys() & after.keys())
    assert got.added or got.removed, "the override should change something in the demo"


@pytest.mark.parametrize(
    "params",
    [
        "[params]\nmonitoring = { min_days = 4 }  # set by the team\n",
        "params = { monitoring = { min_days = 4 } }\n",
    ],
    ids=["inline-pack", "inline-params"],
)
def test_a_note_saved_into_an_inline_table_is_kept(demo_copy, params):
    """An inline `{ … }` table cannot carry a comment per value: the note goes on its line,
    the value is set and the file stays valid TOML."""
    config = demo_copy / "qcrules.toml"
    config.write_text(params + "\n" + config.read_text(encoding="utf-8"), encoding="utf-8")
    workspace = Workspace.discover(config)
    try:
        assert workspace.config.params == {"monitoring": {"min_days": 4}}
        service.save_params(workspace, {"monitoring": {"min_days": 6}}, note="after the 11-20 test")
        text = config.read_text(encoding="utf-8")
        line = next(line for line in text.splitlines() if "min_days = 6" in line)
        assert "# after the 11-20 test" in line
        assert workspace.config.params == {"monitoring": {"min_days": 6}}
    finally:
        workspace.close()
