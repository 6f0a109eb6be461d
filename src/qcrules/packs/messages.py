"""Fill a rule's message template with the fact's values and the pack's parameters."""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

MISSING = "—"


class _Formatter(string.Formatter):
    def __init__(self, values: Mapping[str, Any], params: Mapping[str, Any]) -> None:
        self.values = values
        self.params = params

    def get_field(self, field_name, args, kwargs):
        if field_name.startswith("params."):
            return self.params.get(field_name[len("params.") :]), field_name
        return self.values.get(field_name), field_name

    def format_field(self, value, format_spec):
        if value is None:
            return MISSING
        try:
            return format(value, format_spec)
        except (ValueError, TypeError):
            return str(value)


def render_message(template: str, values: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    try:
        return _Formatter(values, params).format(template)
    except (ValueError, KeyError, IndexError):
        return template
