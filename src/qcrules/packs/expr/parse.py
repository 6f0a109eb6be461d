"""Reading a condition: tokens, the recursive-descent parser, and the tree back to text."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from qcrules.i18n import did_you_mean
from qcrules.packs.expr.nodes import (
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_LIST,
    NEGATE,
    And,
    BinOp,
    Compare,
    Exists,
    ExprSyntaxError,
    Field,
    In,
    Literal,
    Matches,
    Neg,
    Node,
    Not,
    Or,
    Param,
    Truth,
)

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
            raise ExprSyntaxError(
                f"unknown function {name.text!r}",
                name.start,
                len(name.text),
                did_you_mean(name.text, ["exists", "matches"], lead="")
                or 'functions: exists(field), matches(field, "regex")',
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


__all__ = [
    "KEYWORDS",
    "_ESCAPES",
    "_TOKEN",
    "Token",
    "_Parser",
    "_paren",
    "_unescape",
    "fields_read",
    "missing_fields",
    "params_read",
    "parse",
    "to_source",
    "tokenize",
    "walk",
]
