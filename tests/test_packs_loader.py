"""Pack validation: every problem reported at once, each with file:line:col and a help line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from qcrules.actions.kinds import BUILTIN_ACTIONS
from qcrules.facts.schema import builtin_schema
from qcrules.packs.loader import load_pack_file, version_satisfies
from qcrules.packs.registry import load_packs

SCHEMA = builtin_schema()
FIELD_TYPES = {e: SCHEMA.fields_for(e) for e in ("creator", "grant", "merchant")}

GOOD = """\
[pack]
id = "team-extra"
version = "1.2.0"
entity = "grant"
title = { zh = "附加", en = "Extra" }

[params]
max_cpc = 2.5

[[rules]]
id = "EXT001"
name = "spend-no-clicks"
level = "warn"
when = "spend_7d > 100 and clicks_7d == 0"
action = { kind = "review_grant" }
message = { zh = "近7天消耗 {spend_7d:.0f} 无点击", en = "Spent {spend_7d:.0f} with no clicks" }
source = "team rule"

[[tests]]
name = "fires"
fact = { spend_7d = 500.0, clicks_7d = 0 }
expect = ["EXT001"]
"""


def load(tmp_path: Path, text: str):
    path = tmp_path / "pack.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    pack, diagnostics = load_pack_file(
        path, origin="folder", field_types=FIELD_TYPES, action_kinds=BUILTIN_ACTIONS
    )
    return path, pack, diagnostics


def by_code(diagnostics, code):
    found = [d for d in diagnostics if d.code == code]
    assert found, f"no {code} among {[(d.code, d.message) for d in diagnostics]}"
    return found[0]


def test_a_good_pack_loads(tmp_path):
    _, pack, diagnostics = load(tmp_path, GOOD)
    assert diagnostics == []
    assert pack.id == "team-extra" and pack.version == "1.2.0"
    rule = pack.rules[0]
    assert (rule.id, rule.entity, rule.level, rule.action_kind) == (
        "EXT001",
        "grant",
        "warn",
        "review_grant",
    )
    assert set(rule.fields) == {"spend_7d", "clicks_7d"}
    assert pack.tests[0].expect == ["EXT001"]


def test_every_problem_is_reported_at_once_with_positions(tmp_path):
    bad = GOOD.replace('level = "warn"', 'level = "warning"')
    bad = bad.replace("spend_7d > 100 and clicks_7d == 0", "spend_7 > params.max_cpcc")
    bad = bad.replace('kind = "review_grant"', 'kind = "reveiw_grant"')
    bad += '\n[[rules]]\nid = "EXT001"\nname = "again"\nlevel = "info"\nwhen = "status == 3"\n'
    bad += 'action = { kind = "review_grant" }\nmessage = "x"\nsource = "s"\n'
    path, pack, diagnostics = load(tmp_path, bad)
    assert pack is None
    level = by_code(diagnostics, "bad-level")
    assert (level.file, level.line, level.col) == (str(path), 13, 9)
    assert level.rule == "EXT001" and "did you mean 'warn'" in level.help
    field = by_code(diagnostics, "unknown-field")
    assert field.line == 14 and field.col == 9 and "spend_7d" in field.help
    param = by_code(diagnostics, "unknown-param")
    assert param.line == 14 and "max_cpc" in param.help
    action = by_code(diagnostics, "unknown-action")
    assert action.line == 15 and "review_grant" in action.help
    dup = by_code(diagnostics, "duplicate-id")
    assert dup.line == 25
    mismatch = by_code(diagnostics, "type-mismatch")
    assert mismatch.line == 28 and mismatch.rule == "EXT001"


def test_bands_name_number_parameters_of_the_pack(tmp_path):
    good = GOOD.replace("max_cpc = 2.5", 'max_cpc = 2.5\nlow = 0.02\n\n[bands]\nctr_low = "low"')
    _, pack, diagnostics = load(tmp_path, good)
    assert pack is not None and not diagnostics
    assert pack.band_values() == {"ctr_low": 0.02}
    assert pack.with_params({"low": 0.05}).band_values() == {"ctr_low": 0.05}

    bad = GOOD.replace(
        "max_cpc = 2.5",
        'max_cpc = 2.5\nword = "x"\n\n[bands]\nctr_lo = "max_cpc"\nctr_broad = "max_cpx"\n'
        'ctr_normal_min = "word"',
    )
    path, pack, diagnostics = load(tmp_path, bad)
    assert pack is None
    band = by_code(diagnostics, "unknown-band")
    assert (band.file, band.line) == (str(path), 12) and "did you mean 'ctr_low'" in band.help
    param = by_code(diagnostics, "unknown-param")
    assert param.line == 13 and "did you mean 'max_cpc'" in param.help
    word = by_code(diagnostics, "bad-param")
    assert word.line == 14 and "not a number" in word.message


def test_syntax_errors_point_into_the_expression(tmp_path):
    path, pack, diagnostics = load(tmp_path, GOOD.replace("clicks_7d == 0", "clicks_7d == "))
    assert pack is None
    syntax = by_code(diagnostics, "syntax")
    assert syntax.line == 14 and syntax.col > 30
    rendered = syntax.render(path.read_text(encoding="utf-8"))
    assert "pack.toml:14:" in rendered and "^" in rendered and "= help:" in rendered


def test_multiline_conditions_map_to_the_right_line(tmp_path):
    text = GOOD.replace(
        'when = "spend_7d > 100 and clicks_7d == 0"',
        'when = """\nspend_7d > 100\nand clicks_7e == 0\n"""',
    )
    _, _, diagnostics = load(tmp_path, text)
    field = by_code(diagnostics, "unknown-field")
    assert (field.line, field.col) == (16, 5)


def test_broken_toml(tmp_path):
    _path, pack, diagnostics = load(tmp_path, GOOD.replace('version = "1.2.0"', "version = "))
    assert pack is None
    assert diagnostics[0].code == "toml-syntax" and diagnostics[0].line == 3


def test_missing_keys_and_bad_ids(tmp_path):
    text = GOOD.replace('id = "EXT001"', 'id = "ext1"').replace('source = "team rule"\n', "")
    _, pack, diagnostics = load(tmp_path, text)
    assert pack is None
    assert "prefix in capitals" in by_code(diagnostics, "bad-id").help
    assert "'source'" in by_code(diagnostics, "missing-key").message


def test_unknown_keys_warn_but_do_not_fail(tmp_path):
    _, pack, diagnostics = load(tmp_path, GOOD.replace('level = "warn"', 'level = "warn"\nlvl = 1'))
    assert pack is not None
    warning = by_code(diagnostics, "unknown-key")
    assert warning.severity == "warning" and warning.line == 14


def test_message_templates_are_checked(tmp_path):
    _, pack, diagnostics = load(
        tmp_path, GOOD.replace("{spend_7d:.0f} 无点击", "{spend_7x} 无点击")
    )
    assert pack is None
    assert "spend_7x" in by_code(diagnostics, "unknown-field").message


def test_tests_inside_packs_are_checked(tmp_path):
    text = GOOD.replace('expect = ["EXT001"]', 'expect = ["EXT002"]').replace(
        "clicks_7d = 0 }", 'clicks_7d = "none", clicks_7 = 1 }'
    )
    _, pack, diagnostics = load(tmp_path, text)
    assert pack is None
    assert "EXT001" in by_code(diagnostics, "unknown-rule").help
    assert by_code(diagnostics, "type-mismatch").line == 21
    assert "clicks_7d" in by_code(diagnostics, "unknown-field").help


@pytest.mark.parametrize(
    ("spec", "ok"),
    [
        (">=0.1", True),
        (">=0.2", False),
        (">=0.1,<1.0", True),
        ("==0.1.0", True),
        ("~=0.1.0", True),
        ("==0.1.*", True),
        ("!=0.1.0", False),
        (">0.1.0rc1", True),  # PEP 440: a release is newer than its release candidates
        ("<0.1.0.post1", True),
    ],
)
def test_requires_qcrules(spec, ok):
    assert version_satisfies("0.1.0", spec) is ok


@pytest.mark.parametrize("spec", ["0.1", ">>0.1", "latest", ">=0.1 beta"])
def test_a_bad_requires_qcrules_is_a_pack_error(tmp_path, spec):
    text = GOOD.replace("[pack]\n", f'[pack]\nrequires_qcrules = "{spec}"\n', 1)
    assert "requires_qcrules" in text
    _, pack, diagnostics = load(tmp_path, text)
    assert pack is None
    assert by_code(diagnostics, "bad-version").line == 2


def test_the_builtin_packs_are_valid():
    packset = load_packs(None)
    assert packset.diagnostics == []
    assert sorted(p.id for p in packset.packs) == [
        "monitoring",
        "optimization",
        "permissions",
        "qcrules",
        "screening",
    ]
    assert all(p.origin == "builtin" for p in packset.packs)
    assert len(packset.all_rule_ids()) == 38


def test_cli_validate_exits_4_with_every_problem(tmp_path, cli):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        GOOD.replace('level = "warn"', 'level = "warning"').replace(
            "clicks_7d == 0", "clickz == 0"
        ),
        encoding="utf-8",
    )
    result = cli("packs", "validate", str(bad), cwd=tmp_path)
    assert result.returncode == 4
    assert f"{bad}:13:9" in result.stderr and "bad-level" in result.stderr
    assert f"{bad}:14:" in result.stderr and "unknown-field" in result.stderr
    assert "2 errors" in result.stderr


def test_cli_validate_ok(tmp_path, cli):
    good = tmp_path / "good.toml"
    good.write_text(GOOD, encoding="utf-8")
    result = cli("packs", "validate", str(good), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "6 packs, 39 rules: 0 errors" in result.stderr


def test_conditions_the_engine_cannot_take_are_refused_when_loading(tmp_path):
    wide = " or ".join(f"spend_7d == {i}" for i in range(80))
    _, pack, diagnostics = load(tmp_path, GOOD.replace("spend_7d > 100 and clicks_7d == 0", wide))
    assert pack is None
    problem = by_code(diagnostics, "too-complex")
    assert problem.line == 14 and problem.rule == "EXT001"
    assert "durable-rules" in problem.message


def test_a_parameter_table_declares_its_range_and_a_plain_value_none(tmp_path):
    ranged = GOOD.replace(
        "max_cpc = 2.5",
        "max_cpc = 2.5\nstreak = { value = 3, min = 1, integer = true }\n"
        "share = { value = 0.2, min = 0, max = 1 }",
    )
    _, pack, diagnostics = load(tmp_path, ranged)
    assert pack is not None, [d.message for d in diagnostics]
    assert pack.params["streak"] == 3 and pack.params["share"] == 0.2
    assert pack.params["max_cpc"] == 2.5 and "max_cpc" not in pack.param_ranges  # old form
    streak = pack.param_ranges["streak"]
    assert streak.problem(0) and streak.problem(2.5) and streak.problem(4) is None
    assert pack.param_ranges["share"].problem(1.5) and pack.param_ranges["share"].short() == "0–1"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("streak = { value = 0, min = 1, integer = true }", "its value must be a whole number ≥ 1"),
        ("streak = { value = 2.5, integer = true }", "must be a whole number, got 2.5"),
        ("streak = { value = 3, min = 5, max = 1 }", "min 5 is above max 1"),
        ("streak = { value = 3, mni = 1 }", "unknown key(s) 'mni'"),
        ("streak = { min = 1 }", "has no value"),
        ('streak = { value = "x", min = 1 }', "only a number takes min, max or integer"),
        ('streak = { value = 3, max = "ten" }', "max must be a finite number"),
        ("streak = { value = 3, max = 1e300 }", "within ±2**53, got 1e+300"),
        ("streak = { value = 2026-01-01, min = 1 }", "got 2026-01-01"),
    ],
)
def test_a_bad_parameter_table_is_a_pack_error_on_its_line(tmp_path, entry, message):
    _, pack, diagnostics = load(tmp_path, GOOD.replace("max_cpc = 2.5", f"max_cpc = 2.5\n{entry}"))
    assert pack is None
    problem = by_code(diagnostics, "bad-param")
    assert message in problem.message and problem.line == 9 and problem.help


def test_a_badly_declared_parameter_is_one_problem_not_one_per_use(tmp_path):
    """The declaration is the problem: a rule that uses the parameter is not also told it
    names an unknown one."""
    text = GOOD.replace("max_cpc = 2.5", "max_cpc = 2.5\nstreak = { value = 3, mni = 1 }")
    text = text.replace("clicks_7d == 0", "clicks_7d == 0 and days_active >= params.streak")
    _, pack, diagnostics = load(tmp_path, text)
    assert pack is None
    assert [d.code for d in diagnostics if d.severity == "error"] == ["bad-param"]
