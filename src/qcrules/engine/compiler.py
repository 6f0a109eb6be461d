"""Syntax tree → durable-rules JSON condition, following the field guide's compiler rules.

- `not` is pushed down first (`expr.push_not`), so both readers see the same normal form.
- Exactly one operator per object; and/or are explicit `$and`/`$or`; no `$in` and no
  array literals (`in` becomes an `$or` of `$eq`, `not in` an `$and` of `$neq`).
- A bare field is always on the left (comparisons are flipped when needed).
- Arithmetic is done in doubles (the left operand is float-promoted, `x + 0.0`): no int
  truncation, no 64-bit wrap-around, no SIGFPE on division by zero.
- Fact fields get engine names `f_<name>` with `.` → `__`, so no field can collide with the
  engine's own `id`, `sid` or the `__rec` anchor, and records stay flat. An evaluator may
  pass an alias table instead (`a0`, `a1`, …): half the bytes for the C core to parse.
- `matches()` is not given to the engine's `$mt`, whose matcher mis-handles patterns with
  repeated substrings: Python's `re` computes it and the engine tests the boolean.
  (Measured: `.*bb` misses "bbbb", `.*达达` misses "达达达达", `[^a]` mixed with `*`
  misses or refuses to compile (error 507), `b+b+b+` overflows its state table (503).)
- The C core walks its alpha network with a fixed stack of 64 nodes
  (`MAX_STACK_SIZE`): a fact whose matching tests push more siblings than that at
  once is refused with error 303 (and the half-built state later crashed
  `delete_state`). `stack_need` bounds that depth for a set of rules from the
  network the engine builds; the evaluator splits rules over several rulesets so
  each stays within `STACK_BUDGET`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
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
    def __init__(self, prefix: str, aliases: dict[str, str] | None = None) -> None:
        self.prefix = prefix
        self.aliases = aliases
        self.derived: list[Derived] = []
        self.fields: dict[str, None] = {}

    def use(self, name: str) -> str:
        self.fields.setdefault(name)
        if self.aliases is None:
            return engine_field(name)
        alias = self.aliases.get(name)
        if alias is None:
            alias = self.aliases[name] = f"a{len(self.aliases)}"
        return alias

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
    """Merge nested `$and` in `$and` (and `$or` in `$or`), drop repeated items and unwrap
    one-item groups: the engine takes at most `MAX_GROUPS` and/or objects per rule
    (error 113 beyond), and none of this changes which facts match."""
    for op in ("$and", "$or"):
        if op in condition:
            items: dict[str, dict] = {}
            for item in condition[op]:
                item = flatten(item)
                for part in item.get(op, [item]):
                    items.setdefault(json.dumps(part, sort_keys=True), part)
            if len(items) == 1:
                return next(iter(items.values()))
            return {op: list(items.values())}
    return condition


MAX_GROUPS = 15  # `$and`/`$or` objects per rule: the 16th gives error 113 (32 sequence slots)


def groups(condition: dict) -> int:
    """How many `$and`/`$or` objects a compiled condition holds."""
    count = 0
    for op, body in condition.items():
        if op in ("$and", "$or"):
            count += 1 + sum(groups(item) for item in body)
    return count


def limit_problems(node: expr.Node) -> list[str]:
    """What in a bound condition durable-rules cannot take, as sentences (empty if fine);
    for pack validation, so such a rule is refused before any evaluation."""
    condition = anchored(compile_condition(node).condition)
    problems = []
    if groups(condition) > MAX_GROUPS:
        problems.append(
            f"the condition needs {groups(condition)} and/or groups once compiled; "
            f"durable-rules takes at most {MAX_GROUPS}: split the rule or simplify it"
        )
    need = stack_need([condition, SENTINEL_CONDITION])
    if need > STACK_BUDGET:
        problems.append(
            f"one fact could make durable-rules hold {need} tests at once "
            f"(at most {STACK_BUDGET}): use fewer alternatives (`or`, `in` lists)"
        )
    return problems


def compile_condition(
    node: expr.Node, prefix: str = "0", aliases: dict[str, str] | None = None
) -> Compiled:
    """Compile a bound condition (parameters substituted) for the engine.

    `aliases` (fact field → engine name), shared by every condition of one evaluator, is
    filled with short names as fields are met; without it fields are named `f_<name>`."""
    compiler = _Compiler(prefix, aliases)
    # fold constant arithmetic first: the engine mis-evaluates literal-only operands
    condition = compiler.condition(expr.push_not(expr.bind(node, {})))
    return Compiled(flatten(condition), list(compiler.fields), compiler.derived)


def anchored(condition: dict) -> dict:
    """Every rule also tests the record anchor, so the engine's per-sid state fact can never
    match a rule (field guide gotcha 7: such rules loop forever)."""
    return flatten({"$and": [{"$ex": {ANCHOR: 1}}, condition]})


# --------------------------------------------------------------------------------------------
# the engine's alpha-node stack

STACK_LIMIT = 64  # rete.c handleAlpha: `alpha *stack[MAX_STACK_SIZE]`; the 65th push → 303
STACK_BUDGET = 60  # what a ruleset may need at worst; the rest is margin
# the fact every ruleset starts its sid state with (see evaluator._Ruleset.init_state)
SENTINEL_CONDITION = {"$and": [{"$ex": {ANCHOR: 1}}, {"$ex": {"q_init": 1}}]}


class _Alpha:
    """One alpha node as rete.c builds it: children tested by property hash, and a
    list of nodes pushed unconditionally (`$nex` tests and the forward nodes of `$or`)."""

    __slots__ = ("key", "pushed", "tested")

    def __init__(self, key: tuple | None) -> None:
        self.key = key
        self.tested: list[_Alpha] = []
        self.pushed: list[_Alpha] = []


def _share_key(op: str, name: str, value) -> tuple | None:
    """When rete.c's findAlpha reuses an existing node: same property, operator and a
    literal of the same JSON type and value. References (`$m`), arithmetic and regexes
    are never shared."""
    if op in ("$mt", "$imt") or isinstance(value, dict) or value is None:
        return None
    if isinstance(value, bool):
        return (op, name, "b", value)
    if isinstance(value, int):
        return (op, name, "i", value)
    if isinstance(value, float):
        return (op, name, "d", value)
    if isinstance(value, str):
        return (op, name, "s", json.dumps(value, ensure_ascii=False))
    return None


def _build(condition: dict, parent: _Alpha) -> _Alpha:
    """Add one condition below `parent` the way rete.c's createAlpha does; returns the
    node the next test of an enclosing `$and` hangs from."""
    ((op, body),) = condition.items()
    if op == "$and":
        node = parent
        for item in body:
            node = _build(item, node)
        return node
    if op == "$or":
        forward = _Alpha(None)  # createForwardAlpha: a fresh `$nex` node per `$or`
        for item in body:
            _build(item, parent).pushed.append(forward)
        return forward
    ((name, value),) = body.items()
    key = _share_key(op, name, value)
    if key is not None:
        for child in (*parent.tested, *parent.pushed):
            if child.key == key:
                return child
    node = _Alpha(key)
    (parent.pushed if op == "$nex" else parent.tested).append(node)
    return node


def _need(root: _Alpha) -> int:
    """handleAlpha pops a node, then pushes each child that matches; so processing a
    node with k children needs at most max(k, k - 1 + the deepest child)."""
    memo: dict[int, int] = {}

    def need(node: _Alpha) -> int:
        cached = memo.get(id(node))
        if cached is not None:
            return cached
        children = (*node.tested, *node.pushed)
        result = 0
        if children:
            result = max(len(children), len(children) - 1 + max(need(c) for c in children))
        memo[id(node)] = result
        return result

    return max(1, need(root))


def stack_need(conditions: Iterable[dict]) -> int:
    """Worst-case number of alpha nodes on the engine's stack for one fact, over every
    fact and every order, for rules whose (anchored) conditions are `conditions`."""
    root = _Alpha(None)
    for condition in conditions:
        _build(condition, root)
    return _need(root)


def partition(
    rules: dict[str, dict], fixed: Iterable[dict] = (), budget: int = STACK_BUDGET
) -> list[list[str]]:
    """Split anchored rules (in order) into groups whose `stack_need`, together with the
    `fixed` conditions every group carries (the state sentinel), stays within `budget`.
    Raises ValueError naming a rule that exceeds the budget on its own."""
    fixed = list(fixed)

    def fresh() -> _Alpha:
        root = _Alpha(None)
        for condition in fixed:
            _build(condition, root)
        return root

    groups: list[list[str]] = []
    current: list[str] = []
    root = fresh()
    for name, condition in rules.items():
        _build(condition, root)  # adding only adds nodes: the need can only grow
        if _need(root) <= budget:
            current.append(name)
            continue
        root = fresh()
        _build(condition, root)
        if _need(root) > budget:
            raise ValueError(
                f"rule {name} is too complex for durable-rules: one fact could push "
                f"{_need(root)} tests at once (at most {budget})"
            )
        if current:
            groups.append(current)
        current = [name]
    if current:
        groups.append(current)
    return groups
