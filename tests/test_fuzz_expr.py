"""Fuzzing the expression language: any text, and any tree the grammar can build, goes
through parse → check → bind → compile → both readings without a crash. The only exception
allowed out of the parser is the project's own `ExprSyntaxError`; the checker reports, never
raises. Bounded so the whole file takes well under 30 seconds in CI."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcrules.engine.compiler import compile_condition, limit_problems
from qcrules.engine.evaluator import PythonEvaluator
from qcrules.packs import expr

TYPES = {
    "x": "number",
    "y": "number",
    "n": "integer",
    "flag": "bool",
    "s": "string",
    "creator.name": "string",
}
PARAMS = {"p": 1.5, "zero": 0, "big": 2**53, "word": "达人", "on": True}
FAST = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI never flakes on a new one
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- text the parser has to survive ------------------------------------------------------------

PIECES = [
    "x", "y", "n", "flag", "s", "creator.name", "params.p", "params.zero", "params.nope",
    "and", "or", "not", "in", "true", "false", "exists(", "matches(", "(", ")", "[", "]", ",",
    "<", "<=", ">", ">=", "==", "!=", "=", "+", "-", "*", "/", "!", "&&", "'", '"', '"达人"',
    '".*达人.*"', '"(a+)+"', '"\\u00zz"', '"\\q"', "1", "0", "-1", "1e999", "9007199254740993",
    "0.5", ".5", "1e-05", "达人", "\x1b", "\x00", " ", "\n", "#",
]  # fmt: skip


@FAST
@given(st.lists(st.sampled_from(PIECES), max_size=40).map(" ".join))
def test_token_soup_never_crashes(text):
    _survive(text)


@FAST
@given(st.text(max_size=200))
def test_any_text_never_crashes(text):
    _survive(text)


# --- well-formed trees: the checker, the compiler and both readings ---------------------------

NUMBERS = st.one_of(
    st.integers(-(2**60), 2**60),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -0.0, 1e-05, 2**53, -(2**53), 0.1]),
)
TEXTS = st.text(alphabet='达人ab"\\\x1b.*+()|[]', max_size=8)


def _literal(value) -> str:
    return expr.to_source(expr.Literal(value=value))


VALUES = st.recursive(
    st.one_of(
        st.sampled_from(["x", "y", "n", "params.p", "params.zero", "params.big"]),
        NUMBERS.map(_literal),
    ),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from("+-*/"), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda v: f"-{v}"),
    ),
    max_leaves=8,
)
ATOMS = st.one_of(
    st.tuples(VALUES, st.sampled_from((*expr.ORDERING, "==", "!=")), VALUES).map(" ".join),
    st.tuples(st.sampled_from(["s", "creator.name"]), st.sampled_from(["==", "!="]), TEXTS).map(
        lambda t: f"{t[0]} {t[1]} {_literal(t[2])}"
    ),
    st.tuples(st.booleans(), st.lists(NUMBERS, min_size=1, max_size=4)).map(
        lambda t: f"n {'not in' if t[0] else 'in'} [{', '.join(map(_literal, t[1]))}]"
    ),
    st.sampled_from(["s", "creator.name", "x", "flag"]).map(lambda f: f"exists({f})"),
    st.tuples(
        st.sampled_from(["s", "creator.name"]),
        st.one_of(
            TEXTS,
            st.sampled_from([".*达人.*", "(a+)+b", "(a|aa)*", "(", "[男女]*", "(a)\\1", ".*a.*b"]),
        ),
    ).map(lambda t: f"matches({t[0]}, {_literal(t[1])})"),
    st.sampled_from(["flag", "not flag", "true", "false", "params.on", "s == params.word"]),
)
CONDITIONS = st.recursive(
    ATOMS,
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(lambda t: f"({' '.join(t)})"),
        inner.map(lambda c: f"not ({c})"),
    ),
    max_leaves=10,
)
FACT_VALUES = {
    "x": st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
    "y": st.one_of(st.none(), st.floats(-1e6, 1e6)),
    "n": st.one_of(st.none(), st.integers(-(2**53), 2**53)),
    "flag": st.one_of(st.none(), st.booleans()),
    "s": st.one_of(st.none(), TEXTS),
    "creator.name": st.one_of(st.none(), st.text(max_size=30)),
}
FACTS = st.fixed_dictionaries(FACT_VALUES)


@FAST
@given(CONDITIONS, st.lists(FACTS, min_size=1, max_size=4))
def test_generated_conditions_never_crash_and_both_readings_agree_with_explain(text, facts):
    node = _survive(text)
    if node is None:
        return
    if expr.check(node, TYPES, PARAMS):
        return  # refused with diagnostics: what a pack author sees
    bound = expr.bind(node, PARAMS)
    compiled = compile_condition(bound)  # the durable-rules JSON: must build
    assert isinstance(compiled.condition, dict)
    if limit_problems(bound):
        return
    again = expr.parse(expr.to_source(node))  # the printed form reads back the same
    assert expr.to_source(again) == expr.to_source(node)
    predicate = expr.predicate(bound)
    evaluator = PythonEvaluator({"r": bound})
    for fact in facts:
        held = expr.evaluate(bound, fact)
        assert predicate(fact) == held
        assert expr.explain(bound, fact).result == held
        decided = expr.decided(bound, fact)
        assert decided in (True, False, None)
        if decided is not None:
            assert decided == held
        assert ("r" in evaluator.evaluate(fact)) == held


def _survive(text: str):
    """Parse and check `text`; only the project's own syntax error may come out."""
    try:
        node = expr.parse(text)
    except expr.ExprSyntaxError as exc:
        assert isinstance(exc.message, str) and exc.message
        assert 0 <= exc.offset <= max(len(text), expr.MAX_LENGTH)
        return None
    for problem in expr.check(node, TYPES, PARAMS):
        assert problem.code and problem.message
        assert 0 <= problem.offset <= len(text)
    return node
