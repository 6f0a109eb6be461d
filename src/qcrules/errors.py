"""Errors that reach the user, each carrying the exit code the CLI contract promises."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2
EXIT_INVALID_PACK = 4


class QcrulesError(Exception):
    """An error a user can act on: the message says what is wrong and what to do."""

    exit_code = EXIT_ERROR

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class ConfigError(QcrulesError):
    """Broken or mistyped qcrules.toml, or an unusable database URL."""


class UsageError(QcrulesError):
    """A command line that cannot be carried out (unknown id, bad date, …)."""


class InputError(QcrulesError):
    """An import file that cannot be read or has invalid rows; nothing was written."""

    def __init__(self, message: str, *, problems: list | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.problems = problems or []


class PackError(QcrulesError):
    """One or more rule packs are invalid; `diagnostics` lists every problem found."""

    exit_code = EXIT_INVALID_PACK

    def __init__(self, message: str, *, diagnostics: list | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.diagnostics = diagnostics or []
