"""The C-core evaluator: safe JSON, engine records, run-scoped rulesets, cleanup, clear
errors — each against the real durable-rules, no mocks."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from datetime import date

import pytest

from qcrules.engine import durable_available
from qcrules.engine.compiler import (
    MAX_GROUPS,
    STACK_BUDGET,
    anchored,
    compile_condition,
    limit_problems,
    partition,
    stack_need,
)
from qcrules.engine.evaluator import (
    EngineError,
    PythonEvaluator,
    RuleEvaluator,
    dumps_safe,
    to_engine_record,
)
from qcrules.packs import expr

needs_durable = pytest.mark.skipif(
    not durable_available()[0], reason="durable-rules not importable"
)


def nodes(**texts: str) -> dict[str, expr.Node]:
    return {key: expr.parse(text) for key, text in texts.items()}


# ----------------------------------------------------------------------------- dumps_safe


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1e-05, "1.0e-05"),  # Python's 1e-05 makes the C parser fail (error 204)
        (1e16, "1.0e+16"),
        (-1e-300, "-1.0e-300"),
        (2.5e-07, "2.5e-07"),
        (0.30000000000000004, "0.30000000000000004"),
        (-0.0, "-0.0"),
        (5e-324, "5.0e-324"),
        (2**53, "9007199254740992"),
        (-(2**53), "-9007199254740992"),
        (True, "true"),
        (False, "false"),
        (None, "null"),
        ("达人", '"达人"'),  # UTF-8, not \\u escapes
        ('a"b\\c\n', '"a\\"b\\\\c\\n"'),
        ({"a": [1, 2.5e-07]}, '{"a":[1,2.5e-07]}'),
    ],
)
def test_dumps_safe_writes_what_the_engine_parses(value, text):
    assert dumps_safe(value) == text
    if not isinstance(value, dict):
        assert json.loads(text) == value or (isinstance(value, float) and math.isnan(value))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (math.nan, "not a finite number"),
        (math.inf, "not a finite number"),
        (-math.inf, "not a finite number"),
        (2**53 + 1, r"beyond ±2\*\*53"),
        (-(2**63), r"beyond ±2\*\*53"),
        (2**64 + 5, r"beyond ±2\*\*53"),  # the engine would saturate it silently
        ("x" * 70_000, "65,535-byte limit"),
        ("\ud800", "not valid Unicode"),
        ({1, 2}, "set values cannot be given"),
    ],
)
def test_dumps_safe_refuses_what_the_engine_would_get_wrong(value, message):
    with pytest.raises(ValueError, match=message):
        dumps_safe(value)


def test_to_engine_record_renames_fields_and_drops_missing():
    record = to_engine_record(
        {"id": 7, "sid": "x", "__rec": 0, "creator.fans_count": 10, "ctr_7d": None}
    )
    assert record == {
        "id": "cur",
        "sid": "eval",
        "__rec": 1,
        "f_id": 7,
        "f_sid": "x",
        "f___rec": 0,
        "f_creator__fans_count": 10,
    }
    assert to_engine_record({"a": 1, "b": 2}, fields=["b", "c"]) == {
        "id": "cur",
        "sid": "eval",
        "__rec": 1,
        "f_b": 2,
    }


# ----------------------------------------------------------------------------- compiler limits


def test_condition_json_follows_the_guide():
    node = expr.bind(expr.parse('0.03 <= ctr <= 0.1 and status not in ["a", "b"]'), {})
    condition = anchored(compile_condition(node).condition)
    assert condition == {
        "$and": [
            {"$ex": {"__rec": 1}},
            {"$gte": {"f_ctr": 0.03}},
            {"$lte": {"f_ctr": 0.1}},
            {"$neq": {"f_status": "a"}},
            {"$neq": {"f_status": "b"}},
        ]
    }
    divide = compile_condition(expr.parse("x < a / b")).condition
    # the numerator is float-promoted (no int truncation, no SIGFPE) and both fields
    # are required explicitly
    assert divide == {
        "$and": [
            {"$ex": {"f_a": 1}},
            {"$ex": {"f_b": 1}},
            {
                "$lt": {
                    "f_x": {
                        "$div": {
                            "$l": {"$add": {"$l": {"$m": "f_a"}, "$r": 0.0}},
                            "$r": {"$m": "f_b"},
                        }
                    }
                }
            },
        ]
    }


def test_stack_need_counts_sibling_tests():
    def rules(n: int, text: str) -> list[dict]:
        return [
            anchored(compile_condition(expr.parse(text.format(i=i)), str(i)).condition)
            for i in range(n)
        ]

    assert stack_need(rules(64, "x > {i}")) == 64  # 64 different tests under the anchor
    assert stack_need(rules(64, "x > 1")) == 1  # the same test is one shared node
    assert stack_need(rules(65, "x > 1 and y > {i}")) == 65  # 65 below the shared `x > 1`
    chunks = partition(
        {f"r{i}": c for i, c in enumerate(rules(130, "x > {i}"))}, budget=STACK_BUDGET
    )
    assert [len(c) for c in chunks] == [60, 60, 10]


def test_limit_problems_name_what_the_engine_refuses():
    wide = " or ".join(f"(x > {i} and y > {i})" for i in range(20))
    problems = limit_problems(expr.parse(wide))
    assert any(f"at most {MAX_GROUPS}" in p for p in problems)
    many = "x in [" + ", ".join(str(i) for i in range(70)) + "]"
    assert any(f"at most {STACK_BUDGET}" in p for p in limit_problems(expr.parse(many)))
    assert limit_problems(expr.parse("x > 1 and (y < 2 or z == 3)")) == []


# ----------------------------------------------------------------------------- the evaluator


@needs_durable
def test_every_matching_rule_exactly_once_even_a_double_or():
    rules = nodes(low="ctr < 0.05 or ctr < 0.02", tiny="ctr < 1e-05", none="not exists(ctr)")
    with RuleEvaluator(rules, "once") as engine:
        assert engine.evaluate({"ctr": 0.01}) == {"low"}
        assert engine.evaluate({"ctr": 2.5e-07}) == {"low", "tiny"}
        assert engine.evaluate({}) == {"none"}
        assert engine.evaluate({"ctr": 0.5}) == frozenset()


@needs_durable
def test_two_evaluators_with_the_same_rules_are_independent():
    rules = nodes(r="x > 1")
    first, second = RuleEvaluator(rules, "same"), RuleEvaluator(rules, "same")
    try:
        assert first.name != second.name  # run-scoped: never the same ruleset
        assert first.evaluate({"x": 2}) == {"r"}
        assert second.evaluate({"x": 0}) == frozenset()
        first.close()
        assert second.evaluate({"x": 5}) == {"r"}  # closing one leaves the other working
    finally:
        first.close()
        second.close()


@needs_durable
def test_close_deletes_the_rulesets_and_is_idempotent():
    import durable_rules_engine as core

    engine = RuleEvaluator(nodes(r="x > 1"), "closing")
    engine.evaluate({"x": 3})
    handles = [ruleset.handle for ruleset in engine._rulesets]
    engine.close()
    engine.close()
    for handle in handles:  # the C handle is gone: the ruleset was really deleted
        with pytest.raises(Exception, match="error code"):
            core.get_state(handle, "eval")
    with pytest.raises(EngineError, match="closed"):
        engine.evaluate({"x": 3})


@needs_durable
@pytest.mark.parametrize(
    ("fact", "message"),
    [
        ({"x": math.nan}, "field x is NaN"),
        ({"x": math.inf}, "field x: inf cannot be given"),
        ({"x": 2**60}, "field x: 1152921504606846976 is beyond"),
        ({"s": "达" * 30_000}, "field s: a text of 90,000 bytes"),
    ],
)
def test_a_fact_the_engine_cannot_take_is_an_error_not_a_silent_drop(fact, message):
    rules = nodes(num="x > 1", text='s == "达人"')
    with RuleEvaluator(rules, "bad") as engine:
        with pytest.raises(EngineError, match=message):
            engine.evaluate(fact)
        assert engine.evaluate({"x": 2, "s": "达人"}) == {"num", "text"}  # still usable
        # in a batch too: the fast batch text is never sent with a value it cannot vouch for
        with pytest.raises(EngineError, match=message):
            engine.evaluate_many([{"x": 2}, fact, {"x": 3}])
        assert engine.evaluate_many([{"x": 2, "s": "达人"}]) == [{"num", "text"}]
    with pytest.raises(EngineError, match=message):
        PythonEvaluator(rules).evaluate(fact)  # the fallback refuses the same facts


@needs_durable
@pytest.mark.parametrize(
    ("fact", "message"),
    [
        ({"x": {"nested": 1}}, "field x: dict values cannot be evaluated"),
        ({"x": [1, 2]}, "field x: list values cannot be evaluated"),
        ({"x": date(2026, 11, 27)}, "field x: date values cannot be evaluated"),
        ({"s": ("达" * 16_000 + '"') * 2}, "field s: a text of 96,0"),  # runs cut by quotes
        ({"s": "bad \ud800 text"}, "field s: text .* is not valid Unicode"),
    ],
)
def test_a_batch_with_a_value_the_engine_cannot_take_names_the_field(fact, message):
    rules = nodes(num="x > 1", text='s == "达人"')
    with RuleEvaluator(rules, "bad") as engine:
        with pytest.raises(EngineError, match=message):
            engine.evaluate_many([{"x": 2}] * 5 + [fact])
        assert engine.evaluate_many([{"x": 2, "s": "达人"}, {"x": 0}]) == [{"num", "text"}, set()]


@needs_durable
def test_batches_agree_with_the_python_reading_on_values_that_need_care():
    """Values the fast batch text must not get wrong: exponent floats, 16-digit integers,
    texts with quotes, backslashes, braces or the record's own key names, long texts."""
    rules = nodes(
        small="x < 0.001",
        big="x > 1e15",
        quoted='s == "say \\"hi\\""',
        named='s != "达人"',
        both='x >= 0 and s == "}"',
    )
    facts = [
        {"x": 1e-05},
        {"x": 2.5e-07, "s": "达人"},
        {"x": 1e16},
        {"x": 2**53},
        {"x": -(2**53)},
        {"x": 1234567890123456},
        {"s": 'say "hi"'},
        {"s": "back\\slash"},
        {"s": "}"},
        {"x": 0, "s": "}"},
        {"s": ',"id":"3","m":{"id":"4"}'},
        {"s": "达" * 16_000},  # within 64 KiB: evaluated, not refused
        {"x": None, "s": None},
        {},
    ]
    reference = PythonEvaluator(rules)
    want = [reference.evaluate(fact) for fact in facts]
    assert want[0] == {"small"} and want[2] == {"big"} and want[6] == {"quoted", "named"}
    with RuleEvaluator(rules, "care") as engine:
        assert engine.evaluate_many(facts) == want
        assert [engine.evaluate(fact) for fact in facts] == want
        plain = {"x": 0.5, "s": "达人"}  # alone with a plain fact, each takes its own path
        for fact, expected in zip(facts, want, strict=True):
            assert engine.evaluate_many([plain, fact]) == [set(), expected]


@needs_durable
def test_a_condition_beyond_the_engine_is_refused_naming_the_rule():
    wide = " or ".join(f"(x > {i} and y > {i})" for i in range(20))
    with pytest.raises(EngineError, match=r"rule pack\.WIDE: .* at most 15"):
        RuleEvaluator({"pack.WIDE": expr.parse(wide)}, "wide")
    many = "x in [" + ", ".join(str(i) for i in range(70)) + "]"
    with pytest.raises(EngineError, match=r"rule pack\.MANY is too complex"):
        RuleEvaluator({"pack.MANY": expr.parse(many)}, "many")


@needs_durable
def test_rule_ids_of_any_text_are_mapped_to_safe_engine_names():
    rules = nodes(**{"监测 MON-001/ctr": "x > 1", "a b": "x > 2"})
    with RuleEvaluator(rules, "名字 with spaces") as engine:
        assert engine.evaluate({"x": 3}) == {"监测 MON-001/ctr", "a b"}


@needs_durable
def test_an_evaluator_without_rules_matches_nothing():
    with RuleEvaluator({}, "empty") as engine:
        assert engine.evaluate({"x": 1}) == frozenset()


def _run_child(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )


@needs_durable
def test_no_crash_when_many_rules_match_or_nothing_ever_matches():
    """Regressions, in a child process because they used to kill it: 70 `not exists`
    rules matching one fact (error 303, then SIGSEGV in delete_state), and closing an
    evaluator whose facts never matched (delete_state of an uninitialised state)."""
    result = _run_child(
        """
        from qcrules.engine.evaluator import RuleEvaluator
        from qcrules.packs import expr
        rules = {f"n{i}": expr.parse(f"not exists(f{i})") for i in range(70)}
        with RuleEvaluator(rules, "nex") as engine:
            assert len(engine.evaluate({"x": 1})) == 70
        for _ in range(20):
            with RuleEvaluator({"r": expr.parse('s == "b"')}, "never") as engine:
                assert engine.evaluate({"s": "a"}) == frozenset()
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"


def test_durable_available_reports_why_it_cannot_import(tmp_path):
    """A broken install (as on Python 3.13: `undefined symbol: PyEval_CallObject`) is
    reported with its cause, never a silent fallback."""
    fake = tmp_path / "durable_rules_engine.py"
    fake.write_text('raise ImportError("undefined symbol: PyEval_CallObject")\n')
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {str(tmp_path)!r}); "
            "from qcrules.engine import durable_available; print(durable_available())",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "(False, 'durable-rules is installed but cannot be imported: undefined symbol: " in (
        result.stdout
    )


@needs_durable
def test_durable_available_here():
    assert durable_available() == (True, None)


def test_the_fast_batch_text_is_the_checked_records_text():
    """The one-encode batch path writes exactly what the record-by-record path writes."""
    from qcrules.engine.evaluator import _Prepared

    prepared = _Prepared(nodes(a='x > 1 and s == "a"', b='matches(s, "达.*") or y < 0.5', c="flag"))
    facts = [
        {"x": 2, "s": "达人", "y": 0.30000000000000004, "flag": True},
        {"x": None, "s": "a", "flag": False, "other": 1},
        {"y": -0.0},
        {},
    ]
    text, complete = prepared.batch(facts)
    checked = [json.loads(prepared.record(fact, str(i))) for i, fact in enumerate(facts)]
    assert json.loads(text) == checked
    assert complete == [True, False, False, False]


@needs_durable
def test_subclasses_of_plain_values_are_taken_alike_in_batches_and_alone():
    """IntEnum, float and str subclasses (numpy.float64 is one) are written as their JSON
    value on both paths; a mapping with __missing__ is read with get, never changed."""
    from collections import defaultdict
    from enum import IntEnum

    class Level(IntEnum):
        HIGH = 5

    class Ratio(float):
        pass

    class Name(str):
        pass

    rules = nodes(num="x > 1", text='s == "达人"', missing="not exists(y)")
    facts = [{"x": Level.HIGH}, {"x": Ratio(2.5), "s": Name("达人")}, {"x": 0}]
    with RuleEvaluator(rules, "sub") as engine:
        single = [engine.evaluate(fact) for fact in facts]
        assert engine.evaluate_many(facts) == single
        assert single == [{"num", "missing"}, {"num", "text", "missing"}, {"missing"}]
        lenient = defaultdict(int, {"x": 0})
        assert engine.evaluate_many([lenient]) == [{"missing"}]
        assert dict(lenient) == {"x": 0}  # nothing was added to the caller's fact
    assert PythonEvaluator(rules).evaluate_many(facts) == single


def test_the_python_reading_refuses_in_batches_what_the_engine_refuses():
    rules = nodes(text='s == "达人"')
    with pytest.raises(EngineError, match="not valid Unicode"):
        PythonEvaluator(rules).evaluate_many([{"s": "ok"}, {"s": "bad \ud800"}])


@needs_durable
def test_a_value_that_contains_itself_is_refused_not_a_recursion_error():
    looped: list = []
    looped.append(looped)
    refused = pytest.raises(EngineError, match="field x: list values cannot be evaluated")
    with RuleEvaluator(nodes(num="x > 1"), "loop") as engine, refused:
        engine.evaluate_many([{"x": 2}, {"x": looped}])


def test_only_what_the_fast_text_cannot_vouch_for_takes_the_slow_path():
    from qcrules.engine.evaluator import _unsure

    def text(value) -> str:
        return json.dumps([{"id": "0", "a0": value}], ensure_ascii=False, separators=(",", ":"))

    for plain in ("Jane-Doe", "live+", "穿搭达人", 0.5, 10**15 - 1, True, "x" * 16_000):
        assert not _unsure(text(plain), 1), plain
    for unsure in (1e-05, 1.5e16, 2**53 + 1, 'say "hi"', "a\\b", "{", "[", "x" * 16_384):
        assert _unsure(text(unsure), 1), unsure
