"""Fill a rule's message template with the fact's values and the pack's parameters.

Two things a plain `str.format` gets wrong for a 投手 reading the result:

- a value rounded like its threshold can print as the threshold itself ("60% 低于 60%" for
  0.596 against 0.60): when a fact value and a parameter print the same but differ, the value
  gets just enough extra digits to show the difference ("59.6% 低于 60%");
- a day count reads badly at 0 or 1: the `zh_due` / `en_due` format specs write a days-to-
  expiry as 今天到期 / 明天到期 / 3 天后到期 (expires today / tomorrow / in 3 days).
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any

MISSING = "—"
_PRECISION = re.compile(r"^(?P<head>.*\.)(?P<digits>\d+)(?P<kind>[%f])$")
_MAX_EXTRA_DIGITS = 4


def due_text(days: int, lang: str) -> str:
    """Days to expiry in words: 0 today, 1 tomorrow, n days, or already past."""
    if lang == "zh":
        if days == 0:
            return "今天到期"
        if days == 1:
            return "明天到期"
        return f"{days} 天后到期" if days > 0 else f"已过期 {-days} 天"
    if days == 0:
        return "Expires today"
    if days == 1:
        return "Expires tomorrow"
    return f"Expires in {days} days" if days > 0 else f"Expired {-days} days ago"


_DUE_SPECS = {"zh_due": "zh", "en_due": "en"}


def format_value(value: Any, spec: str) -> str:
    """`format(value, spec)` plus the day-count specs; raises ValueError/TypeError like it."""
    if spec in _DUE_SPECS:
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{spec} formats a whole number of days, not {type(value).__name__}")
        return due_text(value, _DUE_SPECS[spec])
    return format(value, spec)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Formatter(string.Formatter):
    def __init__(self, values: Mapping[str, Any], params: Mapping[str, Any]) -> None:
        self.values = values
        self.params = params

    def get_field(self, field_name, args, kwargs):
        if field_name.startswith("params."):
            return self.params.get(field_name[len("params.") :]), field_name
        return self.values.get(field_name), field_name

    def lookup(self, field_name: str) -> Any:
        return self.get_field(field_name, (), {})[0]

    def format_field(self, value, format_spec):
        if value is None:
            return MISSING
        try:
            return format_value(value, format_spec)
        except (ValueError, TypeError):
            return str(value)


def _respec(template: str, specs: Mapping[str, str]) -> str:
    """The template with some fields' format specs replaced."""
    out = []
    for literal, name, spec, conversion in string.Formatter().parse(template):
        out.append(literal.replace("{", "{{").replace("}", "}}"))
        if name is None:
            continue
        spec = specs.get(name, spec)
        conv = f"!{conversion}" if conversion else ""
        out.append("{" + name + conv + (f":{spec}" if spec else "") + "}")
    return "".join(out)


def _distinct_specs(template: str, fmt: _Formatter) -> dict[str, str]:
    """Fact values that print like the threshold they differ from (a parameter, or a fact
    written after them such as break_even_roi), with just enough digits added."""
    fields = [
        (name, spec)
        for _lit, name, spec, _conv in string.Formatter().parse(template)
        if name is not None
    ]
    out: dict[str, str] = {}
    for i, (name, spec) in enumerate(fields):
        match = _PRECISION.match(spec or "")
        value = fmt.lookup(name)
        if name.startswith("params.") or match is None or not _number(value):
            continue
        others = [f for f in fields[i + 1 :] if f[0] != name]
        others += [f for f in fields[:i] if f[0].startswith("params.")]
        for other, other_spec in others:
            threshold = fmt.lookup(other)
            if not _number(threshold) or threshold == value:
                continue
            if fmt.format_field(value, spec) != fmt.format_field(threshold, other_spec):
                continue
            digits = int(match["digits"])
            for extra in range(1, _MAX_EXTRA_DIGITS + 1):
                wider = f"{match['head']}{digits + extra}{match['kind']}"
                if format(value, wider) != format(threshold, wider):
                    out[name] = wider
                    break
            break
    return out


def render_message(template: str, values: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    try:
        fmt = _Formatter(values, params)
        specs = _distinct_specs(template, fmt)
        return fmt.format(_respec(template, specs) if specs else template)
    except (ValueError, KeyError, IndexError):
        return template
