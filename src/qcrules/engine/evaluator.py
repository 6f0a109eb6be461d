"""Evaluators: durable-rules' C core driven directly, and the plain-Python reading.

`RuleEvaluator` follows the field guide's recommended pattern (§ 8): no `Host`, no threads;
one record resident at a time under a constant id and sid (no hash collisions, no sid
limit, no growth); facts, not events, so every matching rule fires; the agenda drained
synchronously on the calling thread; a set per record (an `$or` may fire a rule twice).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from qcrules.engine.compiler import ANCHOR, anchored, compile_condition, engine_field
from qcrules.packs import expr
from qcrules.packs.expr import INT64_MAX, INT64_MIN  # ±2**53: exact in both readings

_names = itertools.count(1)
_RESIDENT = '{"id":"cur","sid":"eval"}'


class EngineError(Exception):
    """The engine could not take a record or a ruleset; never a silent drop."""


def _float(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError(f"{value!r} cannot be given to the engine (not a finite number)")
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        if "." not in mantissa:
            mantissa += ".0"  # the C parser rejects 1e-05 but takes 1.0e-05 (gotcha 4)
        text = f"{mantissa}e{exponent}"
    return text


def dumps_safe(value: Any) -> str:
    """JSON the engine parses exactly: safe floats, int64 only, UTF-8 text."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise ValueError(f"{value} is beyond ±2**53 and cannot be compared exactly")
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        return (
            "{"
            + ",".join(
                f"{json.dumps(str(k), ensure_ascii=False)}:{dumps_safe(v)}"
                for k, v in value.items()
            )
            + "}"
        )
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps_safe(v) for v in value) + "]"
    raise ValueError(f"{type(value).__name__} values cannot be given to the engine")


def _safe_rule_name(index: int, key: str) -> str:
    return f"r{index}_" + re.sub(r"[^A-Za-z0-9_.-]", "_", key)[:60]


class _Prepared:
    """Conditions compiled once, plus how to turn a flat fact into an engine record."""

    def __init__(self, conditions: Mapping[str, expr.Node]) -> None:
        self.keys: dict[str, str] = {}
        self.rules: dict[str, dict] = {}
        self.fields: dict[str, str] = {}
        self.derived: list = []
        for index, (key, node) in enumerate(conditions.items()):
            compiled = compile_condition(node, prefix=str(index))
            name = _safe_rule_name(index, key)
            self.keys[name] = key
            self.rules[name] = anchored(compiled.condition)
            for fname in compiled.fields:
                self.fields[fname] = engine_field(fname)
            self.derived += [(d.name, d.source, re.compile(d.pattern)) for d in compiled.derived]
        self.field_items = list(self.fields.items())

    def record(self, fact: Mapping[str, Any], fact_id: str = "cur") -> str:
        """The engine record of a fact: only the fields the rules read, checked and typed.

        json.dumps does the writing at C speed; the rare text with an exponent float
        (1e-05, which the engine's parser rejects) is rewritten by `dumps_safe`."""
        get = fact.get
        data: dict[str, Any] = {"id": fact_id, "sid": "eval", ANCHOR: 1}
        data.update(
            (engine_name, value)
            for name, engine_name in self.field_items
            if (value := get(name)) is not None
        )
        for name, value in data.items():
            kind = type(value)
            if kind is int:
                if not INT64_MIN <= value <= INT64_MAX:
                    raise EngineError(f"{name[2:]}: {value} is beyond ±2**53")
            elif kind is float:
                if value != value or value in (math.inf, -math.inf):
                    raise EngineError(f"{name[2:]} is {value!r}; facts must be finite numbers")
            elif kind is not str and kind is not bool:
                raise EngineError(f"{name[2:]}: {kind.__name__} values cannot be evaluated")
        for name, source, pattern in self.derived:
            value = fact.get(source)
            if isinstance(value, str):
                data[name] = pattern.fullmatch(value) is not None
        text = json.dumps(data, ensure_ascii=False)
        if "e-" in text or "e+" in text:
            text = dumps_safe(data)
        return text


class RuleEvaluator:
    """Every matching rule for one fact at a time, exactly once, through the C core."""

    engine = "durable-rules"

    def __init__(self, conditions: Mapping[str, expr.Node], name: str = "qcrules") -> None:
        import durable_rules_engine as core

        self._core = core
        self._prepared = _Prepared(conditions)
        rules = {rule: {"all": [{"m": cond}]} for rule, cond in self._prepared.rules.items()}
        rules["__init__"] = {
            "all": [{"m": {"$and": [{"$ex": {ANCHOR: 1}}, {"$ex": {"q_init": 1}}]}}]
        }
        # run-scoped: many evaluators in one process never share a ruleset name
        self.name = f"{re.sub(r'[^A-Za-z0-9_]', '_', name)}_{next(_names)}"
        try:
            self._handle = core.create_ruleset(self.name, dumps_safe(rules))
        except Exception as exc:  # registration errors carry only a code
            raise EngineError(f"durable-rules refused the ruleset {self.name}: {exc}") from exc
        self._state_ready = False
        self._closed = False

    def _init_state(self) -> None:
        """Create the sid's state with a sentinel fact, so every real fact meets the same state."""
        sentinel = '{"id":"init","sid":"eval","__rec":1,"q_init":1}'
        result = self._core.assert_fact(self._handle, sentinel)
        if result[0] == 0:
            self._drain(result[1])
        self._core.retract_fact(self._handle, sentinel)
        self._state_ready = True

    def _drain(self, state_handle) -> set[str]:
        fired: set[str] = set()
        entry = self._core.start_action_for_state(self._handle, state_handle)
        payload = entry[1] if entry else None
        while payload:
            fired.update(json.loads(payload).keys())
            payload = self._core.complete_and_start_action(self._handle, state_handle)
        return fired

    def evaluate(self, fact: Mapping[str, Any]) -> frozenset[str]:
        if self._closed:
            raise EngineError("this evaluator is closed")
        if not self._state_ready:
            self._init_state()
        record = self._prepared.record(fact)
        try:
            result = self._core.assert_fact(self._handle, record)
        except Exception as exc:
            raise EngineError(f"durable-rules could not take the fact: {exc}") from exc
        code, state_handle = result[0], result[1]
        if code == 1:  # no rule matched; nothing was stored
            return frozenset()
        if code != 0:
            raise EngineError(f"durable-rules returned code {code} for a fact")
        try:
            fired = self._drain(state_handle)
        except Exception as exc:
            self._reset()
            raise EngineError(f"durable-rules failed while running the agenda: {exc}") from exc
        finally:
            try:
                # the id alone identifies the resident fact: no second parse of the record
                self._core.retract_fact(self._handle, _RESIDENT)
            except Exception:  # the state may already be gone after a reset
                self._reset()
        fired.discard("__init__")
        return frozenset(self._prepared.keys[name] for name in fired)

    def evaluate_many(self, facts: list[Mapping[str, Any]]) -> list[frozenset[str]]:
        """Match sets for a batch, asserted in one call and drained together.

        Each fact of the batch is resident under its own id (its position) and every
        agenda entry names the fact it matched, so nothing is attributed to the wrong
        fact; the batch is retracted by id afterwards. If the engine refuses the batch
        (e.g. two ids colliding on its 32-bit hash), the batch is evaluated fact by fact."""
        if self._closed:
            raise EngineError("this evaluator is closed")
        if not facts:
            return []
        if not self._state_ready:
            self._init_state()
        records = [self._prepared.record(fact, str(i)) for i, fact in enumerate(facts)]
        ids = "[" + ",".join(f'{{"id":"{i}","sid":"eval"}}' for i in range(len(facts))) + "]"
        try:
            result = self._core.assert_facts(self._handle, "[" + ",".join(records) + "]")
        except Exception:
            self._reset()
            return [self.evaluate(fact) for fact in facts]
        code, state_handle = result[0], result[1]
        sets: list[set[str]] = [set() for _ in facts]
        try:
            if code not in (0, 1):
                raise EngineError(f"durable-rules returned code {code} for a batch")
            entry = self._core.start_action_for_state(self._handle, state_handle)
            payload = entry[1] if entry else None
            while payload:
                for rule, frame in json.loads(payload).items():
                    if rule != "__init__":
                        sets[int(frame["m"]["id"])].add(self._prepared.keys[rule])
                payload = self._core.complete_and_start_action(self._handle, state_handle)
            self._core.retract_facts(self._handle, ids)
        except Exception:
            self._reset()
            return [self.evaluate(fact) for fact in facts]
        return [frozenset(found) for found in sets]

    def _reset(self) -> None:
        with contextlib.suppress(Exception):
            self._core.delete_state(self._handle, "eval")
        self._state_ready = False

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self._core.delete_state(self._handle, "eval")
        self._core.delete_ruleset(self._handle)

    def __enter__(self) -> RuleEvaluator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class PythonEvaluator:
    """The plain-Python reading of the same syntax trees (used where durable-rules cannot
    load, and as the reference the engine is checked against)."""

    engine = "python"

    def __init__(self, conditions: Mapping[str, expr.Node], name: str = "qcrules") -> None:
        self.name = name
        # the same constant folding as the compiler, so both read the same tree
        self._conditions = {
            key: expr.push_not(expr.bind(node, {})) for key, node in conditions.items()
        }
        self._prepared = _Prepared(conditions)  # the same record checks as the engine

    def evaluate(self, fact: Mapping[str, Any]) -> frozenset[str]:
        self._prepared.record(fact)
        return frozenset(key for key, node in self._conditions.items() if expr._holds(node, fact))

    def evaluate_many(self, facts: list[Mapping[str, Any]]) -> list[frozenset[str]]:
        return [self.evaluate(fact) for fact in facts]

    def close(self) -> None:
        pass

    def __enter__(self) -> PythonEvaluator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
