"""Pack diagnostics: every problem with file:line:col, the rule id and a help line.

Rendered like semgrep/rustc errors (source line, carets, `= help:`), and as JSON for tools.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Diagnostic:
    code: str
    message: str
    file: str | None = None
    line: int | None = None
    col: int | None = None
    length: int = 1
    rule: str | None = None
    help: str | None = None
    severity: str = "error"  # error | warning

    @property
    def location(self) -> str:
        parts = [self.file or "<pack>"]
        if self.line:
            parts.append(str(self.line))
            if self.col:
                parts.append(str(self.col))
        return ":".join(parts)

    def render(self, source: str | None = None) -> str:
        head = f"{self.severity}[{self.code}]: {self.message}"
        if self.rule:
            head += f" (rule {self.rule})"
        lines = [head, f"  --> {self.location}"]
        if source and self.line:
            text_lines = source.splitlines()
            if 0 < self.line <= len(text_lines):
                text = text_lines[self.line - 1]
                gutter = str(self.line)
                pad = " " * len(gutter)
                lines.append(f"{pad} |")
                lines.append(f"{gutter} | {text}")
                if self.col:
                    lines.append(f"{pad} | {' ' * (self.col - 1)}{'^' * max(1, self.length)}")
        if self.help:
            lines.append(f"   = help: {self.help}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return asdict(self)
