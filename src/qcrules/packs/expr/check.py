"""Type-checking a condition against the fact schema and the pack's parameters: every problem
at once, with did-you-mean, before any rule runs."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from qcrules.i18n import did_you_mean
from qcrules.packs.expr.nodes import (
    CONDITIONS,
    INT64_MAX,
    INT64_MIN,
    NUMERIC,
    ORDERING,
    And,
    BinOp,
    Compare,
    Exists,
    ExprDiagnostic,
    Field,
    In,
    Literal,
    Matches,
    Neg,
    Node,
    Not,
    Or,
    Param,
    arith,
)
from qcrules.packs.expr.parse import (
    to_source,
    walk,
)
from qcrules.packs.patterns import PatternProblem, check_pattern

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
                self.add(
                    "unknown-field",
                    f"unknown field {node.name!r}",
                    node,
                    did_you_mean(node.name, self.field_types, lead="")
                    or "see `qcrules packs fields` for the fields of this entity",
                )
            return kind
        if isinstance(node, Param):
            if node.name not in self.params:
                self.add(
                    "unknown-param",
                    f"unknown parameter {node.name!r}",
                    node,
                    did_you_mean(node.name, self.params, form="params.{}", lead="")
                    or "declare it under [params]",
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


__all__ = [
    "_Checker",
    "_compatible",
    "_constant",
    "_is_number",
    "_literal_type",
    "check",
]
