"""Rule packs and parameters written to hurt: regexes that backtrack without end, conditions
nested or long enough to exhaust Python's stack, numbers out of range. Each is a pack error
(exit 4, file:line:col) or a configuration error (exit 2) — never a hang or a traceback —
with the same rule whichever engine runs."""

from __future__ import annotations

import time

import pytest

from qcrules.packs import expr
from qcrules.packs.patterns import MAX_PATTERN, PatternProblem, check_pattern, compile_pattern

PACK = """\
[pack]
id = "team-extra"
version = "1.0.0"
entity = "grant"

[params]
max_cpc = 2.5

[[rules]]
id = "EXT001"
name = "x"
level = "warn"
when = {when}
action = {{ kind = "review_grant" }}
message = "x"
source = "team rule"
"""


def toml_string(text: str) -> str:
    return "'''" + text + "'''"


def validate(cli, tmp_path, when: str):
    path = tmp_path / "team.toml"
    path.write_text(PACK.format(when=toml_string(when)), encoding="utf-8")
    return path, cli("packs", "validate", str(path), cwd=tmp_path)


# --- matches() ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("(a+)+b", "repetition inside a repetition"),
        ("(a*)*", "repetition inside a repetition"),
        ("(\\w+\\s?)*x", "repetition inside a repetition"),
        ("(a{1,9}){2,}", "repetition inside a repetition"),
        ("(a|aa)+b", "repeated alternation"),
        ("(男装|女装)*", "repeated alternation"),
        ("(a)\\1", "backreferences"),
        ("(", "invalid regex"),
        ("x" * (MAX_PATTERN + 1), f"at most {MAX_PATTERN}"),
    ],
)
def test_patterns_that_could_hang_are_refused(pattern, why):
    with pytest.raises(PatternProblem, match=why.replace("(", r"\(")):
        check_pattern(pattern)


@pytest.mark.parametrize(
    "pattern",
    [
        ".*穿搭.*",
        "(男|女)*装",
        "[男女]装.*",
        "(ab)+",
        "(?:ab|cd)?x",
        "\\d{6,}",
        ".*a.*b.*c.*",
        "(?=a).*",
    ],
)
def test_ordinary_patterns_load(pattern):
    check_pattern(pattern)


def test_the_matcher_stays_fast_on_what_backtracks_in_re():
    """Patterns that pass the check but are polynomial for Python's re (`.*a.*a.*a.*a.*b`
    on 5,000 a's) finish at once with the guarded matcher, and agree with re on ordinary
    text."""
    import re

    started = time.perf_counter()
    matcher = compile_pattern(".*a.*a.*a.*a.*b")
    assert matcher("a" * 5_000) is False
    assert matcher("xaxaxaxab") is True
    assert time.perf_counter() - started < 5
    for pattern, text in [(".*穿搭.*", "小王穿搭日记"), ("\\w+", "达人abc"), ("[0-9]{3}", "12a")]:
        assert compile_pattern(pattern)(text) == (re.fullmatch(pattern, text) is not None)


def test_cli_refuses_a_catastrophic_pattern_with_its_position(cli, tmp_path):
    path, done = validate(
        cli, tmp_path, 'status == "active" and matches(creator.nickname, "(a+)+b")'
    )
    assert done.returncode == 4, done.stderr
    # line 13 of the file; the column of the pattern inside the condition
    col = len("when = '''") + len('status == "active" and matches(creator.nickname, "') + 1
    assert f"{path}:13:{col}" in done.stderr
    assert "repetition inside a repetition" in done.stderr
    assert "Traceback" not in done.stderr


# --- deep, long, out-of-range conditions ------------------------------------------------------

TYPES = {"x": "number", "n": "integer", "status": "string"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("(" * 500 + "x > 1" + ")" * 500, "nests more than"),
        ("not " * 2_000 + "x > 1", "nests more than"),
        ("x > " + "-" * 3_000 + "1", "nests more than"),
        ("x" + " + x" * 300 + " > 1", "nests more than"),
        ("x > 1" + " or x > 1" * 2_000, "characters; at most"),
        ("n in [" + ", ".join(["1"] * 1_001) + "]", "more than 1000 values"),
    ],
)
def test_deep_or_huge_conditions_are_syntax_errors_not_recursion(text, message):
    with pytest.raises(expr.ExprSyntaxError, match=message) as caught:
        expr.parse(text)
    assert 0 <= caught.value.offset <= len(text)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("n in [1, 99999999999999999999]", "number-too-big"),
        ("n in [-9007199254740993]", "number-too-big"),
        ("x in [1e999]", "bad-number"),
    ],
)
def test_out_of_range_list_literals_are_refused(text, code):
    assert [p.code for p in expr.check(expr.parse(text), TYPES, {})] == [code]


def test_cli_deep_condition_exits_4_with_position(cli, tmp_path):
    path, done = validate(cli, tmp_path, "(" * 300 + "spend_7d > 1" + ")" * 300)
    assert done.returncode == 4, done.stderr
    assert f"{path}:13:" in done.stderr and "nests more than 50 levels" in done.stderr
    assert "RecursionError" not in done.stderr and "Traceback" not in done.stderr


def test_cli_out_of_range_list_literal_exits_4(cli, tmp_path):
    path, done = validate(cli, tmp_path, "clicks_7d in [1, 99999999999999999999]")
    assert done.returncode == 4, done.stderr
    assert f"{path}:13:" in done.stderr and "beyond ±2**53" in done.stderr


@pytest.mark.parametrize("value", ["inf", "nan", "-inf", "1e300", "99999999999999999999"])
def test_pack_parameter_defaults_must_be_finite_and_in_range(cli, tmp_path, value):
    path = tmp_path / "team.toml"
    path.write_text(
        PACK.format(when=toml_string("spend_7d > params.max_cpc")).replace(
            "max_cpc = 2.5", f"max_cpc = {value}"
        ),
        encoding="utf-8",
    )
    done = cli("packs", "validate", str(path), cwd=tmp_path)
    assert done.returncode == 4, done.stderr
    assert f"{path}:7:" in done.stderr and "max_cpc" in done.stderr


@pytest.mark.parametrize("value", ["inf", "nan", "1e300", "-99999999999999999999"])
@pytest.mark.parametrize("engine", ["durable-rules", "python"])
def test_parameter_overrides_must_be_finite_and_in_range(cli, demo_copy, value, engine):
    """The same refusal on both engines: it happens before either runs."""
    from qcrules.engine import durable_available

    if engine == "durable-rules" and not durable_available()[0]:
        pytest.skip("durable-rules does not load on this Python")
    config = demo_copy / "qcrules.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text + f"\n[params.monitoring]\nmin_days = {value}\n", encoding="utf-8")
    env = {"QCRULES_ENGINE": engine} if engine == "python" else {}
    done = cli("evaluate", "--as-of", "2026-11-27", "--no-store", cwd=demo_copy, env=env)
    assert done.returncode == 2, done.stderr
    assert "min_days" in done.stderr and ("finite" in done.stderr or "±2**53" in done.stderr)
    assert "Traceback" not in done.stderr and done.stdout == ""


@pytest.mark.parametrize("value", ["1e400", "nan", "99999999999999999999"])
def test_whatif_refuses_non_finite_or_huge_parameters(cli, demo_folder, value):
    done = cli(
        "whatif", "--set", f"monitoring.min_days={value}", "--as-of", "2026-11-27", cwd=demo_folder
    )
    assert done.returncode == 2, done.stderr
    assert "finite" in done.stderr or "±2**53" in done.stderr
    assert "Traceback" not in done.stderr


def test_toml_nested_too_deeply_is_a_pack_error_not_a_traceback(cli, tmp_path):
    path = tmp_path / "team.toml"
    deep = "[" * 3_000 + "]" * 3_000
    path.write_text(
        PACK.format(when=toml_string("spend_7d > 1")).replace("max_cpc = 2.5", f"x = {deep}"),
        encoding="utf-8",
    )
    done = cli("packs", "validate", str(path), cwd=tmp_path)
    assert done.returncode == 4, done.stderr
    assert f"{path}:7:" in done.stderr and "nested too deeply" in done.stderr
    assert "Traceback" not in done.stderr


def test_config_nested_too_deeply_exit_2(cli, tmp_path):
    (tmp_path / "qcrules.toml").write_text(
        "[plugins]\nx = " + "[" * 3_000 + "]" * 3_000 + "\n", encoding="utf-8"
    )
    done = cli("evaluate", cwd=tmp_path)
    assert done.returncode == 2
    assert "qcrules.toml:2: broken TOML: arrays or tables nested too deeply" in done.stderr
    assert "Traceback" not in done.stderr
