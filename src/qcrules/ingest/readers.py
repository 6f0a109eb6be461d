"""Reading CSV and XLSX exports into columns of raw cells, with spreadsheet line numbers.

Real exports come as UTF-8, UTF-8 with a BOM (Excel's "CSV UTF-8"), GB18030 (Excel on a
Chinese Windows), UTF-16 (Excel's "Unicode text") or XLSX; some have a title line above the
header and a 合计 line at the bottom. Everything here is about getting to the cells; what the
cells mean is `values.py`'s job.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import re
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qcrules.errors import InputError
from qcrules.i18n import tr

CHUNK = 65_536
HEAD_ROWS = 10  # rows searched for the header (title lines above it are skipped)
TOTAL_WORDS = frozenset(
    {"合计", "总计", "汇总", "总和", "total", "totals", "sum", "Total", "TOTAL"}
)
# A totals line's first cell as exports write it: the word alone, or followed at once by a
# colon or a bracket and what they hold (合计：, 总计(共3条), Total: 12, 【合计】). A word
# followed by more words (Total Wine, 合计划) is data, as is any other first cell.
_TOTAL_FORM = re.compile(
    r"\s*[【\[（(]?\s*(?:合计|总计|汇总|总和|total|totals|sum)\s*"
    r"(?:[】\]）)]\s*|[:：（(\[【].*)?",
    re.IGNORECASE | re.DOTALL,
)
_TOTAL_START = frozenset("合总汇tTsS【[（( \u3000")  # where a totals cell can start


def is_total(cell: Any) -> bool:
    """Whether a row whose first cell is `cell` is the export's totals line."""
    if not isinstance(cell, str):
        return False
    return cell in TOTAL_WORDS or _TOTAL_FORM.fullmatch(cell) is not None


Progress = Callable[[str, int, int | None], None]


@dataclass
class Sheet:
    """One file's table: the header as written and the data cells column by column."""

    path: Path
    format: str
    headers: list[str]
    header_line: int
    columns: list[list[Any]]
    lines: array  # spreadsheet line number of each data row
    texts: bool  # every cell is a str (CSV): parsers may take their fast paths
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line, first cell)
    overflow_lines: list[int] = field(default_factory=list)  # rows wider than the header
    # a workbook of several sheets: the one read, and every sheet's name in order
    sheet_name: str | None = None
    sheet_names: list[str] = field(default_factory=list)
    fits: bool = True  # the header read has what `fits` asked for (else no sheet had it)

    @property
    def rows(self) -> int:
        return len(self.lines)

    def row(self, index: int) -> list[Any]:
        return [col[index] for col in self.columns]


def unreadable(path: Path, why: str) -> InputError:
    return InputError(
        tr(f"{path}: 无法读取：{why}", f"{path}: cannot read the file: {why}"),
        hint=tr(
            "请提供 CSV（UTF-8 或 GB18030）或 XLSX 文件",
            "give a CSV (UTF-8 or GB18030) or an XLSX file",
        ),
    )


def read_table(
    path: Path,
    *,
    pick_header: Callable[[list[list[Any]]], int] | None = None,
    fits: Callable[[list[Any]], bool] | None = None,
    progress: Progress | None = None,
) -> Sheet:
    """Read a CSV or XLSX file. `pick_header` chooses the header among the first rows; in a
    workbook of several sheets, the first sheet whose header `fits` is read (an info or notes
    sheet before the data is passed over), or the first sheet when none fits."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            magic = fh.read(8)
    except FileNotFoundError:
        raise unreadable(path, tr("文件不存在", "no such file")) from None
    except IsADirectoryError:
        raise unreadable(path, tr("这是一个文件夹", "it is a folder")) from None
    except OSError as exc:
        raise unreadable(path, exc.strerror or str(exc)) from None
    if magic.startswith(b"PK\x03\x04"):
        return _read_xlsx(path, pick_header, fits, progress)
    if magic.startswith(b"\xd0\xcf\x11\xe0"):
        raise unreadable(
            path,
            tr(
                "这是旧版 .xls 文件；请另存为 .xlsx 或 CSV",
                "this is a legacy .xls workbook; save it as .xlsx or CSV",
            ),
        )
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        raise unreadable(path, tr("不是有效的 XLSX 文件", "not a valid XLSX workbook"))
    return _read_csv(path, pick_header, progress)


# --- CSV ---------------------------------------------------------------------------------------


_ESCAPED = re.compile("[\udc80-\udcff]")  # a byte that is not UTF-8, kept by surrogateescape
_CJK = "\u3000-\u9fff\uff00-\uffef"
# a whole line (after a newline) of valid UTF-8 holding Chinese; possessive, so a line with
# an undecodable byte fails at once instead of backtracking
_UTF8_CHINESE_LINE = re.compile(
    f"\n[^\n\udc80-\udcff{_CJK}]*+[{_CJK}][^\n\udc80-\udcff]*+(?=\n|\\Z)"
)


def _line_of(data: bytes | str, position: int) -> int:
    newline = b"\n" if isinstance(data, bytes) else "\n"
    return data.count(newline, 0, position) + 1  # type: ignore[arg-type]


def mixed_encoding_line(raw: bytes) -> int | None:
    """The line where a file that is not all UTF-8 changes encoding, when some of its lines
    are UTF-8 Chinese and others are not (two exports pasted together); None otherwise.

    GB18030 decodes almost any bytes, so such a file would import as mojibake without a
    word. At C speed (about a second for 1.8M lines): one lenient decode, then one search
    for a line of Chinese that is valid UTF-8 from end to end."""
    text = raw.decode("utf-8", "surrogateescape")
    bad = _ESCAPED.search(text)
    if bad is None:
        return None
    good = _UTF8_CHINESE_LINE.search("\n" + text)
    if good is None:
        return None
    return max(_line_of(text, good.start()), _line_of(text, bad.start()))


def _mixed(path: Path, line: int) -> InputError:
    return unreadable(
        path,
        tr(
            f"第 {line} 行起编码改变（文件混用了 UTF-8 与 GB18030）；请把整个文件另存为同一种编码",
            f"the encoding changes on line {line} (the file mixes UTF-8 and GB18030); "
            "save the whole file in one encoding",
        ),
    )


def decode(raw: bytes, path: Path) -> tuple[str, str]:
    """Text and encoding name: BOM → utf-8-sig / utf-16; else strict UTF-8; else GB18030."""
    if raw.startswith(codecs.BOM_UTF8):
        try:
            return raw[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            line = _line_of(raw, exc.start + 3)
            raise unreadable(
                path,
                tr(
                    f"第 {line} 行 UTF-8 编码错误（文件以 UTF-8 BOM 开头，此行却不是 UTF-8）",
                    f"broken UTF-8 on line {line} ({exc.reason}): the file starts as UTF-8 "
                    "(a BOM) but this line is not",
                ),
            ) from None
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise unreadable(path, tr("UTF-16 编码错误", "broken UTF-16")) from None
    if b"\x00" in raw[:4096]:
        raise unreadable(path, tr("这是二进制文件，不是 CSV", "a binary file, not a CSV"))
    with contextlib.suppress(UnicodeDecodeError):  # not UTF-8: 千川/Excel exports use GB18030
        return raw.decode("utf-8"), "utf-8"
    line = mixed_encoding_line(raw)
    if line is not None:
        raise _mixed(path, line)
    try:
        return raw.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        raise unreadable(
            path,
            tr(
                "编码既不是 UTF-8 也不是 GB18030",
                "the encoding is neither UTF-8 nor GB18030",
            ),
        ) from None


def sniff_delimiter(text: str) -> str:
    """Comma unless the header line says tab (or, failing both, semicolon)."""
    first = next((line for line in text[:65_536].splitlines() if line.strip()), "")
    counts = {d: first.count(d) for d in (",", "\t", ";")}
    if counts["\t"] > counts[","]:
        return "\t"
    if not counts[","] and not counts["\t"] and counts[";"]:
        return ";"
    return ","


def _read_csv(path: Path, pick_header, progress: Progress | None) -> Sheet:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise unreadable(path, exc.strerror or str(exc)) from None
    text, encoding = decode(raw, path)
    del raw
    delimiter = sniff_delimiter(text)
    stream = io.StringIO(text)
    reader = csv.reader(stream, delimiter=delimiter)
    total = len(text)

    def numbered() -> Iterator[tuple[int, list[str]]]:
        last = 0
        try:
            for row in reader:
                start = last + 1
                last = reader.line_num
                yield start, row
        except csv.Error as exc:
            raise unreadable(
                path, tr(f"第 {last + 1} 行 CSV 格式错误：{exc}", f"line {last + 1}: {exc}")
            ) from None

    def report(done_rows: int) -> None:
        if progress:
            progress("read", stream.tell(), total)

    fmt = f"csv ({encoding}{', tab' if delimiter == chr(9) else ''})"
    return _assemble(path, fmt, numbered(), True, pick_header, report, reader=reader)


# --- XLSX --------------------------------------------------------------------------------------


# What a damaged workbook raises from inside openpyxl, zipfile, zlib and the XML parser
# (ParseError is a SyntaxError): a bad zip stream, a missing part, malformed XML.
_BROKEN_XLSX: tuple[type[BaseException], ...] = (
    KeyError,
    OSError,
    ValueError,
    EOFError,
    SyntaxError,
    TypeError,
    AttributeError,
    IndexError,
)


def _read_xlsx(path: Path, pick_header, fits, progress: Progress | None) -> Sheet:
    """Read the first sheet; a damaged workbook (bad zip stream, malformed XML, a missing
    part) is an unreadable file, found before anything is written."""
    import zipfile
    import zlib

    broken = (*_BROKEN_XLSX, zipfile.BadZipFile, zlib.error)
    try:
        return _read_xlsx_sheet(path, pick_header, fits, progress)
    except InputError:
        raise
    except broken as exc:
        why = str(exc).strip() or type(exc).__name__
        raise unreadable(
            path,
            tr(
                f"不是有效的 XLSX 文件，或文件已损坏（{why}）",
                f"not a valid XLSX workbook, or a damaged one ({why})",
            ),
        ) from None


def _read_xlsx_sheet(path: Path, pick_header, fits, progress: Progress | None) -> Sheet:
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        sheets = workbook.worksheets
        if not sheets:
            raise unreadable(path, tr("工作簿里没有工作表", "the workbook has no sheets"))
        for sheet in sheets:
            sheet.reset_dimensions()  # some exporters write a wrong <dimension>

        def numbered(sheet) -> Iterator[tuple[int, list[Any]]]:
            for line, row in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1):
                yield line, [_xlsx_cell(v) for v in row]

        def report(done_rows: int) -> None:
            if progress:
                progress("read", done_rows, None)

        chosen, fitting = sheets[0], True
        if fits is not None and len(sheets) > 1:
            fitting = False
            for sheet in sheets:
                head = _head(numbered(sheet))
                if head and fits(head[pick_header(head) if pick_header else 0]):
                    chosen, fitting = sheet, True
                    break
        table = _assemble(path, "xlsx", numbered(chosen), False, pick_header, report)
        if len(sheets) > 1:
            table.sheet_name = chosen.title
            table.sheet_names = [sheet.title for sheet in sheets]
            table.fits = fitting
        return table
    finally:
        workbook.close()


def _xlsx_cell(value: Any) -> Any:
    if isinstance(value, str):
        return value if value.strip() else None
    return value


# --- shared ------------------------------------------------------------------------------------


def _blank_row(row: list[Any]) -> bool:
    return not any(cell is not None and (not isinstance(cell, str) or cell.strip()) for cell in row)


def _head(rows: Iterable[tuple[int, list[Any]]]) -> list[list[Any]]:
    """The first HEAD_ROWS rows that are not blank, where the header is looked for."""
    head = []
    for _line, row in rows:
        if row and not _blank_row(row):
            head.append(row)
            if len(head) >= HEAD_ROWS:
                break
    return head


def _assemble(
    path: Path,
    fmt: str,
    numbered: Iterable[tuple[int, list[Any]]],
    texts: bool,
    pick_header,
    report: Callable[[int], None],
    reader: Any = None,
) -> Sheet:
    """Find the header among the first rows, then collect the data rows column by column.

    `reader` (a csv.reader) enables the hot loop: big CSVs skip the generic per-row checks.
    """
    rows = iter(numbered)
    head: list[tuple[int, list[Any]]] = []
    for line, row in rows:
        if row and not _blank_row(row):
            head.append((line, row))
            if len(head) >= HEAD_ROWS:
                break
    if not head:
        raise unreadable(path, tr("文件是空的（没有表头行）", "the file is empty (no header row)"))
    index = pick_header([r for _, r in head]) if pick_header else 0
    header_line, header_row = head[index]
    headers = [("" if h is None else str(h).strip()) for h in header_row]
    while headers and not headers[-1]:
        headers.pop()
    width = len(headers)
    empty: Any = "" if texts else None
    columns: list[list[Any]] = [[] for _ in range(width)]
    lines = array("L")
    skipped: list[tuple[int, str]] = []
    overflow: list[int] = []
    chunk: list[list[Any]] = []

    def flush() -> None:
        if chunk:
            for target, cells in zip(columns, zip(*chunk, strict=True), strict=True):
                target.extend(cells)
            chunk.clear()
            report(len(lines))

    def take(line: int, row: list[Any]) -> None:
        if len(row) != width:
            if len(row) > width:
                if not _blank_row(row[width:]):
                    overflow.append(line)
                row = row[:width]
            else:
                row = row + [empty] * (width - len(row))
        if not row or _blank_row(row):
            return
        first = row[0]
        if not is_total(first) and _blank_row(row[:1]):
            # a totals line whose word sits in the second or third cell, the first left
            # empty (`,合计,12,…`: a merchant column merged above the totals)
            first = next((c for c in row[1:3] if is_total(c)), first)
        if is_total(first):
            skipped.append((line, str(first).strip()))
            return
        lines.append(line)
        chunk.append(row)

    for line, row in head[index + 1 :]:
        take(line, row)
    if reader is not None:
        add_line, add_row = lines.append, chunk.append
        last = reader.line_num
        try:
            for row in reader:
                line = last + 1
                last = reader.line_num
                if len(row) == width and row[0] and row[0][0] not in _TOTAL_START:
                    add_line(line)
                    add_row(row)
                elif row:
                    take(line, row)
                if len(chunk) >= CHUNK:
                    flush()
        except csv.Error as exc:
            raise unreadable(
                path, tr(f"第 {last + 1} 行 CSV 格式错误：{exc}", f"line {last + 1}: {exc}")
            ) from None
    else:
        for line, row in rows:
            take(line, row)
            if len(chunk) >= CHUNK:
                flush()
    flush()
    if width == 0:
        raise unreadable(path, tr("表头行是空的", "the header row is empty"))
    return Sheet(path, fmt, headers, header_line, columns, lines, texts, skipped, overflow)
