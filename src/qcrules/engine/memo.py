"""Verdicts remembered across the days of a backtest, on the same engine.

A backtest asserts the facts of every day into the same conditions. Most of what a rule
reads does not change from one day to the next (a creator's fans, a grant's scope), so the
conditions are split in two groups — those reading only fields that stayed the same between
two consecutive days (`stable`), and the others — and each group's match set is remembered by
the exact values of the fields its conditions read. A fact then costs two lookups, and the
engine only sees the value combinations it has not judged yet. The split only decides what is
worth remembering: a key always holds every field its conditions read, so a verdict is reused
only for the very same values, whatever changed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from qcrules.packs import expr

_EMPTY: frozenset[str] = frozenset()


class _Group:
    """Some of a ruleset's conditions, their engine and their remembered verdicts."""

    def __init__(self, conditions: dict[str, Any], factory: Callable, name: str) -> None:
        self.conditions = conditions
        fields: dict[str, None] = {}
        for node in conditions.values():
            fields.update(dict.fromkeys(expr.fields_read(node)))
        self.fields = tuple(fields)
        self.factory = factory
        self.name = name
        self.evaluator: Any = None
        self.seen: dict[tuple, tuple[frozenset[str], bool]] = {}

    def key(self, values: Mapping[str, Any]) -> tuple:
        get = values.get
        return tuple([get(f) for f in self.fields])

    def judge(self, batch: list[Mapping[str, Any]]) -> list[tuple[frozenset[str], bool]]:
        keys = [self.key(values) for values in batch]
        seen = self.seen
        todo: dict[tuple, None] = {}
        for key in keys:
            if key not in seen:
                todo[key] = None
        if todo:
            if self.evaluator is None:
                self.evaluator = self.factory(self.conditions, self.name)
            pending = list(todo)
            records = [dict(zip(self.fields, key, strict=True)) for key in pending]
            matches, complete = self.evaluator.evaluate_batch(records)
            for key, fired, whole in zip(pending, matches, complete, strict=True):
                seen[key] = (fired, whole)
        return [seen[key] for key in keys]

    def close(self) -> None:
        if self.evaluator is not None:
            self.evaluator.close()
            self.evaluator = None


class MemoEvaluator:
    """The evaluator interface `evaluate_plan` uses, over remembered verdicts."""

    def __init__(self, conditions: Mapping[str, Any], factory: Callable, name: str, stable):
        stable_part = {
            k: n for k, n in conditions.items() if stable and set(expr.fields_read(n)) <= stable
        }
        other = {k: n for k, n in conditions.items() if k not in stable_part}
        self.groups = [
            _Group(part, factory, f"{name}_{i}")
            for i, part in enumerate((stable_part, other))
            if part
        ]
        self.changing = self.groups[-1] if other else None

    def new_day(self) -> None:
        """Verdicts on changing fields seldom repeat across days: forget them (memory)."""
        if self.changing is not None and len(self.changing.seen) > 50_000:
            self.changing.seen.clear()

    def evaluate_batch(
        self, facts: list[Mapping[str, Any]]
    ) -> tuple[list[frozenset[str]], list[bool]]:
        if not facts:
            return [], []
        results = [group.judge(facts) for group in self.groups]
        if len(results) == 1:
            return [m for m, _ in results[0]], [c for _, c in results[0]]
        matches: list[frozenset[str]] = []
        complete: list[bool] = []
        for (m1, c1), (m2, c2) in zip(results[0], results[1], strict=True):
            matches.append(m1 | m2 if m1 and m2 else (m1 or m2 or _EMPTY))
            complete.append(c1 and c2)
        return matches, complete

    def close(self) -> None:
        """Kept open for the next day; `MemoFactory.close` frees the engines."""

    def free(self) -> None:
        for group in self.groups:
            group.close()


class MemoFactory:
    """An evaluator factory for many days: the same conditions get the same memo evaluator.

    `stable()` gives the fields that stayed the same between two days (None until known)."""

    def __init__(self, factory: Callable, stable: Callable[[], frozenset[str] | None]) -> None:
        self.factory = factory
        self.stable = stable
        self.evaluators: dict[tuple, MemoEvaluator] = {}

    def __call__(self, conditions: Mapping[str, Any], name: str) -> MemoEvaluator:
        stable = self.stable()
        key = (repr(sorted(conditions.items())), stable is not None)
        evaluator = self.evaluators.get(key)
        if evaluator is None:
            evaluator = MemoEvaluator(conditions, self.factory, name, stable)
            self.evaluators[key] = evaluator
        else:
            evaluator.new_day()
        return evaluator

    def close(self) -> None:
        for evaluator in self.evaluators.values():
            evaluator.free()
        self.evaluators.clear()
