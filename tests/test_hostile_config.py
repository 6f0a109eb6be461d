"""qcrules.toml written wrong on purpose or by accident: each mistake a clear message naming
the file and line (exit 2), or a warning that says what is ignored — never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from qcrules.config import load_config
from qcrules.errors import ConfigError

WAIVER = '[[waivers]]\nrule = "PRM004"\nentity = "G1"\nreason = "agreed"\nexpires = 2026-12-31\n'


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(tmp_path: Path, text: str) -> str:
    config = write(tmp_path / "qcrules.toml", text)
    with pytest.raises(ConfigError) as info:
        load_config(config)
    return str(info.value)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('rule = "PRM004"', 'rule = ""', "waiver rule is empty (an empty rule would waive every"),
        ('rule = "PRM004"', 'rule = "  "', "waiver rule is empty"),
        ('reason = "agreed"', 'reason = " "', "waiver reason is empty"),
        ('entity = "G1"', 'entity = ""', "waiver entity is empty"),
        (
            "expires = 2026-12-31",
            "expires = 2026-12-31T08:00:00",
            "waiver expires is a date and time (2026-12-31T08:00:00); write the date alone, "
            "like 2026-12-31",
        ),
        ("expires = 2026-12-31", "expires = 2026-12-31 08:00:00+08:00", "like 2026-12-31"),
        ("expires = 2026-12-31", "expires = 08:00:00", "must be a date like 2026-12-31"),
    ],
)
def test_bad_waivers_are_errors_on_their_line(tmp_path, old, new, message):
    text = errors_of(tmp_path, WAIVER.replace(old, new))
    assert "qcrules.toml:1: waiver " in text and message in text


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("break_even_roi = 0", "must be a number above 0"),
        ("break_even_roi = -1.5", "must be a number above 0"),
        ("break_even_roi = inf", "must be a number above 0"),
        ("break_even_roi = nan", "must be a number above 0"),
        ("break_even_roi = 1e300", "at most 1000"),
        ("industry_cvr = 2", "is a share: between 0 and 1"),
        ("industry_cvr = -0.1", "is a share"),
        ('target_gender = "men"', 'must be "male" or "female"'),
        ('target_age_bands = ["31-40", "old"]', "holds 'old', which is not an age band"),
        ("categories = [1, 2]", "must be a list of texts"),
    ],
)
def test_out_of_range_merchant_defaults_are_errors(tmp_path, line, message):
    text = errors_of(tmp_path, f"[merchant.M1]\n{line}\n")
    key = line.split(" =")[0]
    assert f"qcrules.toml:2: merchant.M1.{key} " in text and message in text


def test_good_merchant_defaults_load(tmp_path):
    config = write(
        tmp_path / "qcrules.toml",
        '[merchant.M1]\nbreak_even_roi = 1.8\nindustry_cvr = 0.02\ntarget_gender = "male"\n'
        'target_age_bands = ["31-40", "50+"]\ncategories = ["男装"]\n',
    )
    assert load_config(config).merchants["M1"]["break_even_roi"] == 1.8


def test_cli_bad_waiver_exit_2_nothing_evaluated(cli, demo_copy):
    config = demo_copy / "qcrules.toml"
    config.write_text(
        config.read_text(encoding="utf-8")
        + "\n"
        + WAIVER.replace("2026-12-31", "2026-12-31T08:00:00"),
        encoding="utf-8",
    )
    done = cli("evaluate", "--as-of", "2026-11-27", cwd=demo_copy)
    assert done.returncode == 2
    assert "write the date alone, like 2026-12-31" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_cli_warns_on_merchant_defaults_for_an_unknown_merchant(cli, demo_copy):
    config = demo_copy / "qcrules.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text + "\n[merchant.M01]\nbreak_even_roi = 2.0\n\n[merchant.M1]\nbreak_even_roi = 1.9\n",
        encoding="utf-8",
    )
    line = len(text.splitlines()) + 2
    done = cli("evaluate", "--as-of", "2026-11-27", "--no-store", "--format", "json", cwd=demo_copy)
    assert done.returncode in (0, 1), done.stderr
    assert (
        f"warning: {config}:{line}: [merchant.M01] names no merchant in the database" in done.stderr
    )
    assert "did you mean [merchant.M1]?" in done.stderr
    assert "[merchant.M1] names" not in done.stderr  # a known merchant: no warning


def test_unknown_merchant_warning_on_either_database(db_url, tmp_path):
    """The check reads the merchants of the workspace's own database, SQLite or PostgreSQL."""
    from qcrules.ingest import run_import
    from qcrules.workspace import Workspace, init_workspace

    folder = tmp_path / "ws"
    workspace = init_workspace(folder, database_url=db_url)
    merchants = write(folder / "m.csv", "merchant_id,name,break_even_roi\nM1,a,1.8\n")
    assert run_import(workspace.db, "merchants", [merchants]).ok
    workspace.close()
    config = folder / "qcrules.toml"
    config.write_text(
        config.read_text(encoding="utf-8")
        + "\n[merchant.M1]\nbreak_even_roi = 2.0\n\n[merchant.M01]\nbreak_even_roi = 2.0\n",
        encoding="utf-8",
    )
    seen: list[str] = []
    workspace = Workspace.discover(config, db_url)
    workspace.on_warning = seen.append
    try:
        _ = workspace.db
    finally:
        workspace.close()
    assert len(seen) == 1 and "[merchant.M01] names no merchant" in seen[0]
    assert "did you mean [merchant.M1]?" in seen[0]


def _runs(cli, folder) -> int:
    import json

    listed = cli("runs", "list", "--format", "json", cwd=folder)
    assert listed.returncode == 0, listed.stderr
    return len(json.loads(listed.stdout))


def test_cli_parameter_overrides_outside_the_packs_ranges_are_refused(cli, demo_copy):
    """roi_streak_days = 0 made MON004 say "ROI below break-even for 0 days in a row …
    revoke the grant" of healthy grants; day counts take whole numbers ≥ 1."""
    config = demo_copy / "qcrules.toml"
    text = config.read_text(encoding="utf-8").rstrip("\n") + "\n"
    before = len(text.splitlines())
    config.write_text(
        text + "\n[params.monitoring]\nroi_streak_days = 0\nmin_days = 2.5\n"
        "\n[merchant.M1.params.optimization]\nmin_days = -5\n",
        encoding="utf-8",
    )
    runs = _runs(cli, demo_copy)
    done = cli("evaluate", "--as-of", "2026-11-27", cwd=demo_copy)
    assert done.returncode == 2, done.stderr
    assert done.stdout == "" and "MON004" not in done.stderr
    lines = {n: before + n for n in (3, 4, 7)}
    assert (
        f"{config}:{lines[3]}: [params.monitoring] parameter monitoring.roi_streak_days "
        "must be a whole number ≥ 1, got 0" in done.stderr
    )
    assert f"{config}:{lines[4]}: [params.monitoring] parameter monitoring.min_days" in done.stderr
    assert "got 2.5" in done.stderr
    assert (
        f"{config}:{lines[7]}: [merchant.M1.params.optimization] parameter "
        "optimization.min_days must be a whole number ≥ 1, got -5" in done.stderr
    )
    assert "hint:" in done.stderr and "Traceback" not in done.stderr
    assert _runs(cli, demo_copy) == runs  # nothing evaluated, nothing stored


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("monitoring.roi_streak_days=0", "must be a whole number ≥ 1, got 0"),
        ("monitoring.min_days=2.5", "must be a whole number ≥ 1, got 2.5"),
        ("monitoring.min_days=-5", "must be a whole number ≥ 1, got -5"),
        ("monitoring.ctr_low=1.5", "must be a number from 0 to 1, got 1.5"),
        ("screening.min_rebate_rate=-0.1", "must be a number from 0 to 1, got -0.1"),
    ],
)
def test_cli_set_outside_the_packs_range_is_refused(cli, demo_folder, setting, message):
    for command in ("whatif", "backtest"):
        args = [command, "--set", setting]
        args += (
            ["--as-of", "2026-11-27"]
            if command == "whatif"
            else ["--from", "2026-11-26", "--to", "2026-11-27"]
        )
        done = cli(*args, cwd=demo_folder)
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        assert message in done.stderr and "hint: the current value is" in done.stderr
        assert "takes a" in done.stderr  # what the range is


def test_in_range_overrides_still_apply(cli, demo_folder):
    done = cli(
        "whatif", "--set", "monitoring.roi_streak_days=2", "--as-of", "2026-11-27", cwd=demo_folder
    )
    assert done.returncode == 0, done.stderr
    assert "monitoring.roi_streak_days: 3 → 2" in done.stdout
