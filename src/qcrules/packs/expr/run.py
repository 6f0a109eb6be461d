"""Running a condition in plain Python: parameters bound, `not` pushed down, values compared
with missing values false (the engine's own semantics), and the explanation of a verdict."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from qcrules.packs.expr.check import (
    _is_number,
)
from qcrules.packs.expr.nodes import (
    NEGATE,
    And,
    BinOp,
    Compare,
    Exists,
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
    arith,
)
from qcrules.packs.expr.parse import (
    fields_read,
    to_source,
)
from qcrules.packs.patterns import compile_pattern

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


__all__ = [
    "_COMPARE",
    "ExplainNode",
    "_assume_true",
    "_holds",
    "_known",
    "_predicate",
    "_promotes",
    "_value",
    "bind",
    "compare_values",
    "decided",
    "evaluate",
    "explain",
    "predicate",
    "promoted_value",
    "push_not",
    "still_possible",
    "value_of",
]
