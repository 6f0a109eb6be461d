"""Line and column of TOML keys and values, which tomli does not keep.

Good enough for pack files as people write them: one key per line, `[[rules]]` blocks,
inline tables on one line, and multi-line strings for long conditions.
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_\-.\"' ]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^(\s*)([A-Za-z0-9_\-]+|\"[^\"]*\"|'[^']*')\s*=\s*")


class TomlPositions:
    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.splitlines()
        self.values: dict[tuple, tuple[int, int]] = {}
        self.tables: dict[tuple, int] = {}
        counters: dict[str, int] = {}
        table: tuple = ()
        in_multiline: str | None = None
        for number, line in enumerate(self.lines, start=1):
            if in_multiline:
                if in_multiline in line:
                    in_multiline = None
                continue
            header = _HEADER.match(line)
            if header:
                name = header.group(2).strip().strip("\"'")
                if header.group(1) == "[[":
                    index = counters.get(name, -1) + 1
                    counters[name] = index
                    table = (name, index)
                else:
                    table = tuple(part.strip("\"' ") for part in name.split("."))
                self.tables[table] = number
                continue
            key = _KEY.match(line)
            if key:
                name = key.group(2).strip("\"'")
                col = key.end() + 1
                self.values[(*table, name)] = (number, col)
                rest = line[key.end() :]
                for quote in ('"""', "'''"):
                    if rest.startswith(quote) and rest.count(quote) == 1:
                        in_multiline = quote
                if rest.startswith("{"):
                    for sub in re.finditer(r"([A-Za-z0-9_\-]+)\s*=\s*", rest):
                        self.values.setdefault(
                            (*table, name, sub.group(1)), (number, key.end() + sub.end() + 1)
                        )

    def of(self, *path) -> tuple[int | None, int | None]:
        """Position of a key's value, falling back to its nearest known parent."""
        for end in range(len(path), 0, -1):
            key = tuple(path[:end])
            if key in self.values:
                return self.values[key]
            if key in self.tables:
                return self.tables[key], 1
        return None, None

    def in_string(self, path: tuple, offset: int) -> tuple[int | None, int | None]:
        """Position of a character inside a string value (an expression's error offset)."""
        line, col = self.of(*path)
        if line is None or col is None:
            return line, col
        raw = self.lines[line - 1][col - 1 :]
        for quote in ('"""', "'''"):
            if raw.startswith(quote):
                after = raw[3:]
                start_line, start_col = line, col + 3
                if after.strip() == "" or after.startswith("\\"):
                    start_line, start_col = line + 1, 1
                # walk the offset through the value's own lines
                text_lines = self.lines[start_line - 1 :]
                remaining = offset
                first = True
                for index, text in enumerate(text_lines):
                    width = len(text) - (start_col - 1 if first else 0)
                    if remaining <= width:
                        return start_line + index, (start_col if first else 1) + remaining
                    remaining -= width + 1
                    first = False
                return line, col
        return line, col + 1 + offset
