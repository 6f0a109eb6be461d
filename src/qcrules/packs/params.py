"""A pack parameter's declared range: `[params]` takes a plain value (any value of its type
is accepted), or a table with the value and what values make sense:

    roi_streak_days = { value = 3, min = 1, integer = true }   # days in a row
    ctr_low = { value = 0.01, min = 0, max = 1 }               # a ratio

Overrides of the parameter — `[params.<pack>]` and `[merchant.<id>.params.<pack>]` in
qcrules.toml, `--set PACK.PARAM=V` of whatif and backtest — must keep to it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from qcrules.i18n import tr

RANGE_KEYS = ("value", "min", "max", "integer")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _shown(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


@dataclass(frozen=True, slots=True)
class ParamRange:
    """Bounds (both included) and whole-number-ness of a number parameter."""

    min: float | None = None
    max: float | None = None
    integer: bool = False

    def describe(self) -> str:
        """ "a whole number ≥ 1", "a number from 0 to 1" (zh or en)."""
        kind = tr("整数", "a whole number") if self.integer else tr("数", "a number")
        low, high = self.min, self.max
        if low is not None and high is not None:
            return tr(
                f" {_shown(low)} 到 {_shown(high)} 之间的{kind}",
                f"{kind} from {_shown(low)} to {_shown(high)}",
            )
        if low is not None:
            return tr(f"不小于 {_shown(low)} 的{kind}", f"{kind} ≥ {_shown(low)}")
        if high is not None:
            return tr(f"不大于 {_shown(high)} 的{kind}", f"{kind} ≤ {_shown(high)}")
        return kind if self.integer else tr("任意数", "any number")

    def short(self) -> str:
        """ "int ≥ 1", "0–1", "int 0–30": for lists of parameters."""
        low, high = self.min, self.max
        if low is not None and high is not None:
            bounds = f"{_shown(low)}–{_shown(high)}"
        elif low is not None:
            bounds = f"≥ {_shown(low)}"
        elif high is not None:
            bounds = f"≤ {_shown(high)}"
        else:
            bounds = ""
        return " ".join(part for part in ("int" if self.integer else "", bounds) if part)

    def to_json(self) -> dict[str, Any]:
        return {"min": self.min, "max": self.max, "integer": self.integer}

    def problem(self, value: Any) -> str | None:
        """What is wrong with `value` (a number), or None when it keeps to the range."""
        if not _number(value):
            return None  # the type check says so
        outside = (self.min is not None and value < self.min) or (
            self.max is not None and value > self.max
        )
        if outside or (self.integer and not float(value).is_integer()):
            return tr(
                f"须为{self.describe()}，不能是 {value!r}",
                f"must be {self.describe()}, got {value!r}",
            )
        return None


_LIMIT = 2**53  # as every parameter value (README § Hostile input and limits)


def _shown(value: Any) -> str:
    """A value as TOML wrote it (a date as 2026-01-01, not a Python repr)."""
    return value.isoformat() if hasattr(value, "isoformat") else repr(value)


def read_param(name: str, raw: Any) -> tuple[Any, ParamRange | None, list[tuple[str, str]]]:
    """A `[params]` entry → (its value, its range or None, problems as (message, help)).
    A plain value has no range; a table gives `value` and optionally min, max, integer."""
    if not isinstance(raw, dict):
        return raw, None, []
    problems: list[tuple[str, str]] = []
    example = f"{name} = {{ value = 3, min = 1, integer = true }}"
    unknown = [k for k in raw if k not in RANGE_KEYS]
    if unknown:
        problems.append(
            (
                f"parameter {name!r}: unknown key(s) {', '.join(map(repr, unknown))}",
                f"a parameter table takes {', '.join(RANGE_KEYS)}, e.g. {example}",
            )
        )
    if "value" not in raw:
        problems.append((f"parameter {name!r} has no value", f"give it one, e.g. {example}"))
        return None, None, problems
    value = raw["value"]
    low, high, integer = raw.get("min"), raw.get("max"), raw.get("integer", False)
    for key, bound in (("min", low), ("max", high)):
        if bound is not None and not (
            _number(bound) and math.isfinite(bound) and abs(bound) <= _LIMIT
        ):
            problems.append(
                (
                    f"parameter {name!r}: {key} must be a finite number within ±2**53, "
                    f"got {_shown(bound)}",
                    f"e.g. {example}",
                )
            )
    if not isinstance(integer, bool):
        problems.append((f"parameter {name!r}: integer must be true or false", f"e.g. {example}"))
    if problems:
        return value, None, problems
    if not _number(value):
        problems.append(
            (
                f"parameter {name!r}: only a number takes min, max or integer, got {_shown(value)}",
                f"write {name} = {_shown(value)}",
            )
        )
        return value, None, problems
    if low is not None and high is not None and low > high:
        problems.append(
            (f"parameter {name!r}: min {low} is above max {high}", "swap them, or fix one")
        )
        return value, None, problems
    declared = ParamRange(low, high, integer)
    if (problem := declared.problem(value)) is not None:
        problems.append(
            (
                f"parameter {name!r}: its value {problem}",
                "the default must keep to the range the table declares: change one of them",
            )
        )
    return value, declared, problems
