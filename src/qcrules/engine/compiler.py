"""Syntax tree → durable-rules JSON condition, following the field guide's compiler rules.

- `not` is pushed down first (`expr.push_not`), so both readers see the same normal form.
- Exactly one operator per object; and/or are explicit `$and`/`$or`; no `$in` and no
  array literals (`in` becomes an `$or` of `$eq`, `not in` an `$and` of `$neq`).
- A bare field is always on the left (comparisons are flipped when needed).
- Arithmetic is done in doubles (the left operand is float-promoted, `x + 0.0`): no int
  truncation, no 64-bit wrap-around, no SIGFPE on division by zero.
- Fact fields get engine names `f_<name>` with `.` → `__`, so no field can collide with the
  engine's own `id`, `sid` or the `__rec` anchor, and records stay flat.
- `matches()` is not given to the engine's `$mt`, whose matcher mis-handles patterns with
  repeated substrings: Python's `re` computes it and the engine tests the boolean.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qcrules.packs import expr

ANCHOR = "__rec"
_OPS = {"==": "$eq", "!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
_ARITH = {"+": "$add", "-": "$sub", "*": "$mul", "/": "$div"}


def engine_field(name: str) -> str:
    return "f_" + name.replace(".", "__")


@dataclass
class Derived:
    """A boolean the evaluator computes in Python before asserting the fact."""

    name: str
    source: str  # fact field
    pattern: str


@dataclass
class Compiled:
    condition: dict
    fields: list[str] = field(default_factory=list)  # fact fields the condition reads
    derived: list[Derived] = field(default_factory=list)


class _Compiler:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.derived: list[Derived] = []
        self.fields: dict[str, None] = {}

    def use(self, name: str) -> str:
        self.fields.setdefault(name)
        return engine_field(name)

    def operand(self, node: expr.Node):
        if isinstance(node, expr.Literal):
            return node.value
        if isinstance(node, expr.Field):
            return {"$m": self.use(node.name)}
        if isinstance(node, expr.Neg):
            return {"$mul": {"$l": self.promoted(node.operand), "$r": -1.0}}
        if isinstance(node, expr.BinOp):
            return {
                _ARITH[node.op]: {"$l": self.promoted(node.left), "$r": self.operand(node.right)}
            }
        raise TypeError(f"not a value: {expr.to_source(node)}")

    def promoted(self, node: expr.Node):
        """The left operand of arithmetic, as a double: the engine's integer arithmetic
        truncates, wraps at 64 bits and dies on division by zero (gotchas 6 and 8)."""
        if isinstance(node, expr.Literal):
            return float(node.value) + 0.0  # a literal is written as a float (-0.0 as 0.0)
        if isinstance(node, expr.BinOp | expr.Neg):
            return self.operand(node)  # already a double
        return {"$add": {"$l": self.operand(node), "$r": 0.0}}

    def condition(self, node: expr.Node) -> dict:
        if isinstance(node, expr.And):
            return {"$and": [self.condition(i) for i in node.items]}
        if isinstance(node, expr.Or):
            return {"$or": [self.condition(i) for i in node.items]}
        if isinstance(node, expr.Compare):
            op, left, right = node.op, node.left, node.right
            if not isinstance(left, expr.Field):
                if not isinstance(right, expr.Field):
                    raise ValueError(
                        f"{expr.to_source(node)}: one side of a comparison must be a plain field"
                    )
                op, left, right = expr.FLIP[op], right, left
            test = {_OPS[op]: {self.use(left.name): self.operand(right)}}
            # a missing field inside the operand does not always make the engine's test
            # false (0 <= missing matched): require every such field explicitly
            guards = [{"$ex": {self.use(name): 1}} for name in expr.fields_read(right)]
            return {"$and": [*guards, test]} if guards else test
        if isinstance(node, expr.In):
            name = self.use(node.operand.name)
            if node.negated:
                return {"$and": [{"$neq": {name: v.value}} for v in node.values]}
            return {"$or": [{"$eq": {name: v.value}} for v in node.values]}
        if isinstance(node, expr.Exists):
            return {"$nex" if node.negated else "$ex": {self.use(node.field.name): 1}}
        if isinstance(node, expr.Matches):
            self.fields.setdefault(node.field.name)
            name = f"d_{self.prefix}_{len(self.derived)}"
            self.derived.append(Derived(name, node.field.name, node.pattern))
            return {"$eq": {name: not node.negated}}
        if isinstance(node, expr.Literal) and isinstance(node.value, bool):
            return {"$ex" if node.value else "$nex": {ANCHOR: 1}}
        raise TypeError(f"not a condition: {expr.to_source(node)}")


def flatten(condition: dict) -> dict:
    """Merge nested `$and` in `$and` (and `$or` in `$or`): the engine refuses deep nesting
    of the same operator (error 113) although the meaning is unchanged."""
    for op in ("$and", "$or"):
        if op in condition:
            items: list[dict] = []
            for item in condition[op]:
                item = flatten(item)
                items.extend(item.get(op, [item]))
            return {op: items}
    return condition


def compile_condition(node: expr.Node, prefix: str = "0") -> Compiled:
    """Compile a bound condition (parameters substituted) for the engine."""
    compiler = _Compiler(prefix)
    # fold constant arithmetic first: the engine mis-evaluates literal-only operands
    condition = compiler.condition(expr.push_not(expr.bind(node, {})))
    return Compiled(flatten(condition), list(compiler.fields), compiler.derived)


def anchored(condition: dict) -> dict:
    """Every rule also tests the record anchor, so the engine's per-sid state fact can never
    match a rule (field guide gotcha 7: such rules loop forever)."""
    return flatten({"$and": [{"$ex": {ANCHOR: 1}}, condition]})
