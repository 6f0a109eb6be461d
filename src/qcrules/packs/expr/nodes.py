"""The expression language's syntax tree, its limits and its errors."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

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


__all__ = [
    "CONDITIONS",
    "FLIP",
    "INT64_MAX",
    "INT64_MIN",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "MAX_LIST",
    "NEGATE",
    "NUMERIC",
    "ORDERING",
    "VALUES",
    "And",
    "BinOp",
    "Compare",
    "Exists",
    "ExprDiagnostic",
    "ExprSyntaxError",
    "Field",
    "In",
    "Literal",
    "Matches",
    "Neg",
    "Node",
    "Not",
    "Or",
    "Param",
    "Truth",
    "arith",
    "number_problem",
]
