"""Cell parsers. Each column parser takes the raw cells of one column (str from CSV; str, int,
float, datetime, bool or None from XLSX) and returns the parsed values plus a list of
(row index, reason) errors.

Column-wise on purpose: a metrics file has millions of rows, so numbers go through a `map`
fast path and low-cardinality columns (ids, dates, enums) are parsed once per distinct value.
Empty cells are missing data (None), never zero.
"""

from __future__ import annotations

import contextlib
import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from qcrules.i18n import tr
from qcrules.ingest.columns import ENUM_CANONICAL, ENUM_EMPTY, ENUM_MULTI, ENUMS, Column, norm_value
from qcrules.model.tables import PERMANENT_END
from qcrules.safety import DAY_MAX, DAY_MIN, FORMULA_START, check_id

Errors = list[tuple[int, str]]

# Placeholders exports put where there is no data. Text and id columns treat only "" as empty.
BLANKS = frozenset({"", "-", "--", "—", "——", "n/a", "na", "null", "none", "nan", "#n/a"})
MAX_ID_LENGTH = 64
# Counts are exact up to 2**53 in every reading (a double's mantissa) and far below the
# databases' 64-bit integers; a larger "count" is a broken cell, refused, not a crash.
MAX_INT = 2**53
_EXCEL_EPOCH = date(1899, 12, 30)


def is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip().lower() in BLANKS
    return isinstance(value, float) and math.isnan(value)


def cell_text(value: Any) -> str:
    """A raw cell as text, for messages and the rejects file."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return (
            value.isoformat(sep=" ") if value.time() != datetime.min.time() else str(value.date())
        )
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- numbers -----------------------------------------------------------------------------------

_MULTIPLIERS = {"万": 10_000, "w": 10_000, "亿": 100_000_000, "k": 1_000}
_NUMBER = re.compile(
    r"^([+-]?)(\d{1,3}(?:,\d{3})+|\d+)?(\.\d+)?(?:e([+-]?\d+))?(万|w|亿|k)?$", re.IGNORECASE
)
_CURRENCY = re.compile(r"^(?:¥|￥|rmb|cny)|(?:元|rmb|cny)$", re.IGNORECASE)


def _number(value: Any, *, money: bool = False) -> float:
    """A number from a cell; raises ValueError with the reason."""
    if isinstance(value, bool):
        raise ValueError(tr("不是数字", "not a number"))
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(tr("不是有限的数字", "not a finite number"))
        return float(value)
    text = unicodedata.normalize("NFKC", str(value)).strip().replace(" ", "")
    if money:
        text = _CURRENCY.sub("", _CURRENCY.sub("", text))
    match = _NUMBER.match(text)
    if not match or not (match.group(2) or match.group(3)):
        if not money and _CURRENCY.search(text):
            return _number(value, money=True)
        raise ValueError(tr("不是数字", "not a number"))
    sign, whole, frac, exp, unit = match.groups()
    number = float(f"{sign}{(whole or '0').replace(',', '')}{frac or ''}e{exp or 0}")
    if unit:
        number = number * _MULTIPLIERS[unit.lower()]
    if not math.isfinite(number):
        raise ValueError(tr("不是有限的数字", "not a finite number"))
    return number


def parse_float(value: Any) -> float:
    number = _number(value)
    if number < 0:
        raise ValueError(tr("不能为负数", "must not be negative"))
    if number > MAX_INT:
        raise ValueError(_amount_too_big())
    return number


def parse_money(value: Any) -> float:
    number = _number(value, money=True)
    if number < 0:
        raise ValueError(tr("金额不能为负数", "an amount must not be negative"))
    if number > MAX_INT:
        raise ValueError(_amount_too_big(money=True))
    return number


def _amount_too_big(*, money: bool = False) -> str:
    """Above 2**53 no amount or measure is real (a unit typed twice, 1e308): refused, so
    that a day's sum over several rows or accounts stays a finite, exact number."""
    if money:
        return tr(
            f"金额超过 {MAX_INT}（2**53 元），不可能是真实数据",
            f"an amount above {MAX_INT} (2**53 yuan) cannot be real",
        )
    return tr(
        f"超过 {MAX_INT}（2**53），不可能是真实数据", f"above {MAX_INT} (2**53) cannot be real"
    )


def _int_too_big() -> str:
    return tr(
        f"整数超过 {MAX_INT}（2**53），不可能是真实数据",
        f"a whole number above {MAX_INT} (2**53) cannot be a real count",
    )


def _beyond_max_int(value: Any, number: float) -> bool:
    """Whether the cell's whole number is above MAX_INT. A float cannot tell 2**53 from
    2**53 + 1, so at the limit the cell's own digits decide."""
    if number != MAX_INT:
        return number > MAX_INT
    if isinstance(value, int):
        return value > MAX_INT
    digits = str(value).strip().replace(",", "")
    return not (digits.isdigit() and int(digits) <= MAX_INT)


def parse_int(value: Any) -> int:
    number = _number(value)
    if number < 0:
        raise ValueError(tr("不能为负数", "must not be negative"))
    if _beyond_max_int(value, number):
        raise ValueError(_int_too_big())
    rounded = round(number)
    text = value if isinstance(value, str) else ""
    has_unit = bool(re.search(r"[万wW亿kK]\s*$", text))
    if abs(number - rounded) > (0.5 if has_unit else 1e-9):
        raise ValueError(tr("不是整数", "not a whole number"))
    return int(rounded)


# --- ratios ------------------------------------------------------------------------------------

PCT, UNIT, HUNDRED, NEUTRAL = "pct", "unit", "hundred", "neutral"


def ratio_cell(value: Any) -> tuple[float, str]:
    """A share and the scale it was written on: `65%` (pct), 0.65 (unit), 65 (hundred)."""
    number: float | None = None
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            text = unicodedata.normalize("NFKC", value).strip()
            if text.endswith("%"):
                share = _number(text[:-1]) / 100
                if share < 0:
                    raise ValueError(tr("比例不能为负数", "a share must not be negative")) from None
                return share, PCT
        else:
            if not math.isfinite(number):
                number = None
    if number is None:
        number = _number(value)
    if number < 0:
        raise ValueError(tr("比例不能为负数", "a share must not be negative"))
    if number in (0.0, 1.0):
        return number, NEUTRAL
    return number, HUNDRED if number > 1 else UNIT


def _scale_word(scale: str, plural: bool = False) -> str:
    words = {
        PCT: (tr("百分数", "a percentage"), tr("百分数", "percentages")),
        UNIT: (tr("0–1 小数", "a 0–1 share"), tr("0–1 小数", "0–1 shares")),
        HUNDRED: (tr("0–100 数值", "a 0–100 number"), tr("0–100 数值", "0–100 numbers")),
    }
    return words[scale][plural]


def parse_ratio_column(cells: Sequence[Any], texts: bool) -> tuple[list, Errors, list[str]]:
    """Shares of a whole column: 0.65, 65% or a column on the 0–100 scale (never mixed).

    Returns values, errors and notes (e.g. "read on the 0–100 scale").
    """
    if texts:
        try:
            floats = list(map(float, cells))
        except (ValueError, TypeError):
            floats = None
        if floats is not None and all(map(math.isfinite, floats)) and min(floats, default=0) >= 0:
            if max(floats, default=0) <= 1:
                return floats, [], []
            if not any(0 < f < 1 for f in floats):
                out = [f / 100 for f in floats]
                errors = [(i, _share_too_big()) for i, f in enumerate(out) if f > 1]
                return out, errors, ["0–100"]
    values: list[float | None] = [None] * len(cells)
    scales: list[str | None] = [None] * len(cells)
    errors: Errors = []
    for i, cell in enumerate(cells):
        if is_blank(cell):
            continue
        try:
            values[i], scales[i] = ratio_cell(cell)
        except ValueError as exc:
            errors.append((i, str(exc)))
    notes: list[str] = []
    hundred = [i for i, s in enumerate(scales) if s == HUNDRED]
    if hundred:
        fraction = [i for i, s in enumerate(scales) if s in (PCT, UNIT)]
        if fraction:
            # the smaller group is the odd one out
            odd, usual = (
                (fraction, hundred) if len(fraction) <= len(hundred) else (hundred, fraction)
            )
            usual_scales = sorted({_scale_word(scales[i], True) for i in usual})  # type: ignore[arg-type]
            for i in odd:
                odd_word = _scale_word(scales[i])  # type: ignore[arg-type]
                errors.append(
                    (
                        i,
                        tr(
                            f"比例写法不一致：这里是{odd_word}，本列其他行是{'、'.join(usual_scales)}；"
                            "同一列请只用一种：0.65、65% 或整列 0–100",
                            f"mixes scales: this is {odd_word} but the rest of the column has "
                            f"{' and '.join(usual_scales)}; use one scale per column "
                            "(0.65, 65%, or the whole column on 0–100)",
                        ),
                    )
                )
            if usual is hundred:
                for i, s in enumerate(scales):
                    if s in (HUNDRED, NEUTRAL):
                        values[i] = values[i] / 100  # type: ignore[operator]
            for i in odd:
                values[i] = None
        else:
            notes.append("0–100")
            for i, s in enumerate(scales):
                if s in (HUNDRED, NEUTRAL):
                    values[i] = values[i] / 100  # type: ignore[operator]
    bad = {i for i, _ in errors}
    for i, v in enumerate(values):
        if v is not None and v > 1 and i not in bad:
            errors.append((i, _share_too_big()))
    return values, errors, notes


def _share_too_big() -> str:
    return tr("比例不能超过 100%", "a share cannot exceed 100%")


# --- booleans, lists, dates, enums, ids --------------------------------------------------------

_TRUE = frozenset(
    {"true", "t", "yes", "y", "1", "1.0", "是", "有", "对", "√", "✓", "已", "开", "开启", "on"}
)
_FALSE = frozenset(
    {"false", "f", "no", "n", "0", "0.0", "否", "无", "没有", "×", "✗", "未", "关", "off"}
)


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    key = norm_value(str(value))
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    raise ValueError(
        tr(
            "不是布尔值（可用 是/否、true/false、yes/no、y/n、1/0）",
            "not a yes/no value (use true/false, yes/no, y/n, 1/0, 是/否)",
        )
    )


_LIST_SPLIT = re.compile(r"[|、,;，；]")


def parse_list(value: Any) -> list[str] | None:
    items = [part.strip() for part in _LIST_SPLIT.split(str(value))]
    items = [item for item in items if item]
    return items or None


_AGE_BAND = re.compile(r"^(\d{1,3})(?:-(\d{1,3}))?[-+]?$")


def _age_key(text: str) -> str:
    key = unicodedata.normalize("NFKC", text).strip().replace("岁", "").replace("以上", "+")
    key = key.replace("~", "-").replace("～", "-").replace(" ", "")
    if not _AGE_BAND.match(key):
        raise ValueError(tr(f"年龄段 {text!r} 无法识别", f"age band {text!r} is not like 18-23"))
    return key


def parse_age_bands(value: Any) -> list[str] | None:
    items = parse_list(value)
    return [_age_key(item) for item in items] if items else None


def parse_age_dist(value: Any) -> dict[str, float] | None:
    """`18-23:0.1,24-30:0.3` (or 10%, or every share on 0–100 within the cell)."""
    pairs = [p for p in _LIST_SPLIT.split(str(value)) if p.strip()]
    if not pairs:
        return None
    shares: dict[str, float] = {}
    scales: set[str] = set()
    for pair in pairs:
        band, sep, share = unicodedata.normalize("NFKC", pair).partition(":")
        if not sep:
            raise ValueError(
                tr(
                    f"{pair.strip()!r} 不是「年龄段:占比」",
                    f"{pair.strip()!r} is not band:share (e.g. 18-23:0.1)",
                )
            )
        number, scale = ratio_cell(share)
        shares[_age_key(band)] = number
        scales.add(scale)
    if HUNDRED in scales:
        if scales & {PCT, UNIT}:
            raise ValueError(
                tr(
                    "同一格内混用了 0–1、% 与 0–100 的写法",
                    "mixes 0–1 or % shares with 0–100 shares",
                )
            )
        shares = {k: v / 100 for k, v in shares.items()}
    if sum(shares.values()) > 1.02:
        raise ValueError(tr("各年龄段占比之和超过 100%", "the shares add up to more than 100%"))
    return shares


_DATE = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[\sT]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


def parse_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 20_000 <= value <= 80_000:  # an Excel serial day number in an unformatted cell
            return _EXCEL_EPOCH + timedelta(days=int(value))
        value = cell_text(value)
    text = unicodedata.normalize("NFKC", str(value)).strip()
    match = _DATE.match(text) or _COMPACT_DATE.match(text)
    if match:
        try:
            return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        except ValueError:
            raise ValueError(tr("日期不存在", "no such date")) from None
    raise ValueError(
        tr(
            "不是日期（可用 2026-11-01、2026/11/01、2026.11.01，可带时间）",
            "not a date (use 2026-11-01, 2026/11/01 or 2026.11.01, optionally with a time)",
        )
    )


_PERMANENT_WORDS = frozenset(
    {"永久", "永久有效", "长期", "长期有效", "不限", "不限期", "无限期", "permanent", "never"}
)


def parse_end_date(value: Any) -> date:
    """An end date. 永久 / 不限 (and any date on or after 2099-12-31, the platform's
    "unlimited") is stored as 2099-12-31, the one mark of a permanent grant; an empty cell is
    an unknown end (None, left to the caller), never a permanent one."""
    if isinstance(value, str) and norm_value(value) in _PERMANENT_WORDS:
        return PERMANENT_END
    parsed = parse_date(value)
    if parsed < DAY_MIN:
        raise ValueError(_out_of_range(parsed))
    return PERMANENT_END if parsed >= PERMANENT_END else parsed


def _out_of_range(day: date) -> str:
    return tr(
        f"{day} 不在 {DAY_MIN} 至 {DAY_MAX} 之间，不可能是千川的数据",
        f"{day} is outside {DAY_MIN} … {DAY_MAX}: no 千川 data has such a day",
    )


def parse_day(value: Any) -> date:
    """A day of the records (a metric's day, a grant's start, a pool entry): within
    2000-01-01 … 2099-12-31, as every date qcrules takes (year 1 or 9999 is a broken cell)."""
    day = parse_date(value)
    if not DAY_MIN <= day <= DAY_MAX:
        raise ValueError(_out_of_range(day))
    return day


def enum_parser(enum: str) -> Callable[[Any], str | None]:
    vocab = ENUMS[enum]
    empty = ENUM_EMPTY.get(enum, frozenset())
    precedence = ENUM_MULTI.get(enum)

    def parse(value: Any) -> str | None:
        key = norm_value(cell_text(value))
        if key in vocab:
            return vocab[key]
        if key in empty:
            return None
        if precedence is not None:
            parts = [norm_value(part) for part in _LIST_SPLIT.split(cell_text(value))]
            named = {vocab.get(part) for part in parts if part}
            if len(named) > 0 and None not in named:
                return next(c for c in precedence if c in named)
        allowed = ", ".join(ENUM_CANONICAL[enum])
        raise ValueError(
            tr(
                f"不是允许的取值（可用 {allowed}，或对应中文）",
                f"not an allowed value (use one of {allowed}, or its Chinese name)",
            )
        )

    return parse


_SCIENTIFIC = re.compile(r"^\d(?:\.\d+)?e\+?\d+$", re.IGNORECASE)
_WHOLE_FLOAT = re.compile(r"^(\d+)\.0+$")


def parse_id(value: Any) -> str:
    """An id as text. Guards against what spreadsheets do to long numbers."""
    if isinstance(value, bool):
        raise ValueError(tr("不是 ID", "not an id"))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(tr("ID 不能有小数", "an id cannot have decimals"))
        if abs(value) >= 2**53:
            raise ValueError(_rounded_id())
        return str(int(value))
    text = str(value).strip().lstrip("'")
    if text.startswith('="') and text.endswith('"'):
        text = text[2:-1].strip()
    if _SCIENTIFIC.match(text):
        raise ValueError(_rounded_id())
    whole = _WHOLE_FLOAT.match(text)
    if whole:
        text = whole.group(1)
    if len(text) > MAX_ID_LENGTH:
        raise ValueError(
            tr(f"ID 超过 {MAX_ID_LENGTH} 个字符", f"longer than {MAX_ID_LENGTH} characters")
        )
    problem = check_id(text)
    if problem is not None:
        raise ValueError(problem)
    return text


def _rounded_id() -> str:
    return tr(
        "ID 被表格软件转成了科学计数法或被四舍五入；请把该列设为文本后重新导出",
        "the spreadsheet turned this id into a rounded number (scientific notation); "
        "format the column as text and export again",
    )


def parse_text(value: Any) -> str:
    if isinstance(value, float | int) and not isinstance(value, bool):
        return cell_text(value)
    if isinstance(value, datetime | date):
        return cell_text(value)
    text = str(value).strip()
    if text.startswith("'") and text[1:].startswith(FORMULA_START):
        return text[1:]  # a cell neutralised against formulas (a rejects file, a report)
    return text


# --- column dispatch ---------------------------------------------------------------------------

CELL_PARSERS: dict[str, Callable[[Any], Any]] = {
    "id": parse_id,
    "text": parse_text,
    "int": parse_int,
    "float": parse_float,
    "money": parse_money,
    "bool": parse_bool,
    "list": parse_list,
    "date": parse_day,
    "end_date": parse_end_date,
    "age_dist": parse_age_dist,
    "age_bands": parse_age_bands,
}

_TEXT_TYPES = frozenset({"id", "text"})


def _by_distinct(cells: Sequence[Any], parse: Callable[[Any], Any], text: bool) -> tuple:
    """Parse each distinct cell once (ids, dates, enums repeat a lot in metrics files)."""
    parsed: dict[Any, Any] = {}
    failed: dict[Any, str] = {}
    for cell in set(cells):
        blank = (
            (cell is None or (isinstance(cell, str) and not cell.strip()))
            if text
            else is_blank(cell)
        )
        if blank:
            parsed[cell] = None
            continue
        try:
            result = parse(cell)
        except ValueError as exc:
            failed[cell] = str(exc)
            result = None
        if text and result == "":
            result = None
        parsed[cell] = result
    values = list(map(parsed.__getitem__, cells))
    errors = [(i, failed[c]) for i, c in enumerate(cells) if c in failed] if failed else []
    return values, errors


def _plain_number(fast: type, cell: Any) -> Any:
    """`fast(cell)` for a plain number ("12", "0.5"), None for anything the full parser
    must read (units, percent signs, 万, blanks)."""
    try:
        return fast(cell)
    except ValueError:
        return None


def _numbers(cells: Sequence[Any], parse: Callable[[Any], Any], fast: type, texts: bool) -> tuple:
    """Numbers through `map(float|int)` when every cell is plain, else cell by cell."""
    if texts:
        # a cell that is not a plain number sends the column down the cell-by-cell path
        with contextlib.suppress(ValueError, TypeError, OverflowError):
            values = list(map(fast, cells))
            ok = min(values, default=0) >= 0 and max(values, default=0) <= MAX_INT
            if ok and fast is float:
                total = math.fsum(values)  # nan or inf anywhere makes the sum nan or inf
                ok = math.isfinite(total)
            if ok:
                return values, []
    values: list[Any] = [None] * len(cells)
    errors: Errors = []
    for i, cell in enumerate(cells):
        if texts:
            number = _plain_number(fast, cell)
            if (
                number is not None
                and number >= 0
                and number <= MAX_INT  # inf is above it; nan is refused by both tests
            ):
                values[i] = number
                continue
        if is_blank(cell):
            continue
        try:
            values[i] = parse(cell)
        except ValueError as exc:
            errors.append((i, str(exc)))
    return values, errors


def parse_column(column: Column, cells: Sequence[Any], texts: bool) -> tuple[list, Errors, list]:
    """Parse one column; `texts` says every cell is a str (CSV), enabling the fast paths."""
    kind = column.type
    if kind == "ratio":
        return parse_ratio_column(cells, texts)
    if kind == "int":
        return (*_numbers(cells, parse_int, int, texts), [])
    if kind in ("float", "money"):
        return (*_numbers(cells, CELL_PARSERS[kind], float, texts), [])
    if kind == "enum":
        assert column.enum is not None
        return (*_by_distinct(cells, enum_parser(column.enum), False), [])
    return (*_by_distinct(cells, CELL_PARSERS[kind], kind in _TEXT_TYPES), [])
