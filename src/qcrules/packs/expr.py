"""The expression language of `when`, `guard` and `applies` — parsed, never `eval`ed.

    ctr_7d > params.ctr_broad and not (creator.fans_count < 1000 or status in ["revoked"])

One syntax tree serves three readers: the type checker (against the fact schema), the
compiler to durable-rules JSON (`qcrules.engine.compiler`), and the plain-Python reading
below, used by `explain` and as the reference the engine is checked against.

Missing values: `not` is pushed down to the comparisons first (`not (x < 5)` is `x >= 5`,
`not flag` is `flag == false`, De Morgan for and/or), and every comparison that reads a
missing value is false — the engine's own semantics — so `a or b` fires when `b` holds and
`a` is unknown.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import operator
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from qcrules.packs.patterns import PatternProblem, check_pattern, compile_pattern

# Integers are exact in both readings up to 2**53 (a double's mantissa); beyond that the
# engine and Python would round differently, so such values are refused.
INT64_MIN, INT64_MAX = -(2**53), 2**53
NUMERIC = ("number", "integer")
# A condition is a line of a rule, not a program: bounds that keep every reader (parser,
# checker, compiler, both engines) far from Python's recursion limit and the engine's.
MAX_LENGTH = 10_000  # characters of one condition
MAX_DEPTH = 50  # nesting: parentheses, not, unary minus, chained arithmetic
MAX_LIST = 1_000  # values in one `in [...]` list
ORDERING = ("<", "<=", ">", ">=")
NEGATE = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}
FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


def number_problem(value: Any) -> str | None:
    """Why a parameter value cannot be used in a condition (None when it can): numbers are
    finite and within ±2**53, where both readings compute them alike."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value} is not a finite number"
    if not (INT64_MIN <= value <= INT64_MAX):
        return f"{value} is beyond ±2**53 (9007199254740992)"
    return None


class ExprSyntaxError(Exception):
    def __init__(self, message: str, offset: int, length: int = 1, help: str | None = None):
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.length = max(1, length)
        self.help = help


@dataclass(frozen=True)
class ExprDiagnostic:
    code: str
    message: str
    offset: int
    length: int = 1
    help: str | None = None


# --------------------------------------------------------------------------------------------
# syntax tree


@dataclass(frozen=True)
class Node:
    start: int = field(default=0, compare=False, repr=False)
    end: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class Literal(Node):
    value: Any = None  # int, float, str or bool


@dataclass(frozen=True)
class Field(Node):
    name: str = ""


@dataclass(frozen=True)
class Param(Node):
    name: str = ""


@dataclass(frozen=True)
class Neg(Node):
    operand: Node = None  # type: ignore[assignment]


@dataclass(frozen=True)
class BinOp(Node):
    op: str = "+"
    left: Node = None  # type: ignore[assignment]
    right: Node = None  # type: ignore[assignment]


@dataclass(frozen=True)
class Compare(Node):
    op: str = "=="
    left: Node = None  # type: ignore[assignment]
    right: Node = None  # type: ignore[assignment]


@dataclass(frozen=True)
class In(Node):
    operand: Node = None  # type: ignore[assignment]
    values: tuple = ()
    negated: bool = False


@dataclass(frozen=True)
class Exists(Node):
    field: Field = None  # type: ignore[assignment]
    negated: bool = False


@dataclass(frozen=True)
class Matches(Node):
    field: Field = None  # type: ignore[assignment]
    pattern: str = ""
    negated: bool = False
    pattern_at: int = dataclasses.field(default=0, compare=False, repr=False)  # its "string"


@dataclass(frozen=True)
class Truth(Node):
    """A bare field used as a condition (`data_verified`): `field == true`."""

    field: Field = None  # type: ignore[assignment]


@dataclass(frozen=True)
class Not(Node):
    operand: Node = None  # type: ignore[assignment]


@dataclass(frozen=True)
class And(Node):
    items: tuple = ()


@dataclass(frozen=True)
class Or(Node):
    items: tuple = ()


CONDITIONS = (Compare, In, Exists, Matches, Truth, Not, And, Or)
VALUES = (Literal, Field, Param, Neg, BinOp)

# --------------------------------------------------------------------------------------------
# tokens

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<badstring>"(?:[^"\\\n]|\\.)*)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op><=|>=|==|!=|<|>|\+|-|\*|/|\(|\)|\[|\]|,)
  | (?P<bad>=|&&|\|\||!|.)
    """,
    re.VERBOSE,
)
KEYWORDS = {"and", "or", "not", "in", "true", "false"}
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "/": "/"}


@dataclass(frozen=True)
class Token:
    kind: str  # number string name op kw end
    text: str
    start: int
    value: Any = None

    @property
    def end(self) -> int:
        return self.start + len(self.text)


def _unescape(body: str, start: int) -> str:
    out = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            nxt = body[i + 1] if i + 1 < len(body) else ""
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
                continue
            if nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", body[i + 2 : i + 6]):
                out.append(chr(int(body[i + 2 : i + 6], 16)))
                i += 6
                continue
            raise ExprSyntaxError(
                f"unknown escape \\{nxt} in a string",
                start + 1 + i,
                2,
                'use \\" \\\\ \\n \\t or \\uXXXX',
            )
        out.append(ch)
        i += 1
    return "".join(out)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        raw = match.group()
        start = match.start()
        if kind == "ws":
            continue
        if kind == "number":
            value: Any = float(raw) if any(c in raw for c in ".eE") else int(raw)
            tokens.append(Token("number", raw, start, value))
        elif kind == "string":
            tokens.append(Token("string", raw, start, _unescape(raw[1:-1], start)))
        elif kind == "badstring":
            raise ExprSyntaxError(
                "this string is not closed", start, len(raw), 'end it with a double quote "'
            )
        elif kind == "name":
            if raw in KEYWORDS:
                tokens.append(Token("kw", raw, start))
            else:
                tokens.append(Token("name", raw, start))
        elif kind == "op":
            tokens.append(Token("op", raw, start))
        else:
            help_text = {
                "=": "compare with ==",
                "&&": "write and",
                "||": "write or",
                "!": "write not, or != for 'not equal'",
                "'": 'strings use double quotes: "text"',
            }.get(raw, "the language has and, or, not, comparisons, + - * / and [lists]")
            if not raw.isascii():
                help_text = 'text goes inside double quotes, e.g. "达人"'
            raise ExprSyntaxError(f"unexpected {raw!r}", start, len(raw), help_text)
    tokens.append(Token("end", "", len(text)))
    return tokens


# --------------------------------------------------------------------------------------------
# parser


class _Parser:
    def __init__(self, text: str) -> None:
        if len(text) > MAX_LENGTH:
            raise ExprSyntaxError(
                f"the condition has {len(text)} characters; at most {MAX_LENGTH}",
                MAX_LENGTH,
                1,
                "split it into several rules, or name the values in [params]",
            )
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    def deeper(self, tok: Token) -> None:
        """One more level of nesting; refused beyond MAX_DEPTH, never a RecursionError."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprSyntaxError(
                f"the condition nests more than {MAX_DEPTH} levels deep here",
                tok.start,
                len(tok.text),
                "remove parentheses or `not`s, or split the rule",
            )

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def next(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def is_(self, kind: str, text: str | None = None) -> bool:
        tok = self.tok
        return tok.kind == kind and (text is None or tok.text == text)

    def expect(self, kind: str, text: str, help: str) -> Token:
        if not self.is_(kind, text):
            self.fail(f"expected {text!r}", help)
        return self.next()

    def fail(self, message: str, help: str | None = None):
        tok = self.tok
        if tok.kind == "end":
            raise ExprSyntaxError(
                f"{message}, but the expression ended", tok.start, 1, help or "complete it"
            )
        raise ExprSyntaxError(f"{message}, found {tok.text!r}", tok.start, len(tok.text), help)

    def parse(self) -> Node:
        if self.is_("end"):
            raise ExprSyntaxError("empty expression", 0, 1, "write a condition, e.g. ctr_7d > 0.2")
        node = self.or_()
        if not self.is_("end"):
            self.fail("unexpected text after the condition", "join conditions with and / or")
        return node

    def or_(self) -> Node:
        items = [self.and_()]
        while self.is_("kw", "or"):
            self.next()
            items.append(self.and_())
        if len(items) == 1:
            return items[0]
        return Or(items[0].start, items[-1].end, tuple(items))

    def and_(self) -> Node:
        items = [self.not_()]
        while self.is_("kw", "and"):
            self.next()
            items.append(self.not_())
        if len(items) == 1:
            return items[0]
        return And(items[0].start, items[-1].end, tuple(items))

    def not_(self) -> Node:
        if self.is_("kw", "not"):
            tok = self.next()
            self.deeper(tok)
            operand = self.not_()
            self.depth -= 1
            return Not(tok.start, operand.end, operand)
        return self.comparison()

    def comparison(self) -> Node:
        left = self.sum_()
        if self.is_("kw", "in") or (
            self.is_("kw", "not")
            and self.tokens[self.i + 1].kind == "kw"
            and self.tokens[self.i + 1].text == "in"
        ):
            negated = self.is_("kw", "not")
            if negated:
                self.next()
            self.next()
            values, end = self.list_()
            return In(left.start, end, left, values, negated)
        pairs: list[tuple[str, Node]] = []
        while self.tok.kind == "op" and self.tok.text in NEGATE:
            op = self.next().text
            pairs.append((op, self.sum_()))
        if not pairs:
            return left
        items = []
        prev = left
        for op, right in pairs:
            items.append(Compare(prev.start, right.end, op, prev, right))
            prev = right
        if len(items) == 1:
            return items[0]
        return And(items[0].start, items[-1].end, tuple(items))

    def list_(self) -> tuple[tuple, int]:
        self.expect("op", "[", 'write a list like ["a", "b"] after in')
        values: list[Literal] = []
        if self.is_("op", "]"):
            self.fail("the list is empty", "give at least one value")
        while True:
            if len(values) == MAX_LIST:
                raise ExprSyntaxError(
                    f"the list holds more than {MAX_LIST} values",
                    self.tok.start,
                    len(self.tok.text),
                    "match on a field that groups them, or split the rule",
                )
            values.append(self.literal_in_list())
            if self.is_("op", ","):
                self.next()
                continue
            end = self.expect("op", "]", "close the list with ]").end
            return tuple(values), end

    def literal_in_list(self) -> Literal:
        tok = self.tok
        sign = 1
        start = tok.start
        if self.is_("op", "-"):
            self.next()
            sign = -1
            tok = self.tok
            if tok.kind != "number":
                self.fail("expected a number after -", "e.g. [-1, 0, 1]")
        if tok.kind in ("number", "string"):
            self.next()
            value = tok.value * sign if tok.kind == "number" else tok.value
            return Literal(start, tok.end, value)
        if tok.kind == "kw" and tok.text in ("true", "false"):
            self.next()
            return Literal(start, tok.end, tok.text == "true")
        self.fail("lists hold literal values only", 'e.g. ["active", "requested"] or [1, 2]')
        raise AssertionError  # pragma: no cover

    def sum_(self) -> Node:
        depth = self.depth
        left = self.term()
        while self.tok.kind == "op" and self.tok.text in "+-":
            tok = self.next()
            self.deeper(tok)  # a + b + c is ((a + b) + c): each operator one level deeper
            right = self.term()
            left = BinOp(left.start, right.end, tok.text, left, right)
        self.depth = depth
        return left

    def term(self) -> Node:
        depth = self.depth
        left = self.unary()
        while self.tok.kind == "op" and self.tok.text in "*/":
            tok = self.next()
            self.deeper(tok)
            right = self.unary()
            left = BinOp(left.start, right.end, tok.text, left, right)
        self.depth = depth
        return left

    def unary(self) -> Node:
        if self.is_("op", "-"):
            tok = self.next()
            self.deeper(tok)
            operand = self.unary()
            self.depth -= 1
            if (
                isinstance(operand, Literal)
                and isinstance(operand.value, int | float)
                and not (isinstance(operand.value, bool))
            ):
                return Literal(tok.start, operand.end, -operand.value)
            return Neg(tok.start, operand.end, operand)
        return self.atom()

    def atom(self) -> Node:
        tok = self.tok
        if tok.kind == "number":
            self.next()
            return Literal(tok.start, tok.end, tok.value)
        if tok.kind == "string":
            self.next()
            return Literal(tok.start, tok.end, tok.value)
        if tok.kind == "kw" and tok.text in ("true", "false"):
            self.next()
            return Literal(tok.start, tok.end, tok.text == "true")
        if self.is_("op", "("):
            self.next()
            self.deeper(tok)
            inner = self.or_()
            self.depth -= 1
            close = self.expect("op", ")", "close the parenthesis")
            return replace(inner, start=tok.start, end=close.end)
        if tok.kind == "name":
            self.next()
            if self.is_("op", "("):
                return self.call(tok)
            if tok.text.startswith("params."):
                return Param(tok.start, tok.end, tok.text[len("params.") :])
            if tok.text == "params":
                raise ExprSyntaxError("params needs a name", tok.start, 6, "write params.NAME")
            return Field(tok.start, tok.end, tok.text)
        if tok.kind == "kw":
            self.fail("expected a value or a condition", f"{tok.text!r} cannot start a condition")
        self.fail(
            "expected a value or a condition",
            'a field, a number, a "string", true/false, params.NAME or ( … ) goes here',
        )
        raise AssertionError  # pragma: no cover

    def call(self, name: Token) -> Node:
        self.next()  # (
        if name.text not in ("exists", "matches"):
            close = difflib.get_close_matches(name.text, ["exists", "matches"], n=1)
            raise ExprSyntaxError(
                f"unknown function {name.text!r}",
                name.start,
                len(name.text),
                f"did you mean {close[0]!r}?"
                if close
                else 'functions: exists(field), matches(field, "regex")',
            )
        arg = self.tok
        if arg.kind != "name" or arg.text.startswith("params."):
            self.fail(f"{name.text}() takes a field name", f"e.g. {name.text}(ctr_7d)")
        self.next()
        target = Field(arg.start, arg.end, arg.text)
        if name.text == "exists":
            close = self.expect("op", ")", "exists() takes one field")
            return Exists(name.start, close.end, target)
        self.expect("op", ",", 'write matches(field, "regex")')
        pattern = self.tok
        if pattern.kind != "string":
            self.fail(
                "matches() needs a regex in double quotes", 'e.g. matches(nickname, ".*穿搭.*")'
            )
        self.next()
        close = self.expect("op", ")", "close matches( … )")
        return Matches(name.start, close.end, target, pattern.value, pattern_at=pattern.start)


def parse(text: str) -> Node:
    """Parse one condition; raises ExprSyntaxError with the offset of the problem."""
    return _Parser(text).parse()


# --------------------------------------------------------------------------------------------
# walking


def walk(node: Node) -> Iterator[Node]:
    yield node
    if isinstance(node, Neg | Not):
        yield from walk(node.operand)
    elif isinstance(node, BinOp | Compare):
        yield from walk(node.left)
        yield from walk(node.right)
    elif isinstance(node, And | Or):
        for item in node.items:
            yield from walk(item)
    elif isinstance(node, In):
        yield from walk(node.operand)
    elif isinstance(node, Exists | Matches | Truth):
        yield node.field


def fields_read(node: Node) -> list[str]:
    seen: dict[str, None] = {}
    for item in walk(node):
        if isinstance(item, Field):
            seen.setdefault(item.name)
    return list(seen)


def params_read(node: Node) -> list[str]:
    seen: dict[str, None] = {}
    for item in walk(node):
        if isinstance(item, Param):
            seen.setdefault(item.name)
    return list(seen)


def missing_fields(node: Node, fact: Mapping[str, Any]) -> list[str]:
    return [name for name in fields_read(node) if fact.get(name) is None]


def to_source(node: Node) -> str:
    if isinstance(node, Literal):
        if isinstance(node.value, bool):
            return "true" if node.value else "false"
        if isinstance(node.value, str):
            return '"' + node.value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return repr(node.value)
    if isinstance(node, Field):
        return node.name
    if isinstance(node, Param):
        return f"params.{node.name}"
    if isinstance(node, Neg):
        return f"-{_paren(node.operand)}"
    if isinstance(node, BinOp):
        return f"{_paren(node.left)} {node.op} {_paren(node.right)}"
    if isinstance(node, Compare):
        return f"{to_source(node.left)} {node.op} {to_source(node.right)}"
    if isinstance(node, In):
        values = ", ".join(to_source(v) for v in node.values)
        return f"{to_source(node.operand)} {'not in' if node.negated else 'in'} [{values}]"
    if isinstance(node, Exists):
        return f"{'not ' if node.negated else ''}exists({node.field.name})"
    if isinstance(node, Matches):
        pattern = to_source(Literal(value=node.pattern))
        return f"{'not ' if node.negated else ''}matches({node.field.name}, {pattern})"
    if isinstance(node, Truth):
        return node.field.name
    if isinstance(node, Not):
        return f"not {_paren(node.operand)}"
    if isinstance(node, And | Or):
        word = " and " if isinstance(node, And) else " or "
        return word.join(_paren(item) for item in node.items)
    raise TypeError(node)


def _paren(node: Node) -> str:
    text = to_source(node)
    return f"({text})" if isinstance(node, And | Or | BinOp | Compare | In) else text


# --------------------------------------------------------------------------------------------
# type checking


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _literal_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


class _Checker:
    def __init__(self, field_types: Mapping[str, str], params: Mapping[str, Any]) -> None:
        self.field_types = field_types
        self.params = params
        self.problems: list[ExprDiagnostic] = []

    def add(self, code: str, message: str, node: Node, help: str | None = None) -> None:
        self.problems.append(
            ExprDiagnostic(code, message, node.start, max(1, node.end - node.start), help)
        )

    def value_type(self, node: Node) -> str | None:
        """The type of a value node, or None when unknown (already reported)."""
        if isinstance(node, Literal):
            if (
                isinstance(node.value, int)
                and not isinstance(node.value, bool)
                and not (INT64_MIN <= node.value <= INT64_MAX)
            ):
                self.add(
                    "number-too-big",
                    f"{node.value} is beyond ±2**53 (9007199254740992)",
                    node,
                    "larger integers are not compared exactly by both readings; use a smaller "
                    "number",
                )
            if isinstance(node.value, float) and not math.isfinite(node.value):
                self.add("bad-number", "numbers must be finite", node, "use a finite number")
            return _literal_type(node.value)
        if isinstance(node, Field):
            kind = self.field_types.get(node.name)
            if kind is None:
                close = difflib.get_close_matches(node.name, list(self.field_types), n=1)
                self.add(
                    "unknown-field",
                    f"unknown field {node.name!r}",
                    node,
                    f"did you mean {close[0]!r}?"
                    if close
                    else "see `qcrules packs fields` for the fields of this entity",
                )
            return kind
        if isinstance(node, Param):
            if node.name not in self.params:
                close = difflib.get_close_matches(node.name, list(self.params), n=1)
                self.add(
                    "unknown-param",
                    f"unknown parameter {node.name!r}",
                    node,
                    f"did you mean params.{close[0]}?" if close else "declare it under [params]",
                )
                return None
            value = self.params[node.name]
            if not isinstance(value, bool | int | float | str):
                self.add(
                    "bad-param", f"parameter {node.name!r} is not a number, bool or text", node
                )
                return None
            return _literal_type(value)
        if isinstance(node, Neg | BinOp):
            operands = [node.operand] if isinstance(node, Neg) else [node.left, node.right]
            ok = True
            for operand in operands:
                if isinstance(operand, CONDITIONS):
                    self.add(
                        "type-mismatch",
                        "arithmetic needs numbers, not a condition",
                        operand,
                        "compute with values, then compare the result",
                    )
                    ok = False
                    continue
                kind = self.value_type(operand)
                if kind is not None and kind not in NUMERIC:
                    self.add(
                        "type-mismatch",
                        f"arithmetic needs numbers; {to_source(operand)} is {kind}",
                        operand,
                        "+ - * / work on number and integer fields only",
                    )
                    ok = False
            if ok and isinstance(node, BinOp):
                constant = _constant(node, self.params)
                if constant is not None and not math.isfinite(constant):
                    self.add(
                        "division-by-zero",
                        f"{to_source(node)} divides by zero",
                        node,
                        "check the parameter values",
                    )
                    return None
            return "number" if ok else None
        if isinstance(node, CONDITIONS):
            self.add(
                "type-mismatch",
                "a condition cannot be used as a value",
                node,
                "compare values, then join conditions with and / or",
            )
            return None
        raise TypeError(node)

    def condition(self, node: Node) -> None:
        if isinstance(node, And | Or):
            for item in node.items:
                self.condition(item)
        elif isinstance(node, Not):
            self.condition(node.operand)
        elif isinstance(node, Compare):
            self.compare(node)
        elif isinstance(node, In):
            kind = self.value_type(node.operand)
            for value in node.values:  # the same bounds as any literal: ±2**53, finite
                self.value_type(value)
            if not isinstance(node.operand, Field):
                self.add(
                    "needs-field",
                    "the left side of in must be a field",
                    node.operand,
                    'e.g. status in ["active", "requested"]',
                )
            kinds = {_literal_type(v.value) for v in node.values}
            if len({("number" if k in NUMERIC else k) for k in kinds}) > 1:
                self.add(
                    "type-mismatch",
                    "the list mixes values of different types",
                    node,
                    "list values of one type: numbers, strings or true/false",
                )
            elif kind is not None and not _compatible(kind, next(iter(kinds))):
                self.add(
                    "type-mismatch",
                    f"{to_source(node.operand)} is {kind} but the list "
                    f"holds {next(iter(kinds))} values",
                    node,
                    "list values of the field's type",
                )
        elif isinstance(node, Exists):
            self.value_type(node.field)
        elif isinstance(node, Matches):
            kind = self.value_type(node.field)
            if kind is not None and kind != "string":
                self.add(
                    "type-mismatch",
                    f"matches() needs a text field; {node.field.name} is {kind}",
                    node.field,
                    "compare numbers and true/false with ==, <, …",
                )
            try:
                check_pattern(node.pattern)
            except PatternProblem as exc:
                self.problems.append(
                    ExprDiagnostic(
                        "bad-regex",
                        exc.message,
                        node.pattern_at + 1 + exc.offset,
                        1,
                        exc.help,
                    )
                )
        elif isinstance(node, Field):
            kind = self.value_type(node)
            if kind is not None and kind != "bool":
                self.add(
                    "type-mismatch",
                    f"{node.name} is {kind}, not true/false: compare it",
                    node,
                    f"e.g. {node.name} > 0",
                )
        elif not (isinstance(node, Literal) and isinstance(node.value, bool)):
            self.add(
                "not-a-condition",
                f"{to_source(node)} is a value, not a condition",
                node,
                "compare it, e.g. x > 0",
            )

    def compare(self, node: Compare) -> None:
        left, right = node.left, node.right
        for side in (left, right):
            if isinstance(side, CONDITIONS):
                self.add(
                    "type-mismatch",
                    "a condition cannot be compared",
                    side,
                    "use parentheses around values only",
                )
                return
        lt, rt = self.value_type(left), self.value_type(right)
        if lt is None or rt is None:
            return
        if not _compatible(lt, rt):
            self.add(
                "type-mismatch",
                f"cannot compare {lt} with {rt}: {to_source(node)}",
                node,
                "both sides must be numbers, both text, or both true/false",
            )
            return
        if node.op in ORDERING and lt not in NUMERIC:
            self.add(
                "type-mismatch",
                f"{node.op} needs numbers; {lt} values can only be compared with == or !=",
                node,
                "use == or != (or `in [...]`) for text and true/false",
            )
            return
        has_field = [any(isinstance(n, Field) for n in walk(side)) for side in (left, right)]
        if not any(has_field):
            self.add(
                "constant",
                f"{to_source(node)} reads no field: it is always the same",
                node,
                "compare a fact field with a value or a parameter",
            )
        elif not isinstance(left, Field) and not isinstance(right, Field):
            self.add(
                "needs-field",
                "one side of a comparison must be a plain field",
                node,
                "e.g. write roi_7d >= break_even_roi * 1.5, not roi_7d - 1 >= x",
            )


def _constant(node: Node, params: Mapping[str, Any]) -> float | None:
    """The value of a field-free arithmetic expression, or None when it reads a field."""
    if isinstance(node, Literal) and _is_number(node.value):
        return node.value
    if isinstance(node, Param) and _is_number(params.get(node.name)):
        return params[node.name]
    if isinstance(node, Neg):
        value = _constant(node.operand, params)
        return None if value is None else -float(value)
    if isinstance(node, BinOp):
        left, right = _constant(node.left, params), _constant(node.right, params)
        return None if left is None or right is None else arith(node.op, left, right)
    return None


def _compatible(a: str, b: str) -> bool:
    return (a in NUMERIC and b in NUMERIC) or a == b


def check(
    node: Node, field_types: Mapping[str, str], params: Mapping[str, Any]
) -> list[ExprDiagnostic]:
    """Every problem of a condition against the fact schema and the pack's parameters."""
    checker = _Checker(field_types, params)
    checker.condition(node)
    return checker.problems


# --------------------------------------------------------------------------------------------
# binding parameters, normal form


def bind(node: Node, params: Mapping[str, Any]) -> Node:
    """Substitute `params.X` with its value and fold constant arithmetic."""
    if isinstance(node, Param):
        return Literal(node.start, node.end, params[node.name])
    if isinstance(node, Neg):
        operand = bind(node.operand, params)
        if isinstance(operand, Literal) and _is_number(operand.value):
            return Literal(node.start, node.end, arith("*", operand.value, -1.0))
        return replace(node, operand=operand)
    if isinstance(node, BinOp):
        left, right = bind(node.left, params), bind(node.right, params)
        if (
            isinstance(left, Literal)
            and isinstance(right, Literal)
            and _is_number(left.value)
            and _is_number(right.value)
        ):
            return Literal(node.start, node.end, arith(node.op, left.value, right.value))
        # (both operands literal: folded with the same double semantics as the engine)
        return replace(node, left=left, right=right)
    if isinstance(node, Compare):
        return replace(node, left=bind(node.left, params), right=bind(node.right, params))
    if isinstance(node, Not):
        return replace(node, operand=bind(node.operand, params))
    if isinstance(node, And | Or):
        return replace(node, items=tuple(bind(i, params) for i in node.items))
    if isinstance(node, In):
        return replace(node, operand=bind(node.operand, params))
    return node


def push_not(node: Node, negate: bool = False) -> Node:
    """Normal form: `not` pushed onto the comparisons, bare fields made explicit."""
    if isinstance(node, Not):
        return push_not(node.operand, not negate)
    if isinstance(node, And | Or):
        items = tuple(push_not(i, negate) for i in node.items)
        flip = isinstance(node, And) == negate
        return (Or if flip else And)(node.start, node.end, items)
    if isinstance(node, Compare):
        return replace(node, op=NEGATE[node.op]) if negate else node
    if isinstance(node, In):
        return replace(node, negated=node.negated != negate)
    if isinstance(node, Exists | Matches):
        return replace(node, negated=node.negated != negate)
    if isinstance(node, Field):
        return Compare(node.start, node.end, "==", node, Literal(node.start, node.end, not negate))
    if isinstance(node, Truth):
        return push_not(node.field, negate)
    if isinstance(node, Literal) and isinstance(node.value, bool):
        return Literal(node.start, node.end, node.value != negate)
    raise TypeError(f"not a condition: {to_source(node)}")


# --------------------------------------------------------------------------------------------
# the plain-Python reading


def arith(op: str, a: Any, b: Any, *, promote: bool = True) -> Any:
    """+ - * / exactly as the compiled rules compute them: in doubles (IEEE 754), with the
    left operand float-promoted as `x + 0.0` (which also turns -0.0 into 0.0), and
    division by zero giving ±inf or nan as C does."""
    if a is None or b is None:
        return None
    a = float(a) + 0.0 if promote else float(a)
    b = float(b)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0.0:
        if a == 0.0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def _promotes(node: Node) -> bool:
    """Whether the compiler float-promotes this left operand (results of arithmetic are
    doubles already and are not)."""
    return not isinstance(node, BinOp | Neg)


def value_of(node: Node, fact: Mapping[str, Any]) -> Any:
    """A value exactly as the compiled rule computes it (`compiler._Compiler.operand`)."""
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Field):
        return fact.get(node.name)
    if isinstance(node, Neg):
        value = value_of(node.operand, fact)
        return arith("*", value, -1.0, promote=_promotes(node.operand))
    if isinstance(node, BinOp):
        return arith(
            node.op,
            value_of(node.left, fact),
            value_of(node.right, fact),
            promote=_promotes(node.left),
        )
    if isinstance(node, Param):
        raise ValueError(f"params.{node.name} is not bound")
    raise TypeError(node)


def promoted_value(node: Node, fact: Mapping[str, Any]) -> Any:
    """The left operand of arithmetic as a double, as `compiler._Compiler.promoted` emits
    it: a field read as `f + 0.0` (which also turns -0.0 into 0.0, as the engine does)."""
    if isinstance(node, Literal):
        return float(node.value)
    if isinstance(node, BinOp | Neg):
        return value_of(node, fact)
    value = value_of(node, fact)
    return None if value is None else float(value) + 0.0


def compare_values(op: str, a: Any, b: Any) -> bool:
    """A comparison as the engine decides it: a missing side is false (`!=` too); NaN
    (0/0) is unequal to everything and unordered, as in C."""
    if a is None or b is None:
        return False
    if (isinstance(a, float) and math.isnan(a)) or (isinstance(b, float) and math.isnan(b)):
        return op == "!="
    if op == "==":
        return a == b
    if op == "!=":
        return a != b
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    return a >= b


def _holds(node: Node, fact: Mapping[str, Any]) -> bool:
    if isinstance(node, And):
        return all(_holds(i, fact) for i in node.items)
    if isinstance(node, Or):
        return any(_holds(i, fact) for i in node.items)
    if isinstance(node, Compare):
        return compare_values(node.op, value_of(node.left, fact), value_of(node.right, fact))
    if isinstance(node, In):
        value = value_of(node.operand, fact)
        if value is None:
            return False
        if node.negated:
            return all(compare_values("!=", value, v.value) for v in node.values)
        return any(compare_values("==", value, v.value) for v in node.values)
    if isinstance(node, Exists):
        return (fact.get(node.field.name) is None) == node.negated
    if isinstance(node, Matches):
        value = fact.get(node.field.name)
        if not isinstance(value, str):
            return False
        return compile_pattern(node.pattern)(value) != node.negated
    if isinstance(node, Literal):
        return bool(node.value)
    raise TypeError(f"not in normal form: {to_source(node)}")


def evaluate(node: Node, fact: Mapping[str, Any]) -> bool:
    """The plain-Python reading of a bound condition on a flat fact (None = missing)."""
    return _holds(push_not(node), fact)


_COMPARE = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def predicate(node: Node) -> Callable[[Mapping[str, Any]], bool]:
    """`evaluate(node, ·)` worked out once: a closure per node of the normal form, so a
    fact costs a few calls instead of a walk of the tree (the plain-Python reading runs
    on it; the differential test holds it to the engine)."""
    return _predicate(push_not(node))


def _predicate(node: Node) -> Callable[[Mapping[str, Any]], bool]:
    if isinstance(node, And):
        parts = tuple(_predicate(item) for item in node.items)

        def all_of(fact):
            for part in parts:  # noqa: SIM110 — a loop: all() of a generator is slower
                if not part(fact):
                    return False
            return True

        return all_of
    if isinstance(node, Or):
        parts = tuple(_predicate(item) for item in node.items)

        def any_of(fact):
            for part in parts:  # noqa: SIM110 — a loop: any() of a generator is slower
                if part(fact):
                    return True
            return False

        return any_of
    if isinstance(node, Compare):
        op = node.op
        if isinstance(node.left, Field) and isinstance(node.right, Literal):
            name, literal, compare = node.left.name, node.right.value, _COMPARE[op]

            def field_against_literal(fact):
                value = fact.get(name)
                if value is None:
                    return False
                if value != value:  # NaN: unequal to everything and unordered, as in C
                    return op == "!="
                return compare(value, literal)

            return field_against_literal
        left, right = _value(node.left), _value(node.right)
        return lambda fact: compare_values(op, left(fact), right(fact))
    if isinstance(node, In):
        operand, values, negated = _value(node.operand), node.values, node.negated

        def member(fact):
            value = operand(fact)
            if value is None:
                return False
            if negated:
                return all(compare_values("!=", value, v.value) for v in values)
            return any(compare_values("==", value, v.value) for v in values)

        return member
    if isinstance(node, Exists):
        name, negated = node.field.name, node.negated
        return lambda fact: (fact.get(name) is None) == negated
    if isinstance(node, Matches):
        name, pattern, negated = node.field.name, compile_pattern(node.pattern), node.negated

        def match(fact):
            value = fact.get(name)
            if not isinstance(value, str):
                return False
            return pattern(value) != negated

        return match
    if isinstance(node, Literal):
        constant = bool(node.value)
        return lambda fact: constant
    raise TypeError(f"not in normal form: {to_source(node)}")


def _value(node: Node) -> Callable[[Mapping[str, Any]], Any]:
    """`value_of(node, ·)` worked out once."""
    if isinstance(node, Literal):
        constant = node.value
        return lambda fact: constant
    if isinstance(node, Field):
        name = node.name
        return lambda fact: fact.get(name)
    if isinstance(node, Neg):
        operand, promote = _value(node.operand), _promotes(node.operand)
        return lambda fact: arith("*", operand(fact), -1.0, promote=promote)
    if isinstance(node, BinOp):
        op, promote = node.op, _promotes(node.left)
        left, right = _value(node.left), _value(node.right)
        return lambda fact: arith(op, left(fact), right(fact), promote=promote)
    return lambda fact: value_of(node, fact)  # a Param: value_of says it is not bound


# --------------------------------------------------------------------------------------------
# explain


@dataclass
class ExplainNode:
    text: str
    result: bool
    values: dict[str, Any] = field(default_factory=dict)
    children: list[ExplainNode] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "result": self.result,
            "values": self.values,
            "children": [c.to_json() for c in self.children],
        }


def explain(node: Node, fact: Mapping[str, Any]) -> ExplainNode:
    """Each sub-condition with its source, the values it reads and its result."""
    values = {name: fact.get(name) for name in fields_read(node)}
    if isinstance(node, And | Or):
        children = [explain(item, fact) for item in node.items]
        return ExplainNode(to_source(node), evaluate(node, fact), {}, children)
    if isinstance(node, Not):
        inner = explain(node.operand, fact)
        return ExplainNode(to_source(node), evaluate(node, fact), {}, [inner])
    return ExplainNode(to_source(node), evaluate(node, fact), values)


def _known(node: Node, fact: Mapping[str, Any]) -> bool | None:
    """Three-valued reading: None when a missing value could still change the result."""
    if isinstance(node, And):
        results = [_known(i, fact) for i in node.items]
        if False in results:
            return False
        return None if None in results else True
    if isinstance(node, Or):
        results = [_known(i, fact) for i in node.items]
        if True in results:
            return True
        return None if None in results else False
    if isinstance(node, Exists | Literal):
        return _holds(node, fact)
    if any(fact.get(name) is None for name in fields_read(node)):
        return None
    return _holds(node, fact)


def decided(node: Node, fact: Mapping[str, Any]) -> bool | None:
    """True or False when the known values settle the condition; None when missing data
    leaves it open — what separates "did not fire" from "insufficient data"."""
    return _known(push_not(node), fact)


def still_possible(node: Node, unknown: frozenset[str]):
    """For a condition that did not hold on a fact missing exactly the `unknown` fields:
    whether a value for them could still make it hold (`decided` is None) — as True,
    False, or a test of the known values. Worked out once per set of missing fields:
    every test that reads an unknown field is taken as true, and the rest folded."""
    residual = _assume_true(push_not(node), unknown)
    if isinstance(residual, Literal):
        return bool(residual.value)
    return _predicate(residual)


def _assume_true(node: Node, unknown: frozenset[str]) -> Node:
    if isinstance(node, And | Or):
        neutral = isinstance(node, And)  # true is neutral in `and`, false in `or`
        items = []
        for item in node.items:
            folded = _assume_true(item, unknown)
            if isinstance(folded, Literal):
                if bool(folded.value) != neutral:
                    return Literal(value=not neutral)
                continue
            items.append(folded)
        if not items:
            return Literal(value=neutral)
        return items[0] if len(items) == 1 else type(node)(items=tuple(items))
    if isinstance(node, Exists | Literal):  # presence is known; so are constants
        return node
    if not unknown.isdisjoint(fields_read(node)):
        return Literal(value=True)
    return node
