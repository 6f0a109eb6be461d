"""Hostile input: one place for each rule that keeps data from escaping where it is shown.

Imported files come from other people's exports; a nickname or an id is whatever the other
side typed. Each helper here is the only implementation of its rule, so a face that shows
data (table, markdown, github, the TUI, error messages, reports) calls it instead of its own:

- `for_terminal`: no C0/C1 control sequence (ESC, BEL, CSI, …) or bidi override reaches a
  terminal; each is shown as a visible escape such as `\\x1b` (`safe_data` applies it to
  records, `json_for_terminal` and `xml_text` to JSON and XML documents; the CLI's consoles,
  `output.console.SafeConsole`, apply it to everything they print).
- `check_id`: ids (grant, creator, merchant) that can safely name a file and a record.
- `file_in`: a file name built from an id stays inside its folder, checked after resolving.
- `spreadsheet_cell`: a report cell that Excel or LibreOffice will not run as a formula
  (OWASP CSV injection) and that XLSX can store.
- `mask_secret`: the one masking rule for credentials (合作码): the last 4 characters only;
  `mask_credentials` applies it to what a plugin action hands back (tokens, webhook URLs).
- `check_day`: a date given to qcrules (`--as-of`, `--until`) lies in DAY_MIN…DAY_MAX.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

from qcrules.errors import UsageError
from qcrules.i18n import tr

# C0 (but \n and \t, which only move the cursor forward or down), DEL, C1, and the Unicode
# bidi overrides, isolates and marks (LRM, RLM, ALM) that reorder what a reader sees
# ("Trojan Source").
_TERMINAL_UNSAFE = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]"
)
_ONE_LINE_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def for_terminal(text: Any, *, one_line: bool = False) -> str:
    """Text from data as a terminal may show it: every control character that could start an
    escape sequence (or ring, erase, retitle) is replaced by a visible `\\xNN`. With
    `one_line`, newlines and tabs are escaped too (table cells, annotations)."""
    text = "" if text is None else str(text)
    pattern = _ONE_LINE_UNSAFE if one_line else _TERMINAL_UNSAFE
    return pattern.sub(_visible, text) if pattern.search(text) else text


_PLAIN = frozenset({int, float, bool, type(None)})  # nothing in them reaches a terminal


_SAFE_KEYS: dict[Any, Any] = {}  # dict keys seen (field names, the same in every fact)


def _safe_key(key: Any) -> Any:
    safe = safe_data(key)
    if isinstance(key, str) and len(_SAFE_KEYS) < 10_000:
        _SAFE_KEYS[key] = safe
    return safe


def safe_data(value: Any) -> Any:
    """A copy of JSON-like data (dicts, lists, tuples) whose strings are `for_terminal` on one
    line: for a face that shows records piece by piece (the TUI). A fact's numbers are kept
    as they are without a call each: the TUI makes this copy of 100k facts at L."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if isinstance(value, str):
        return for_terminal(value, one_line=True)
    if isinstance(value, dict):
        plain, known = _PLAIN, _SAFE_KEYS
        return {
            (known.get(k) or _safe_key(k)): (v if type(v) in plain else safe_data(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(safe_data(v) for v in value)
    return value


_JSON_UNSAFE = re.compile(r"[\x7f-\x9f\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]")


def json_for_terminal(text: str) -> str:
    """A JSON document whose strings hold no DEL, C1 or bidi control as such: each becomes its
    `\\uXXXX` escape (the same JSON value; json.dumps already escapes C0)."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


# --- ids ---------------------------------------------------------------------------------------

_ID_CONTROL = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069\ufeff]"
)


def check_id(text: str) -> str | None:
    """Why `text` cannot be an id (grant, creator, merchant), or None when it can.

    Ids name files (an agreement is `agreements/<grant_id>.md`) and appear in terminals, so
    they hold no path separator, no `..`, no control character and no surrounding space."""
    if text != text.strip():
        return tr("ID 前后不能有空格", "an id cannot start or end with a space")
    if "/" in text or "\\" in text:
        return tr(
            "ID 不能含路径分隔符（/ 或 \\）", "an id cannot contain a path separator (/ or \\)"
        )
    if ".." in text or text == ".":
        return tr("ID 不能含 ..", "an id cannot contain ..")
    bad = _ID_CONTROL.search(text)
    if bad:
        return tr(
            f"ID 含控制字符 {_visible(bad)}",
            f"an id cannot contain a control character ({_visible(bad)})",
        )
    return None


def file_in(folder: Path, stem: str, suffix: str) -> Path:
    """`folder / (stem + suffix)` for a stem taken from data (an id), refused unless it is a
    valid id and the path resolves to a file directly inside `folder` (whatever the id holds
    or a symlink points to, nothing is written elsewhere)."""
    path = folder / f"{stem}{suffix}"
    if check_id(stem) is None and stem and path.resolve().parent == folder.resolve():
        return path
    raise UsageError(
        tr(
            f"由 ID '{for_terminal(stem)}' 得到的文件名会落在 {folder} 之外，已拒绝",
            f"the file name from id '{for_terminal(stem)}' would leave {folder}; refused",
        ),
        hint=tr(
            "ID 不能含 /、\\、.. 或控制字符；改正数据后重新导入",
            "ids cannot hold /, \\, .. or control characters: correct the data and import again",
        ),
    )


# --- spreadsheets ------------------------------------------------------------------------------

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# what XML 1.0 (and so XLSX) cannot hold: C0 but tab/newline/CR, and the non-characters
_XML_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# what a report cell may not hold: that, and DEL and C1 (a report printed to a terminal)
_CELL_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?%?")


def spreadsheet_cell(value: Any) -> Any:
    """A report cell that is a value, never a formula (OWASP CSV injection): text that starts
    with = + - @ or a tab/CR gets a leading apostrophe; control characters (which XLSX
    forbids, or a terminal would act on) become U+FFFD, and a CR a newline. Numbers, dates,
    None and a plain number written as text ("-1.50", "12%") pass unchanged."""
    if not isinstance(value, str):
        return value
    formula = value.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value)
    if _CELL_FORBIDDEN.search(value):
        value = _CELL_FORBIDDEN.sub("\ufffd", value)
    if "\r" in value:  # a lone CR would end a CSV row (and XLSX reads it back as LF)
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return "'" + value if formula else value


def spreadsheet_id(value: Any) -> Any:
    """An id in a CSV a spreadsheet will open. An id of digits only (a 19-digit 达人UID, an
    id with leading zeros) gets a leading tab: Excel then keeps it as text, where it turned
    2269150000000000000 into 2.26915E+18 and lost the last digits for good. 抖店's and
    千川's own CSV exports write their long ids the same way, so a tool that reads them
    already trims it (Python's int() and str.strip(), pandas' converters, qcrules import); a
    `="…"` formula would keep Excel's text too but reach every other reader as a formula.
    A tab before digits runs nothing (OWASP's concern is a tab before a formula); any other
    id is written as `spreadsheet_cell` writes a cell."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return "\t" + value
    return spreadsheet_cell(value)


def xml_text(value: Any) -> str:
    """Text an XML document (JUnit output) can hold and a terminal can show: controls made
    visible as in `for_terminal`, the XML non-characters replaced by U+FFFD."""
    text = for_terminal(value)
    return _XML_FORBIDDEN.sub("\ufffd", text) if _XML_FORBIDDEN.search(text) else text


# --- credentials -------------------------------------------------------------------------------


def mask_secret(secret: Any) -> str:
    """A credential (合作码) as it may be shown anywhere: `****` and its last 4 characters,
    nothing else; a code of 4 characters or fewer is shown as `****` alone."""
    text = "" if secret is None else str(secret).strip()
    if not text:
        return ""
    return f"****{text[-4:]}" if len(text) > 4 else "****"


# words that name a credential in a key (`webhook_url`, `access_token`, `app_secret`) or a
# URL's query (`?access_token=`, `&sign=`): what a plugin action may hand back or be given
_SECRET_WORDS = {
    "token",
    "secret",
    "password",
    "passwd",
    "pwd",
    "credential",
    "credentials",
    "webhook",
    "apikey",
}
_QUERY_WORDS = {"sign", "signature", "key", "sig"}  # a URL's query only (钉钉's &sign=)
_SECRET_NAME = re.compile(
    r"(?i)(?:api|access|private|app|secret)[_-]?key$|^cooperation_code$|合作码"
)
_URL_QUERY = re.compile(r"([?&]([A-Za-z_-]+)=)([^&#\s\"']+)")


def is_secret_name(name: str, *, query: bool = False) -> bool:
    parts = re.split(r"[^a-z0-9]+", name.lower())
    words = _SECRET_WORDS | _QUERY_WORDS if query else _SECRET_WORDS
    return bool(words.intersection(parts) or _SECRET_NAME.search(name))


def secret_values(settings: Any) -> set[str]:
    """Every value under a credential's name in a settings tree ([plugins.*] of
    qcrules.toml): the texts that must not be shown or stored as they are."""
    found: set[str] = set()
    if isinstance(settings, dict):
        for key, value in settings.items():
            if is_secret_name(str(key)) and isinstance(value, str | int) and str(value).strip():
                found.add(str(value).strip())
            else:
                found |= secret_values(value)
    elif isinstance(settings, list):
        for value in settings:
            found |= secret_values(value)
    return found


def mask_credentials(data: Any, known: set[str] | frozenset[str] = frozenset()) -> Any:
    """A plugin action's result as it may be shown and audited: values under a credential's
    name, a credential in a URL's query, and any `known` secret (the plugins' settings)
    inside a text masked by `mask_secret`. Plugins mask their own; this is the net below."""
    if isinstance(data, dict):
        return {
            k: (
                mask_secret(v)
                if is_secret_name(str(k)) and isinstance(v, str | int) and not isinstance(v, bool)
                else mask_credentials(v, known)
            )
            for k, v in data.items()
        }
    if isinstance(data, list | tuple):
        return [mask_credentials(v, known) for v in data]
    if isinstance(data, str):
        for secret in sorted(known, key=len, reverse=True):
            if len(secret) >= 6 and secret in data:
                data = data.replace(secret, mask_secret(secret))
        return _URL_QUERY.sub(
            lambda m: m[1] + (mask_secret(m[3]) if is_secret_name(m[2], query=True) else m[3]), data
        )
    return data


# --- dates -------------------------------------------------------------------------------------

# 2099-12-31 is how exports write "permanent"; nothing qcrules judges lies before 2000
DAY_MIN, DAY_MAX = date(2000, 1, 1), date(2099, 12, 31)


def check_day(day: date, what: str) -> None:
    """Refuse a day outside DAY_MIN…DAY_MAX (exit 2) before any window is computed from it."""
    if not DAY_MIN <= day <= DAY_MAX:
        raise UsageError(
            tr(
                f"{what} {day.isoformat()} 超出范围：须在 {DAY_MIN} 与 {DAY_MAX} 之间",
                f"{what} {day.isoformat()} is out of range: give a day from {DAY_MIN} to {DAY_MAX}",
            ),
            hint=tr("例如 2026-11-27", "for example 2026-11-27"),
        )
