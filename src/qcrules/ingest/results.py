"""What an import reports: per file its problems (line, column as written, value, why),
the rows read and written, and the whole import's result."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from qcrules.errors import InputError
from qcrules.i18n import tr


@dataclass
class Problem:
    """One thing wrong with a file: where (line, column as written), the value, and why."""

    line: int | None
    column: str | None
    value: str | None
    reason: str

    def format(self, file: str) -> str:
        where = f"{file}:{self.line}" if self.line else file
        if self.column is not None:
            shown = "" if self.value is None else f" = {self.value!r}"
            return f"{where}: {self.column}{shown}: {self.reason}"
        return f"{where}: {self.reason}"


@dataclass
class FileReport:
    """What happened to one file (or would happen, on a dry run)."""

    path: str
    kind: str
    format: str = ""
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    rejected: int = 0
    failed: bool = False
    dry_run: bool = False
    written: bool = False
    columns: dict[str, str] = field(default_factory=dict)  # canonical -> header as written
    extra_columns: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rejects_path: str | None = None
    pool: dict[str, Any] | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        data["seconds"] = round(self.seconds, 3)
        return data


@dataclass
class ImportResult:
    kind: str
    dry_run: bool
    files: list[FileReport]

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "dry_run": self.dry_run,
            "ok": self.ok,
            "files": [f.to_dict() for f in self.files],
        }

    def raise_for_errors(self) -> None:
        """For API callers: an InputError listing every problem of every failed file."""
        failed = [f for f in self.files if f.failed]
        if not failed:
            return
        problems = [(f.path, p) for f in failed for p in f.problems]
        lines = [p.format(path) for path, p in problems]
        raise InputError(
            tr(f"{len(failed)} 个文件未导入：\n", f"{len(failed)} file(s) were not imported:\n")
            + "\n".join(lines),
            problems=problems,
        )
