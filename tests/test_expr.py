"""The expression language: parser, diagnostics (with offsets and help), normal form,
missing-value semantics, arithmetic as the engine computes it, explain."""

from __future__ import annotations

import math

import pytest

from qcrules.packs import expr
from qcrules.packs.expr import And, BinOp, Compare, Exists, Field, In, Literal, Matches, Not, Or

TYPES = {
    "ctr_7d": "number",
    "roi_7d": "number",
    "break_even_roi": "number",
    "clicks_7d": "integer",
    "creator.fans_count": "integer",
    "pool.roi_7d_p20": "number",
    "status": "string",
    "creator.name": "string",
    "in_pool": "bool",
    "excluded": "bool",
}
PARAMS = {"m": 1.5, "min_days": 3, "label": "x", "zero": 0, "ctr_broad": 0.2}


def F(name: str) -> Field:
    return Field(name=name)


def L(value) -> Literal:
    return Literal(value=value)


def holds(text: str, **fact) -> bool:
    fact = {k.replace("__", "."): v for k, v in fact.items()}
    return expr.evaluate(expr.bind(expr.parse(text), PARAMS), fact)


# ----------------------------------------------------------------------------- parser


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("ctr_7d > 0.2", Compare(op=">", left=F("ctr_7d"), right=L(0.2))),
        ("x >= -5", Compare(op=">=", left=F("x"), right=L(-5))),
        ("x < 1e-5", Compare(op="<", left=F("x"), right=L(1e-05))),
        (
            "0.03 <= ctr_7d <= 0.10",  # a chain is the `and` of its links
            And(
                items=(
                    Compare(op="<=", left=L(0.03), right=F("ctr_7d")),
                    Compare(op="<=", left=F("ctr_7d"), right=L(0.10)),
                )
            ),
        ),
        (
            "not a and b or c",  # not > and > or
            Or(items=(And(items=(Not(operand=F("a")), F("b"))), F("c"))),
        ),
        ("not x < 5", Not(operand=Compare(op="<", left=F("x"), right=L(5)))),
        (
            "roi_7d >= break_even_roi * params.m",
            Compare(
                op=">=",
                left=F("roi_7d"),
                right=BinOp(op="*", left=F("break_even_roi"), right=expr.Param(name="m")),
            ),
        ),
        (
            "a + b * c - d / e",
            BinOp(
                op="-",
                left=BinOp(op="+", left=F("a"), right=BinOp(op="*", left=F("b"), right=F("c"))),
                right=BinOp(op="/", left=F("d"), right=F("e")),
            ),
        ),
        (
            'creator.name == "穿搭\\"达人\\""',
            Compare(op="==", left=F("creator.name"), right=L('穿搭"达人"')),
        ),
        ('s == "\\u4e2d\\n"', Compare(op="==", left=F("s"), right=L("中\n"))),
        ('status in ["active", "达人"]', In(operand=F("status"), values=(L("active"), L("达人")))),
        ("k not in [1, -2]", In(operand=F("k"), values=(L(1), L(-2)), negated=True)),
        ("exists(pool.roi_7d_p20)", Exists(field=F("pool.roi_7d_p20"))),
        ('matches(creator.name, ".*达人.*")', Matches(field=F("creator.name"), pattern=".*达人.*")),
        ("flag == true", Compare(op="==", left=F("flag"), right=L(True))),
    ],
)
def test_parse(text, tree):
    assert expr.parse(text) == tree


def test_spans_point_into_the_text():
    node = expr.parse("a > 1 and  (creator.fans_count < 10)")
    inner = node.items[1]
    assert (inner.start, inner.end) == (11, 36)
    assert inner.left.start == 12 and inner.left.end == 30


@pytest.mark.parametrize(
    ("text", "message", "offset", "length", "help"),
    [
        ("", "empty expression", 0, 1, "write a condition"),
        ("ctr_7d >", "the expression ended", 8, 1, "a field, a number"),
        ("ctr_7d > > 1", "expected a value or a condition, found '>'", 9, 1, "a field, a number"),
        ("(ctr_7d > 1", "expected ')'", 11, 1, "close the parenthesis"),
        ("ctr_7d > 1)", "unexpected text after the condition", 10, 1, "and / or"),
        ("ctr_7d = 1", "unexpected '='", 7, 1, "compare with =="),
        ("a && b", "unexpected '&&'", 2, 2, "write and"),
        ("a || b", "unexpected '||'", 2, 2, "write or"),
        ("x ! y", "unexpected '!'", 2, 1, "write not"),
        ("x in 5", "expected '['", 5, 1, "write a list"),
        ("x in []", "the list is empty", 6, 1, "at least one value"),
        ("x in [y]", "lists hold literal values only", 6, 1, '["active"'),
        ("foo(x)", "unknown function 'foo'", 0, 3, "exists(field)"),
        ("exist(x)", "unknown function 'exist'", 0, 5, "did you mean 'exists'?"),
        ("matches(x)", "expected ','", 9, 1, 'matches(field, "regex")'),
        ("matches(x, 1)", "needs a regex in double quotes", 11, 1, "穿搭"),
        ("exists(params.a)", "exists() takes a field name", 7, 8, "exists(ctr_7d)"),
        ("'a' == x", 'unexpected "\'"', 0, 1, "double quotes"),
        ('x == "abc', "this string is not closed", 5, 4, "double quote"),
        ('x == "\\q"', "unknown escape \\q", 6, 2, "\\uXXXX"),
        ("params", "params needs a name", 0, 6, "params.NAME"),
        ("达人 == x", "unexpected '达'", 0, 1, 'inside double quotes, e.g. "达人"'),
        ("x > 1 y > 2", "unexpected text after the condition, found 'y'", 6, 1, "and / or"),
    ],
)
def test_syntax_errors_name_the_offset_and_help(text, message, offset, length, help):
    with pytest.raises(expr.ExprSyntaxError) as caught:
        expr.parse(text)
    error = caught.value
    assert message in error.message
    assert (error.offset, error.length) == (offset, length)
    assert help in error.help


# ----------------------------------------------------------------------------- diagnostics


@pytest.mark.parametrize(
    ("text", "code", "offset", "length", "message", "help"),
    [
        ("ctr_7 > 0.1", "unknown-field", 0, 5, "unknown field 'ctr_7'", "did you mean 'ctr_7d'?"),
        (
            "creator.fans > 1",
            "unknown-field",
            0,
            12,
            "unknown field 'creator.fans'",
            "did you mean 'creator.fans_count'?",
        ),
        ("zzz > 1", "unknown-field", 0, 3, "unknown field 'zzz'", "qcrules packs fields"),
        (
            "ctr_7d > params.ctr_brod",
            "unknown-param",
            9,
            15,
            "unknown parameter 'ctr_brod'",
            "did you mean params.ctr_broad?",
        ),
        ("status > 3", "type-mismatch", 0, 10, "cannot compare string with integer", "both sides"),
        ('in_pool == "yes"', "type-mismatch", 0, 16, "cannot compare bool with string", "both"),
        ('status < "b"', "type-mismatch", 0, 12, "< needs numbers", "use == or !="),
        ("in_pool < true", "type-mismatch", 0, 14, "< needs numbers", "use == or !="),
        ("status + 1 > ctr_7d", "type-mismatch", 0, 6, "arithmetic needs numbers", "+ - * /"),
        ('ctr_7d in [1, "a"]', "type-mismatch", 0, 18, "mixes values", "one type"),
        ("status in [1, 2]", "type-mismatch", 0, 16, "the list holds integer values", "type"),
        ("ctr_7d", "type-mismatch", 0, 6, "not true/false", "ctr_7d > 0"),
        ('matches(ctr_7d, "a")', "type-mismatch", 8, 6, "needs a text field", "compare"),
        ("1 < 2", "constant", 0, 5, "reads no field", "compare a fact field"),
        ("params.m > 1", "constant", 0, 12, "reads no field", "compare a fact field"),
        (
            "roi_7d + ctr_7d > clicks_7d + 1",
            "needs-field",
            0,
            31,
            "one side of a comparison must be a plain field",
            "roi_7d >= break_even_roi * 1.5",
        ),
        ("ctr_7d > 1 / params.zero", "division-by-zero", 9, 15, "divides by zero", "parameter"),
        ("clicks_7d > 9007199254740993", "number-too-big", 12, 16, "beyond ±2**53", "smaller"),
        ("ctr_7d > 1e999", "bad-number", 9, 5, "finite", "finite"),
        ('matches(creator.name, "(")', "bad-regex", 23, 1, "invalid regex", "whole text"),
        ("ctr_7d + 1", "not-a-condition", 0, 10, "is a value, not a condition", "compare"),
        ("(ctr_7d > 1) + 1 > 2", "type-mismatch", 0, 12, "not a condition", "compute"),
    ],
)
def test_each_diagnostic(text, code, offset, length, message, help):
    problems = expr.check(expr.parse(text), TYPES, PARAMS)
    assert [p.code for p in problems] == [code], problems
    problem = problems[0]
    assert (problem.offset, problem.length) == (offset, length)
    assert message in problem.message
    assert help in problem.help


def test_every_problem_is_reported_at_once():
    text = 'ctr_7 > 1 and statuss == "a" and roi > params.mm and status > 1'
    problems = expr.check(expr.parse(text), TYPES, PARAMS)
    assert [(p.code, p.offset) for p in problems] == [
        ("unknown-field", 0),
        ("unknown-field", 14),
        ("unknown-field", 33),
        ("unknown-param", 39),
        ("type-mismatch", 53),
    ]
    assert problems[1].help == "did you mean 'status'?"
    assert problems[3].help == "did you mean params.m?"


@pytest.mark.parametrize(
    "text",
    [
        "roi_7d >= break_even_roi * params.m",  # bare field on the left: fine
        "break_even_roi * params.m <= roi_7d",  # or on the right
        "0.03 <= ctr_7d <= 0.10",
        "in_pool and not excluded",
        'not matches(creator.name, ".*达人.*")',  # computed in Python, so supported
        "creator.fans_count >= params.min_days * 1000",
        'status not in ["revoked", "expired"] or not exists(pool.roi_7d_p20)',
    ],
)
def test_valid_conditions_have_no_problems(text):
    assert expr.check(expr.parse(text), TYPES, PARAMS) == []


# ----------------------------------------------------------------------------- normal form


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("not (x < 5)", "x >= 5"),
        ("not (x == 5)", "x != 5"),
        ("not flag", "flag == false"),
        ("flag", "flag == true"),
        ("not (a > 1 and b < 2)", "a <= 1 or b >= 2"),
        ("not (a > 1 or not b < 2)", "a <= 1 and b < 2"),
        ("not not x > 1", "x > 1"),
        ("not exists(x)", "not exists(x)"),
        ('not (s in ["a", "b"])', 's not in ["a", "b"]'),
        ('not matches(s, "a.*")', 'not matches(s, "a.*")'),
    ],
)
def test_push_not(text, normal):
    node = expr.push_not(expr.parse(text))
    assert node == expr.push_not(expr.parse(normal))
    assert expr.push_not(node) == node  # idempotent


def test_missing_values_make_every_comparison_false():
    assert holds("a > 1 or b > 1", a=None, b=2)  # fires on b although a is unknown
    assert not holds("a > 1 or b > 1", a=None, b=0)
    assert not holds("not (x < 5)", x=None)  # x >= 5, false when x is missing
    assert not holds("x != 1", x=None)  # != too: the engine's semantics
    assert not holds("not flag")  # flag == false
    assert not holds('s not in ["a"]')  # and of != … all false when missing
    assert holds("not exists(x)") and not holds("exists(x)")
    assert not holds('matches(s, ".*")') and not holds('not matches(s, "a")')
    assert not holds("x < a / b", x=1, a=None, b=2)


def test_decided_separates_not_fired_from_insufficient_data():
    node = expr.parse("in_pool and roi_7d < 1")
    assert expr.decided(node, {"in_pool": False}) is False  # roi_7d cannot change that
    assert expr.decided(node, {"in_pool": True}) is None  # roi_7d could
    assert expr.decided(node, {"in_pool": True, "roi_7d": 0.5}) is True


# ----------------------------------------------------------------------------- semantics


@pytest.mark.parametrize(
    ("ctr", "fires"),
    [(0.03, True), (0.1, True), (0.10000000000000002, False), (0.029999999999999995, False)],
)
def test_chain_boundaries(ctr, fires):
    assert holds("0.03 <= ctr_7d <= 0.10", ctr_7d=ctr) is fires


def test_in_and_not_in():
    assert holds('status in ["active", "requested"]', status="requested")
    assert not holds('status in ["active"]', status="Active")
    assert holds('status not in ["revoked", "expired"]', status="active")
    assert not holds('status not in ["revoked", "expired"]', status="expired")
    assert holds("k in [1, 2.5]", k=2.5) and holds("k in [1, 2.5]", k=1.0)


def test_chinese_text_and_matches():
    assert holds('creator.name == "穿搭达人小王"', creator__name="穿搭达人小王")
    assert holds('matches(creator.name, ".*达人.*")', creator__name="穿搭达人小王")
    assert not holds('matches(creator.name, "达人")', creator__name="穿搭达人小王")  # whole text
    assert holds('matches(s, ".*bb")', s="bbbb")  # the engine's own $mt misses this one
    assert holds('not matches(s, "小.*")', s="达人")


def test_arithmetic_is_double_arithmetic_as_in_the_engine():
    assert holds("x == a / b", x=3.5, a=7, b=2)  # no integer truncation
    assert holds("x < a / b", x=1e308, a=1, b=0)  # 1/0 = inf
    assert holds("x > a / b", x=-1e308, a=-1, b=0)  # -1/0 = -inf
    assert holds("x != a / b", x=0, a=0, b=0)  # 0/0 = nan: unequal to everything …
    assert not holds("x == a / b", x=0, a=0, b=0)
    assert not holds("x <= a / b", x=0, a=0, b=0)  # … and unordered
    # a field on the left of arithmetic is read as `f + 0.0`: -0.0 becomes 0.0
    assert holds("x < 1 / (a * 2)", x=1e308, a=-0.0)  # 1 / +0.0 = inf
    assert holds("x > 1 / -a", x=0, a=-0.0)  # (a + 0.0) * -1.0 is -0.0: 1 / -0.0 = -inf
    assert expr.arith("/", 1.0, -0.0) == -math.inf
    assert math.isnan(expr.arith("/", 0.0, 0.0))


def test_bind_substitutes_params_and_folds_constants():
    node = expr.bind(expr.parse("ctr_7d > params.ctr_broad * 2 - -1"), PARAMS)
    assert node == Compare(op=">", left=F("ctr_7d"), right=L(1.4))
    assert expr.bind(expr.parse("x > 7 / 2"), {}) == Compare(op=">", left=F("x"), right=L(3.5))


def test_fields_read_and_missing_fields():
    node = expr.parse('b > a and (a < 1 or exists(c)) and matches(d, "x") and b > 0')
    assert expr.fields_read(node) == ["b", "a", "c", "d"]
    assert expr.missing_fields(node, {"a": 1, "b": None, "c": 0}) == ["b", "d"]


@pytest.mark.parametrize(
    "text",
    [
        "0.03 <= ctr_7d <= 0.1",
        "not (a > 1 and b < 2) or c == -3",
        '(a + b) * c / (d - e) > f and s in ["达\\"人", "x"]',
        'not matches(creator.name, ".*达人.*") and not exists(pool.roi_7d_p20)',
        "x < 1e-05 and y != 2.5e-07",
    ],
)
def test_to_source_parses_back_to_the_same_tree(text):
    node = expr.parse(text)
    assert expr.parse(expr.to_source(node)) == node


# ----------------------------------------------------------------------------- explain


def test_explain_shows_each_sub_condition_its_values_and_result():
    node = expr.bind(expr.parse("ctr_7d > params.ctr_broad and not (in_pool or excluded)"), PARAMS)
    tree = expr.explain(node, {"ctr_7d": 0.25, "in_pool": False})
    assert tree.result is False
    assert [c.text for c in tree.children] == ["ctr_7d > 0.2", "not (in_pool or excluded)"]
    gt, negated = tree.children
    assert gt.result is True and gt.values == {"ctr_7d": 0.25}
    assert negated.result is False  # excluded is missing: `excluded == false` is false
    either = negated.children[0]
    assert either.text == "in_pool or excluded" and either.result is False
    assert [(c.text, c.values, c.result) for c in either.children] == [
        ("in_pool", {"in_pool": False}, False),
        ("excluded", {"excluded": None}, False),
    ]
    assert tree.to_json()["children"][0] == {
        "text": "ctr_7d > 0.2",
        "result": True,
        "values": {"ctr_7d": 0.25},
        "children": [],
    }
