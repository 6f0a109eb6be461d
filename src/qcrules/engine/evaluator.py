"""Evaluators: durable-rules' C core driven directly, and the plain-Python reading.

`RuleEvaluator` follows the field guide's recommended pattern (§ 8): no `Host`, no threads;
one record resident at a time under a constant id and sid (no hash collisions, no sid
limit, no growth); facts, not events, so every matching rule fires; the agenda drained
synchronously on the calling thread; a set per record (an `$or` may fire a rule twice).

Measured limits of the C core that it also guards against:

- error 303: the alpha network is walked with a 64-node stack, so rules are split over
  several rulesets whose worst case stays within `compiler.STACK_BUDGET`;
- error 113: at most 15 `$and`/`$or` groups per rule — refused up front, naming the rule;
- `delete_state` of a sid that never had a matching fact frees uninitialised memory
  (segfault): each ruleset's state is created by a sentinel fact that always matches;
- string values are measured in 16 bits (a 65,536-byte string compares as its first
  bytes): longer strings are refused;
- `$mt` is never used (see `compiler`), integers stay within ±2**53 (exact in a double).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import operator
import re
from collections.abc import Mapping
from typing import Any

from qcrules.engine.compiler import (
    ANCHOR,
    MAX_GROUPS,
    SENTINEL_CONDITION,
    STACK_BUDGET,
    anchored,
    compile_condition,
    engine_field,
    groups,
    partition,
)
from qcrules.errors import QcrulesError
from qcrules.packs import expr
from qcrules.packs.expr import INT64_MAX, INT64_MIN  # ±2**53: exact in both readings
from qcrules.packs.patterns import compile_pattern

_names = itertools.count(1)

MAX_RULES_PER_RULESET = 200  # a node's beta list holds 256 rules (error 108)
MAX_STRING_BYTES = 65_535  # the C core keeps value lengths in an unsigned short
MAX_AGENDA = 1_000_000  # fires per fact before we call it a runaway
SENTINEL_RULE = "__init__"
SENTINEL = f'{{"id":"init","sid":"eval","{ANCHOR}":1,"q_init":1}}'


class EngineError(QcrulesError):
    """The engine could not take a record or a ruleset; never a silent drop.

    A user-facing error (exit 2, no traceback): most often a fact field a plugin computes
    returned a value no rule can compare (NaN, ±inf, an object). `position` is the index of
    the offending fact in the batch, so the caller can name the entity."""

    def __init__(self, message: str, *, hint: str | None = None, position: int | None = None):
        super().__init__(message, hint=hint)
        self.position = position


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


def _string(value: str) -> str:
    text = json.dumps(value, ensure_ascii=False)
    try:
        size = len(text.encode("utf-8")) - 2
    except UnicodeEncodeError as exc:  # a lone surrogate cannot reach the C core
        raise ValueError(f"text {value[:20]!r}… is not valid Unicode: {exc.reason}") from None
    if size > MAX_STRING_BYTES:
        raise ValueError(
            f"a text of {size:,} bytes is longer than the engine's {MAX_STRING_BYTES:,}-byte limit"
        )
    return text


def dumps_safe(value: Any) -> str:
    """JSON the engine parses exactly: safe floats, ints within ±2**53, UTF-8 text that
    fits its 16-bit lengths. Raises ValueError for anything else (NaN, ±inf, …)."""
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
        return _string(value)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{_string(str(k))}:{dumps_safe(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps_safe(v) for v in value) + "]"
    raise ValueError(f"{type(value).__name__} values cannot be given to the engine")


def to_engine_record(fact: Mapping[str, Any], fields: list[str] | None = None) -> dict[str, Any]:
    """The record the engine sees for a flat fact: engine field names (`f_…`, so no field
    can be `id`, `sid` or the anchor), missing (None) values dropped, the anchor added.
    `fields` limits it to the fields the rules read."""
    names = fact.keys() if fields is None else fields
    record: dict[str, Any] = {"id": "cur", "sid": "eval", ANCHOR: 1}
    for name in names:
        value = fact.get(name)
        if value is not None:
            record[engine_field(name)] = value
    return record


def _safe_rule_name(index: int, key: str) -> str:
    return f"r{index}_" + re.sub(r"[^A-Za-z0-9_.-]", "_", key)[:60]


_ENCODE = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, separators=(",", ":"), check_circular=False
).encode
_BIG_INT = re.compile(r":-?[0-9]{16}")  # an integer that may be beyond ±2**53
_LONG_RUN = re.compile(r'"[^"]{16384}')  # a text that may be beyond 64 KiB
_EXPONENT = re.compile(r"[0-9]e[-+][0-9]")  # 1e-05, 1.5e+16 (not "Jane-Doe")


def _unsure(text: str, count: int) -> bool:
    """Whether the fast text of a batch of `count` records holds anything it cannot vouch
    for: an escape (a quote or control character inside a text, whose length the run
    test below would misjudge), an exponent float (the C parser rejects 1e-05), a nested
    value, a long integer or a long text. A hit, even a harmless one inside a text value,
    only sends the batch through the checked record-by-record path."""
    return (
        "\\" in text
        or (("e-" in text or "e+" in text) and _EXPONENT.search(text) is not None)
        or text.count("{") != count
        or text.count("[") != 1
        or _BIG_INT.search(text) is not None
        or _LONG_RUN.search(text) is not None
    )


def _definition_text(definition: dict) -> str:
    """A ruleset's JSON: written at C speed, and again by `dumps_safe` (which also refuses
    what the engine would get wrong) when the fast text holds anything unusual."""
    try:
        text = json.dumps(definition, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError):
        return dumps_safe(definition)
    if (
        "\\" in text
        or "e-" in text
        or "e+" in text
        or _LONG_INT.search(text) is not None
        or _LONG_RUN.search(text) is not None
    ):
        return dumps_safe(definition)
    return text


_LONG_INT = re.compile(r"[:,\[]-?[0-9]{16}")  # also inside a list literal


_IDS = tuple(str(i) for i in range(1024))  # immutable: evaluators in threads share it


def _batch_ids(count: int) -> tuple[str, ...]:
    """The ids of a batch's records: their positions, as the strings the agenda gives back."""
    return _IDS if count <= len(_IDS) else tuple(str(i) for i in range(count))


def _row_getter(names: tuple[str, ...]):
    if not names:
        return lambda fact: ()
    if len(names) == 1:
        only = names[0]
        return lambda fact: (fact[only],)
    return operator.itemgetter(*names)


class _Prepared:
    """Conditions compiled once, plus how to turn flat facts into engine records."""

    def __init__(self, conditions: Mapping[str, expr.Node]) -> None:
        self.keys: dict[str, str] = {}
        self.rules: dict[str, dict] = {}
        self.aliases: dict[str, str] = {}  # fact field -> short engine name, shared
        self.derived: list = []
        for index, (key, node) in enumerate(conditions.items()):
            compiled = compile_condition(node, prefix=str(index), aliases=self.aliases)
            name = _safe_rule_name(index, key)
            self.keys[name] = key
            self.rules[name] = anchored(compiled.condition)
            self.derived += [
                (d.name, d.source, compile_pattern(d.pattern)) for d in compiled.derived
            ]
        self.sources = tuple(self.aliases)
        self.field_items = list(self.aliases.items())
        self.field_of = {engine: name for name, engine in self.aliases.items()}
        self.batch_keys = ("id", "sid", ANCHOR, *self.aliases.values())
        self.width = len(self.batch_keys) + len(self.derived)  # a record with nothing missing
        self._row = _row_getter(self.sources)

    def record(self, fact: Mapping[str, Any], fact_id: str = "cur") -> str:
        """The engine record of one fact: only the fields the rules read, every value checked.

        json.dumps does the writing at C speed; the rare text with an exponent float
        (1e-05, which the engine's parser rejects) is rewritten by `dumps_safe`."""
        get = fact.get
        data: dict[str, Any] = {"id": fact_id, "sid": "eval", ANCHOR: 1}
        data.update(
            (engine_name, value)
            for name, engine_name in self.field_items
            if (value := get(name)) is not None
        )
        for name, value in data.items():  # subclasses too (IntEnum, numpy.float64), as JSON
            if isinstance(value, bool):
                continue
            if isinstance(value, int):
                if not INT64_MIN <= value <= INT64_MAX:
                    raise EngineError(
                        f"field {self.field_of[name]}: {value} is beyond ±2**53 "
                        "and cannot be compared exactly"
                    )
            elif isinstance(value, float):
                if value != value:
                    raise EngineError(
                        f"field {self.field_of[name]} is NaN; facts must be finite numbers"
                    )
                if value in (math.inf, -math.inf):
                    raise EngineError(
                        f"field {self.field_of[name]}: {value!r} cannot be given "
                        "to the engine (not a finite number)"
                    )
            elif isinstance(value, str):
                if len(value) > 8000 or not value.isascii():
                    try:
                        _string(value)  # valid Unicode, within the engine's 64 KiB
                    except ValueError as exc:
                        raise EngineError(f"field {self.field_of.get(name, name)}: {exc}") from exc
            else:
                raise EngineError(
                    f"field {self.field_of.get(name, name)}: {type(value).__name__} "
                    "values cannot be evaluated"
                )
        for name, source, pattern in self.derived:
            value = fact.get(source)
            if isinstance(value, str):
                data[name] = pattern(value)
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        if "e-" in text or "e+" in text:
            text = dumps_safe(data)
        return text

    def batch(self, facts: list[Mapping[str, Any]]) -> tuple[str, list[bool]]:
        """The JSON array of a batch's records (ids are positions), and for each fact
        whether every field the conditions read has a value.

        One C-speed encode for the whole batch; whatever that text cannot vouch for
        (`_unsure`) is written again record by record, with every value checked."""
        ids = _batch_ids(len(facts))
        rows = None
        if all(type(fact) is dict for fact in facts):  # plain dicts: no __missing__ to call
            try:
                rows = list(map(self._row, facts))
            except KeyError:  # a fact without some field: the same as a missing value
                rows = None
        if rows is None:
            rows = [tuple(map(fact.get, self.sources)) for fact in facts]
        keys = self.batch_keys
        records = [
            {k: v for k, v in zip(keys, (ids[i], "eval", 1, *row)) if v is not None}  # noqa: B905
            for i, row in enumerate(rows)
        ]
        for record, fact in zip(records, facts, strict=True) if self.derived else ():
            for name, source, pattern in self.derived:
                value = fact.get(source)
                if isinstance(value, str):
                    record[name] = pattern(value)
        width = self.width
        complete = [len(record) == width for record in records]
        try:
            text = _ENCODE(records)
            text.encode("utf-8")  # a lone surrogate, which the C core cannot take
        except (TypeError, ValueError, RecursionError):  # NaN, ±inf, a value JSON cannot hold
            text = ""
        if not text or _unsure(text, len(records)):
            parts = []
            for i, fact in enumerate(facts):
                try:
                    parts.append(self.record(fact, ids[i]))
                except EngineError as exc:
                    raise EngineError(exc.message, position=i) from None
            text = "[" + ",".join(parts) + "]"
        return text, complete


def _rule_of(payload: str) -> str:
    """The rule name of an agenda entry `{"<rule>":{"m":{…}}}` (names are [A-Za-z0-9_.-])."""
    end = payload.find('"', 2)
    if not payload.startswith('{"') or end < 0:
        raise EngineError(f"unexpected agenda entry from durable-rules: {payload[:80]!r}")
    return payload[2:end]


# An agenda entry is `{"<rule>":{"m":{<the record>}}}`; the record's `"id":"<position>"` is
# found without parsing it: a `"` inside a text value is always escaped, so `,"id":"` or
# `{"id":"` can only be a key of the record itself.
_ENTRY = re.compile(r'\A\{"([A-Za-z0-9_.-]+)":\{"m":\{(?:[^}]*?[,{])??"id":"([0-9]+)"')


def _entries(payload: str) -> list[tuple[str, int]]:
    """(rule, record position) of an agenda entry; parsed in full only when unusual."""
    found = _ENTRY.match(payload)
    if found is not None and payload.count('"m":') == 1:
        return [(found[1], int(found[2]))]
    return [(rule, int(frame["m"]["id"])) for rule, frame in json.loads(payload).items()]


class _Ruleset:
    """One C-core ruleset holding a group of rules, with its own sid state."""

    def __init__(self, core, name: str, rules: dict[str, dict]) -> None:
        self.core = core
        self.name = name
        self.names = frozenset(rules)
        definition = {rule: {"all": [{"m": cond}]} for rule, cond in rules.items()}
        definition[SENTINEL_RULE] = {"all": [{"m": SENTINEL_CONDITION}]}
        try:
            self.handle = core.create_ruleset(name, _definition_text(definition))
        except Exception as exc:  # registration errors carry only a code
            raise EngineError(f"durable-rules refused the ruleset {name}: {exc}") from exc
        self.state_ready = False
        try:
            self.init_state()
        except Exception:
            self.close()
            raise

    def init_state(self) -> None:
        """Create the sid's state with a fact that always matches: `delete_state` of a
        state that only ever saw non-matching facts frees garbage (measured: SIGSEGV)."""
        try:
            code, state = self.core.assert_fact(self.handle, SENTINEL)
            if code != 0:
                raise EngineError(f"the state sentinel of {self.name} got code {code}")
            self.drain(state)
            self.core.retract_fact(self.handle, SENTINEL)
        except EngineError:
            raise
        except Exception as exc:
            raise EngineError(f"durable-rules could not start {self.name}: {exc}") from exc
        self.state_ready = True

    def drain(self, state) -> set[str]:
        """Run the agenda of one asserted fact to the end, collecting rule names."""
        fired: set[str] = set()
        entry = self.core.start_action_for_state(self.handle, state)
        payload = entry[1] if entry else None
        steps = 0
        while payload:
            fired.add(_rule_of(payload))
            steps += 1
            if steps > MAX_AGENDA:
                raise EngineError(
                    f"{self.name}: more than {MAX_AGENDA:,} agenda entries for one fact"
                )
            payload = self.core.complete_and_start_action(self.handle, state)
        unknown = fired - self.names - {SENTINEL_RULE}
        if unknown:
            raise EngineError(f"{self.name} fired unknown rules {sorted(unknown)}")
        return fired

    def evaluate(self, record: str) -> set[str]:
        try:
            code, state = self.core.assert_fact(self.handle, record)
        except Exception as exc:
            self.reset()
            raise EngineError(f"durable-rules could not take the fact: {exc}") from exc
        if code == 1:  # no rule matched; nothing was stored
            return set()
        if code != 0:  # 2: a record with this id is still resident — never expected
            self.reset()
            raise EngineError(f"durable-rules returned code {code} for a fact")
        try:
            fired = self.drain(state)
        except BaseException as exc:  # also Ctrl-C: never leave a lease or a resident fact
            with contextlib.suppress(Exception):
                self.core.abandon_action(self.handle, state)
            self.reset()
            if isinstance(exc, EngineError) or not isinstance(exc, Exception):
                raise
            raise EngineError(f"durable-rules failed while running the agenda: {exc}") from exc
        try:
            self.core.retract_fact(self.handle, record)
        except Exception as exc:
            self.reset()
            raise EngineError(f"durable-rules could not retract the fact: {exc}") from exc
        fired.discard(SENTINEL_RULE)
        return fired

    def evaluate_many(self, text: str, count: int) -> list[set[str]] | None:
        """Rule names per record of a batch (`text`: a JSON array of `count` records whose
        ids are their positions), or None when the engine refused the batch (the state is
        then reset and the caller goes fact by fact)."""
        ids = "[" + ",".join(f'{{"id":"{i}","sid":"eval"}}' for i in range(count)) + "]"
        try:
            code, state = self.core.assert_facts(self.handle, text)
        except Exception:
            self.reset()
            return None
        found: list[set[str]] = [set() for _ in range(count)]
        try:
            if code not in (0, 1):
                raise EngineError(f"durable-rules returned code {code} for a batch")
            entry = self.core.start_action_for_state(self.handle, state)
            payload = entry[1] if entry else None
            steps = 0
            while payload:
                for rule, position in _entries(payload):
                    if rule != SENTINEL_RULE:
                        found[position].add(rule)
                steps += 1
                if steps > MAX_AGENDA:
                    raise EngineError(f"{self.name}: a runaway agenda in a batch")
                payload = self.core.complete_and_start_action(self.handle, state)
            self.core.retract_facts(self.handle, ids)
        except BaseException as exc:
            with contextlib.suppress(Exception):
                self.core.abandon_action(self.handle, state)
            self.reset()
            if not isinstance(exc, Exception):
                raise
            return None
        unknown = set().union(*found) - self.names
        if unknown:
            raise EngineError(f"{self.name} fired unknown rules {sorted(unknown)}")
        return found

    def reset(self) -> None:
        """Drop the sid state (and whatever it holds) and start a clean one."""
        if self.state_ready:
            with contextlib.suppress(Exception):
                self.core.delete_state(self.handle, "eval")
            self.state_ready = False
        self.init_state()

    def close(self) -> None:
        if self.handle is None:
            return
        if self.state_ready:  # never for a state without a match: see init_state
            with contextlib.suppress(Exception):
                self.core.delete_state(self.handle, "eval")
            self.state_ready = False
        handle, self.handle = self.handle, None
        self.core.delete_ruleset(handle)


class RuleEvaluator:
    """Every matching rule for one fact at a time, exactly once, through the C core."""

    engine = "durable-rules"

    def __init__(self, conditions: Mapping[str, expr.Node], name: str = "qcrules") -> None:
        import durable_rules_engine as core

        self._prepared = _Prepared(conditions)
        for rule, condition in self._prepared.rules.items():
            if groups(condition) > MAX_GROUPS:
                raise EngineError(
                    f"rule {self._prepared.keys[rule]}: its condition needs {groups(condition)} "
                    f"and/or groups; durable-rules takes at most {MAX_GROUPS} (error 113) — "
                    "split it into several rules or simplify it"
                )
        try:
            parts = partition(self._prepared.rules, [SENTINEL_CONDITION], STACK_BUDGET)
        except ValueError as exc:
            raise EngineError(_name_rules(str(exc), self._prepared.keys)) from exc
        parts = [
            part[i : i + MAX_RULES_PER_RULESET]
            for part in parts
            for i in range(0, len(part), MAX_RULES_PER_RULESET)
        ]
        # run-scoped: many evaluators in one process never share a ruleset name
        self.name = f"{re.sub(r'[^A-Za-z0-9_]', '_', name)}_{next(_names)}"
        self._rulesets: list[_Ruleset] = []
        self._closed = False
        try:
            for index, part in enumerate(parts or [[]]):
                rules = {rule: self._prepared.rules[rule] for rule in part}
                suffix = f"_{index}" if len(parts) > 1 else ""
                self._rulesets.append(_Ruleset(core, self.name + suffix, rules))
        except BaseException:
            self.close()
            raise

    @property
    def rulesets(self) -> int:
        """How many C-core rulesets the rules were split over."""
        return len(self._rulesets)

    def evaluate(self, fact: Mapping[str, Any]) -> frozenset[str]:
        if self._closed:
            raise EngineError("this evaluator is closed")
        record = self._prepared.record(fact)
        fired: set[str] = set()
        for ruleset in self._rulesets:
            fired |= ruleset.evaluate(record)
        return frozenset(self._prepared.keys[name] for name in fired)

    def evaluate_many(self, facts: list[Mapping[str, Any]]) -> list[frozenset[str]]:
        """Match sets for a batch of facts (see `evaluate_batch`)."""
        return self.evaluate_batch(facts)[0]

    def evaluate_batch(
        self, facts: list[Mapping[str, Any]]
    ) -> tuple[list[frozenset[str]], list[bool]]:
        """Match sets for a batch, one `assert_facts` per ruleset, drained together; and
        for each fact whether every field the conditions read had a value.

        Each fact of the batch is resident under its own id (its position) and every agenda
        entry names the fact it matched, so nothing is attributed to the wrong fact; the
        batch is retracted by id afterwards. Where the engine refuses a batch (two ids
        colliding on its 32-bit hash, say), that ruleset evaluates the batch fact by fact."""
        if self._closed:
            raise EngineError("this evaluator is closed")
        if not facts:
            return [], []
        text, complete = self._prepared.batch(facts)
        found: list[set[str]] = [set() for _ in facts]
        for ruleset in self._rulesets:
            got = ruleset.evaluate_many(text, len(facts))
            if got is None:
                got = [ruleset.evaluate(self._prepared.record(fact)) for fact in facts]
            for into, names in zip(found, got, strict=True):
                if names:
                    into |= names
        keys = self._prepared.keys
        empty: frozenset[str] = frozenset()
        return [
            frozenset([keys[name] for name in names]) if names else empty for names in found
        ], complete

    def close(self) -> None:
        """Delete every sid state and ruleset (no leak); safe to call twice."""
        if self._closed:
            return
        self._closed = True
        errors = []
        for ruleset in self._rulesets:
            try:
                ruleset.close()
            except Exception as exc:
                errors.append(exc)
        self._rulesets = []
        if errors:
            raise EngineError(f"durable-rules could not delete a ruleset: {errors[0]}")

    def __enter__(self) -> RuleEvaluator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _name_rules(message: str, keys: Mapping[str, str]) -> str:
    for engine_name, key in keys.items():
        message = message.replace(f"rule {engine_name} ", f"rule {key} ")
    return message


class PythonEvaluator:
    """The plain-Python reading of the same syntax trees (used where durable-rules cannot
    load, and as the reference the engine is checked against)."""

    engine = "python"

    def __init__(self, conditions: Mapping[str, expr.Node], name: str = "qcrules") -> None:
        self.name = name
        # the same constant folding as the compiler, so both read the same tree
        self._conditions = [
            (key, expr.predicate(expr.bind(node, {}))) for key, node in conditions.items()
        ]
        self._prepared = _Prepared(conditions)  # the same record checks as the engine

    def evaluate(self, fact: Mapping[str, Any]) -> frozenset[str]:
        self._prepared.record(fact)
        return frozenset([key for key, holds in self._conditions if holds(fact)])

    def evaluate_many(self, facts: list[Mapping[str, Any]]) -> list[frozenset[str]]:
        return self.evaluate_batch(facts)[0]

    def evaluate_batch(
        self, facts: list[Mapping[str, Any]]
    ) -> tuple[list[frozenset[str]], list[bool]]:
        if not facts:
            return [], []
        _, complete = self._prepared.batch(facts)  # refuses what the engine would refuse
        conditions = self._conditions
        empty: frozenset[str] = frozenset()
        matches = []
        for fact in facts:
            fired = [key for key, holds in conditions if holds(fact)]
            matches.append(frozenset(fired) if fired else empty)
        return matches, complete

    def close(self) -> None:
        """Nothing to free: the plain-Python reading holds no engine state."""

    def __enter__(self) -> PythonEvaluator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
