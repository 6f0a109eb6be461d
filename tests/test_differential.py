"""durable-rules against the plain-Python reading: random conditions, random facts, no
difference allowed. And exactly-once accounting over 50,000 facts in one evaluator."""

from __future__ import annotations

import random
import resource

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcrules.engine import durable_available
from qcrules.engine.evaluator import PythonEvaluator, RuleEvaluator
from qcrules.packs import expr

pytestmark = pytest.mark.skipif(not durable_available()[0], reason="durable-rules not importable")

NUMBER_FIELDS = ["a", "b", "c", "creator.n"]
INT_FIELDS = ["k", "m"]
BOOL_FIELDS = ["flag", "creator.ok"]
TEXT_FIELDS = ["s", "status"]
FIELD_TYPES = {
    **dict.fromkeys(NUMBER_FIELDS, "number"),
    **dict.fromkeys(INT_FIELDS, "integer"),
    **dict.fromkeys(BOOL_FIELDS, "bool"),
    **dict.fromkeys(TEXT_FIELDS, "string"),
}
TEXTS = ["active", "revoked", "达人", "穿搭达人小王", "", 'a"b', "ab", "aab"]
EDGE_NUMBERS = [
    0,
    0.0,
    -0.0,
    1,
    -1,
    3,
    0.5,
    1e-05,
    2.5e-07,
    1e16,
    -1e-05,
    0.1 + 0.2,
    2**53,
    -(2**52) - 1,
    123456789.125,
    0.30000000000000004,
]

numbers = st.one_of(
    st.sampled_from(EDGE_NUMBERS),
    st.integers(min_value=-1000, max_value=1000),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False),
)
small_literals = st.one_of(st.sampled_from([0, 1, 2, 3, 0.5, 1e-05, -2.5, 100]), st.integers(-5, 5))


def num_literal(value) -> str:
    if isinstance(value, float):
        text = repr(value)
        return text if "inf" not in text and "nan" not in text else "0.0"
    return str(value)


@st.composite
def arithmetic(draw, depth=0):
    """A numeric value expression: a field, a literal, or arithmetic of them."""
    choice = draw(st.integers(0, 4 if depth < 2 else 1))
    if choice == 0:
        return draw(st.sampled_from(NUMBER_FIELDS + INT_FIELDS))
    if choice == 1:
        return num_literal(draw(small_literals))
    op = draw(st.sampled_from(["+", "-", "*", "/"]))
    left = draw(arithmetic(depth + 1))
    right = draw(arithmetic(depth + 1))
    return f"({left} {op} {right})"


@st.composite
def comparison(draw):
    kind = draw(st.integers(0, 8))
    op = draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
    if kind <= 2:
        field = draw(st.sampled_from(NUMBER_FIELDS + INT_FIELDS))
        other = draw(arithmetic())
        if other.strip("()").replace(" ", "").lstrip("-").replace(
            ".", ""
        ).isdigit() is False and not any(f in other for f in NUMBER_FIELDS + INT_FIELDS):
            other = num_literal(draw(numbers))
        return f"{other} {op} {field}" if draw(st.booleans()) else f"{field} {op} {other}"
    if kind == 3:
        field = draw(st.sampled_from(NUMBER_FIELDS + INT_FIELDS))
        low, high = sorted([draw(small_literals), draw(small_literals)])
        return f"{num_literal(low)} <= {field} < {num_literal(high)}"
    if kind == 4:
        field = draw(st.sampled_from(BOOL_FIELDS))
        return draw(
            st.sampled_from([field, f"not {field}", f"{field} == true", f"{field} != false"])
        )
    if kind == 5:
        field = draw(st.sampled_from(TEXT_FIELDS))
        values = draw(st.lists(st.sampled_from(TEXTS), min_size=1, max_size=3))
        quoted = ", ".join('"' + v.replace('"', '\\"') + '"' for v in values)
        word = draw(st.sampled_from(["in", "not in"]))
        return f"{field} {word} [{quoted}]"
    if kind == 6:
        field = draw(st.sampled_from(TEXT_FIELDS))
        value = draw(st.sampled_from(TEXTS)).replace('"', '\\"')
        return f'{field} {draw(st.sampled_from(["==", "!="]))} "{value}"'
    if kind == 7:
        return f"exists({draw(st.sampled_from(list(FIELD_TYPES)))})"
    pattern = draw(st.sampled_from([".*达人.*", "a+b", "穿搭.*", ".*a.*a.*", "[ab]*", "(ab|ba)+"]))
    return f'matches({draw(st.sampled_from(TEXT_FIELDS))}, "{pattern}")'


@st.composite
def condition(draw, depth=0):
    if depth >= 3 or draw(st.integers(0, 2)) == 0:
        return draw(comparison())
    kind = draw(st.sampled_from(["and", "or", "not"]))
    if kind == "not":
        return f"not ({draw(condition(depth + 1))})"
    items = draw(st.lists(condition(depth + 1), min_size=2, max_size=3))
    return f" {kind} ".join(f"({item})" for item in items)


@st.composite
def fact(draw):
    values = {}
    for name in NUMBER_FIELDS:
        values[name] = draw(st.one_of(st.none(), numbers))
    for name in INT_FIELDS:
        values[name] = draw(
            st.one_of(
                st.none(), st.sampled_from([0, 1, -1, 3, 2**53, -(2**53)]), st.integers(-100, 100)
            )
        )
    for name in BOOL_FIELDS:
        values[name] = draw(st.one_of(st.none(), st.booleans()))
    for name in TEXT_FIELDS:
        values[name] = draw(st.one_of(st.none(), st.sampled_from(TEXTS)))
    return values


def parse_checked(text: str):
    node = expr.parse(text)
    problems = expr.check(node, FIELD_TYPES, {})
    return node, problems


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    conditions=st.lists(condition(), min_size=1, max_size=4),
    facts=st.lists(fact(), min_size=1, max_size=8),
)
def test_engine_agrees_with_the_python_reading(conditions, facts):
    nodes = {}
    for index, text in enumerate(conditions):
        node, problems = parse_checked(text)
        if problems:  # outside the checked language (e.g. a constant comparison): skip it
            continue
        nodes[f"R{index}"] = node
    if not nodes:
        return
    engine = RuleEvaluator(nodes, "diff")
    reference = PythonEvaluator(nodes, "diff")
    try:
        for values in facts:
            got = engine.evaluate(values)
            want = reference.evaluate(values)
            assert engine.evaluate_many([values, values]) == [want, want]
            assert got == want, (
                f"engine {sorted(got)} != python {sorted(want)}\nfact {values}\n"
                + "\n".join(f"{k}: {expr.to_source(n)}" for k, n in nodes.items())
            )
    finally:
        engine.close()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=condition(), facts=st.lists(fact(), min_size=1, max_size=6))
def test_still_possible_agrees_with_the_three_valued_reading(text, facts):
    """The per-pattern shortcut that separates "not fired" from "insufficient data" gives
    the three-valued reading's answer on every fact where the rule did not fire."""
    node, problems = parse_checked(text)
    if problems:
        return
    for values in facts:
        if expr.evaluate(node, values):
            continue
        unknown = frozenset(n for n in expr.fields_read(node) if values.get(n) is None)
        possible = expr.still_possible(node, unknown)
        got = possible if isinstance(possible, bool) else possible(values)
        assert got == (expr.decided(node, values) is None), (text, values)


def test_fifty_thousand_facts_exactly_once():
    """Every fact's match set equals the reference: nothing lost, nothing doubled."""
    rules = {
        "low_ctr": "ctr < 0.01",
        "broad": "ctr > 0.2 or (clicks > 100 and impressions < 1000)",
        "roi": "spend > 0 and gmv < spend * 1.8",
        "either": "ctr < 0.05 or ctr < 0.02",  # one fact can match both branches
        "text": 'status in ["active", "requested"] and matches(name, ".*达人.*")',
        "flag": "not ok",
    }
    types = {
        "ctr": "number",
        "clicks": "integer",
        "impressions": "integer",
        "gmv": "number",
        "spend": "number",
        "status": "string",
        "name": "string",
        "ok": "bool",
    }
    nodes = {}
    for key, text in rules.items():
        node = expr.parse(text)
        assert expr.check(node, types, {}) == []
        nodes[key] = node
    rng = random.Random(7)
    engine = RuleEvaluator(nodes, "fifty")
    reference = PythonEvaluator(nodes, "fifty")
    matched = 0
    batch: list[dict] = []
    try:
        for i in range(50_000):
            values = {
                "ctr": rng.choice([rng.random() * 0.3, 1e-05 * rng.random(), None]),
                "clicks": rng.randint(0, 500),
                "impressions": rng.randint(0, 5000),
                "gmv": rng.random() * 1e4,
                "spend": rng.choice([0.0, rng.random() * 5e3]),
                "status": rng.choice(["active", "requested", "expired", None]),
                "name": rng.choice(["穿搭达人", "小鹿美妆", f"达人{i}"]),
                "ok": rng.choice([True, False, None]),
            }
            got = engine.evaluate(values)
            assert got == reference.evaluate(values), (i, values)
            matched += len(got)
            batch.append(values)
            if len(batch) == 250:  # the batched path must give the same sets, fact by fact
                assert engine.evaluate_many(batch) == [reference.evaluate(v) for v in batch]
                batch = []
    finally:
        engine.close()
    assert matched > 50_000  # the data really exercises the rules


def test_evaluators_do_not_leak():
    nodes = {"r": expr.parse("x > 1")}

    def rss_kb() -> int:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    for _ in range(200):  # warm up
        with RuleEvaluator(nodes) as engine:
            engine.evaluate({"x": 2})
    before = rss_kb()
    for _ in range(2000):
        with RuleEvaluator(nodes) as engine:
            engine.evaluate({"x": 2})
    assert rss_kb() - before < 50_000  # KB: a leak of a ruleset per run would show
