"""Importing a file: read, map headers, parse every cell, check every row, then write it all in
one transaction — or nothing, with every bad row listed.

All or nothing per file, because a half-imported metrics export silently skews every ROI rule.
`skip_invalid` is the explicit way out: good rows go in, bad rows go to a rejects CSV.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from qcrules.errors import InputError, UsageError
from qcrules.i18n import did_you_mean, tr
from qcrules.ingest import columns as C
from qcrules.ingest.checks import _Checks
from qcrules.ingest.readers import read_table
from qcrules.ingest.results import FileReport, ImportResult, Problem
from qcrules.ingest.values import is_blank, parse_column
from qcrules.ingest.writer import existing, table
from qcrules.ingest.writing import (
    _closest,
    _lines,
    _no_gc,
    _Writing,
)
from qcrules.model.db import Database
from qcrules.model.tables import Creator, Merchant

Progress = Callable[[str, str, int, int | None], None]  # (file, phase, done, total)


# --- the entry point ---------------------------------------------------------------------------


def run_import(
    db: Database,
    kind: str,
    paths: Iterable[str | Path],
    *,
    merchant: str | None = None,
    dry_run: bool = False,
    skip_invalid: bool = False,
    rejects: str | Path | None = None,
    progress: Progress | None = None,
    aliases: dict[str, Any] | None = None,
    today: date | None = None,
) -> ImportResult:
    """Import files of one kind; each file is its own transaction. See contracts.md.

    `aliases` adds header names ({column: [names]}); by default plugins' header maps
    (`qcrules_register_importers`) are used. `today` (default: the machine's) is the last
    day a metric may have, but one: a later day has not happened yet.
    """
    spec = kind_spec(kind)
    paths = [Path(p) for p in paths]
    if not paths:
        raise UsageError(tr("没有给出要导入的文件", "no files to import"))
    rejects_dir = _rejects_dir(rejects, paths)
    if merchant is not None and spec.name in ("merchants",):
        raise UsageError(
            tr("--merchant 不适用于商家文件", "--merchant does not apply to a merchants file")
        )
    with db.connect() as conn:
        merchants = sorted(conn.execute(select(table(Merchant).c.merchant_id)).scalars())
    if merchant is not None:
        merchant = merchant.strip()
        if merchant not in merchants:
            raise UsageError(
                tr(f"未知商家 {merchant!r}", f"unknown merchant {merchant!r}")
                + (did_you_mean(merchant, merchants, cutoff=0.5)),
                hint=tr("已有商家：", "known merchants: ")
                + (
                    ", ".join(merchants[:20])
                    or tr("（无；先导入商家）", "(none; import merchants first)")
                ),
            )
    default_merchant = merchant or (merchants[0] if len(merchants) == 1 else None)
    extra_aliases = aliases if aliases is not None else plugin_aliases(spec.name)
    job = _Job(
        db=db,
        kind=spec,
        merchant=merchant,
        default_merchant=default_merchant,
        dry_run=dry_run,
        skip_invalid=skip_invalid,
        progress=progress,
        aliases=extra_aliases,
        many_merchants=len(merchants) > 1,
        today=today or date.today(),
    )
    reports = []
    for path in paths:
        if rejects_dir is not None:
            target = rejects_dir / f"{path.name}.rejects.csv"
        elif rejects is not None:
            target = Path(rejects)
        else:
            target = path.with_name(f"{path.name}.rejects.csv")
        reports.append(job.run(path, target))
    return ImportResult(spec.name, dry_run, reports)


def kind_spec(kind: str) -> C.Kind:
    if kind in C.KINDS:
        return C.KINDS[kind]
    raise UsageError(
        tr(f"未知的导入类型 {kind!r}", f"unknown import kind {kind!r}")
        + did_you_mean(str(kind), C.KINDS, cutoff=0.5),
        hint=tr("可用：", "choose from: ") + ", ".join(C.KINDS),
    )


def plugin_aliases(kind: str) -> dict[str, list[str]]:
    """Header names contributed by plugins for one kind (a broken host contributes none)."""
    out: dict[str, list[str]] = {}
    try:
        from qcrules.plugins.manager import get_host

        contributed = get_host().contributions().importers
    except Exception:
        return out
    for plugin_kind, _name, names, _origin in contributed:
        if plugin_kind != kind:
            continue
        for column, headers in names.items():
            out.setdefault(column, []).extend([headers] if isinstance(headers, str) else headers)
    return out


def _rejects_dir(rejects: str | Path | None, paths: list[Path]) -> Path | None:
    if rejects is None:
        return None
    target = Path(rejects)
    if target.is_dir() or str(rejects).endswith(("/", "\\")):
        target.mkdir(parents=True, exist_ok=True)
        return target
    if len(paths) > 1:
        raise UsageError(
            tr(
                "--rejects 指定了一个文件，但要导入多个文件",
                "--rejects names one file but several files are imported",
            ),
            hint=tr(
                "给 --rejects 一个文件夹（以 / 结尾），每个文件各写一个",
                "pass a folder (ending in /) to --rejects to get one rejects file per input",
            ),
        )
    return None


# --- one file ----------------------------------------------------------------------------------


@dataclass
class _Job:
    db: Database
    kind: C.Kind
    merchant: str | None
    default_merchant: str | None
    dry_run: bool
    skip_invalid: bool
    progress: Progress | None
    aliases: dict[str, Any]
    many_merchants: bool
    today: date

    def run(self, path: Path, rejects_target: Path) -> FileReport:
        started = time.perf_counter()
        report = FileReport(str(path), self.kind.name, dry_run=self.dry_run)
        try:
            with _no_gc():
                _FileImport(self, path, report, rejects_target).run()
        except InputError as exc:
            report.failed = True
            # the problem is shown after the file's name already: not "f.csv: f.csv: …"
            reason = exc.message.removeprefix(f"{report.path}: ")
            report.problems.insert(0, Problem(None, None, None, reason))
            if exc.hint:
                report.notes.append(exc.hint)
        except DBAPIError as exc:
            report.failed = True
            report.written = False
            report.problems.append(
                Problem(
                    None,
                    None,
                    None,
                    tr(
                        "数据库拒绝写入，未写入任何行：",
                        "the database refused the rows; nothing was written: ",
                    )
                    + str(exc.orig).splitlines()[0],
                )
            )
        report.seconds = time.perf_counter() - started
        return report


class _FileImport(_Checks, _Writing):
    """The state of one file's import; `run()` goes through the phases in order."""

    def __init__(self, job: _Job, path: Path, report: FileReport, rejects_target: Path) -> None:
        self.job = job
        self.kind = job.kind
        self.path = path
        self.name = str(path)
        self.report = report
        self.rejects_target = rejects_target
        self.hmap = C.header_map(self.kind, job.aliases)
        # plugin names for columns that are not canonical ones: kept in `extra` under that
        # name (e.g. 直播间观看人数 -> live_watch_ucnt), where plugin fields read them
        self.extra_names = {
            C.match_key(name): target
            for target, names in (job.aliases or {}).items()
            if target not in self.kind.by_name
            for name in [target, *([names] if isinstance(names, str) else names)]
        }
        self.values: dict[str, list[Any]] = {}
        self.header_of: dict[str, str] = {}
        self.index_of: dict[str, int] = {}
        self.extra: list[tuple[str, int]] = []
        self.bad: dict[int, list[tuple[str | None, Any, str]]] = {}
        self.extras: list[dict[str, Any] | None] | None = None  # set when rows were combined
        self.failed_cells: dict[str, set[int]] = {}  # column -> rows whose cell did not parse
        # the kind's age_dist column (fan_age_dist) and the per-band share columns that
        # give it instead (星图: 18-23岁粉丝比例, …): band -> (sheet column index, header)
        self.age_dist = next((c.name for c in self.kind.columns if c.type == "age_dist"), None)
        self.age_bands: dict[str, tuple[int, str]] = {}

    # -- phases --------------------------------------------------------------------------------
    def run(self) -> None:
        progress = self.job.progress

        def on_read(phase: str, done: int, total: int | None) -> None:
            if progress:
                progress(self.name, phase, done, total)

        sheet = read_table(
            self.path, pick_header=self._pick_header, fits=self._header_fits, progress=on_read
        )
        self.sheet = sheet
        self.report.format = sheet.format
        self.report.rows = sheet.rows
        if not self._map_headers():
            self.report.failed = True
            return
        self._parse()
        self._check_rows()
        self._check_references()
        rows = self._settle()
        if rows is None:
            return
        if self.kind.name == "metrics":
            rows = self._combine_metric_rows(rows)
        if self.job.dry_run:
            self._dry_run(rows)
        else:
            self._write(rows)

    def _pick_header(self, head: list[list[Any]]) -> int:
        """The header is the first row that names the most known columns (title rows above)."""
        scores = [sum(1 for h in row if C.match_key(h) in self.hmap) for row in head]
        best = max(scores)
        return scores.index(best) if best else 0

    def _missing_required(self, present: Iterable[str]) -> list[Any]:
        """The kind's required columns a header lacks (the merchant may come from --merchant,
        and creators may be named by 抖音号)."""
        present = set(present)
        missing = []
        for column in self.kind.columns:
            if not column.required or column.name in present:
                continue
            if column.name == "merchant_id" and self.job.default_merchant:
                continue
            if column.name == "aweme_id" and "aweme_show_id" in present:
                continue  # creators named by 抖音号 (_resolve_handles)
            missing.append(column)
        return missing

    def _header_fits(self, row: list[Any]) -> bool:
        """Whether a header row has the required columns (a workbook's sheet to read)."""
        names = {self.hmap.get(C.match_key(str(h).strip())) for h in row if h is not None}
        return not self._missing_required(n for n in names if n)

    def _map_headers(self) -> bool:
        sheet, report, kind = self.sheet, self.report, self.kind
        unknown: list[str] = []
        derived: list[str] = []
        file_problems: list[Problem] = []
        seen_extra: dict[str, str] = {}
        for j, header in enumerate(sheet.headers):
            if not header:
                if any(not is_blank(c) for c in sheet.columns[j]):
                    report.warnings.append(
                        tr(
                            f"第 {j + 1} 列没有表头，已忽略",
                            f"column {j + 1} has no header and was ignored",
                        )
                    )
                continue
            canonical = self.hmap.get(C.match_key(header))
            if canonical:
                if canonical in self.index_of:
                    first = self.header_of[canonical]
                    file_problems.append(
                        Problem(
                            sheet.header_line,
                            header,
                            None,
                            tr(
                                f"与列 {first!r} 表示同一字段 {canonical}；请删除其中一列",
                                f"means {canonical}, like column {first!r}; remove one of them",
                            ),
                        )
                    )
                    continue
                self.index_of[canonical] = j
                self.header_of[canonical] = header
            elif self.age_dist and (band := C.age_band_header(header)) is not None:
                if band in self.age_bands:
                    first = self.age_bands[band][1]
                    file_problems.append(
                        Problem(
                            sheet.header_line,
                            header,
                            None,
                            tr(
                                f"与列 {first!r} 表示同一年龄段 {band}；请删除其中一列",
                                f"means the age band {band}, like column {first!r}; "
                                "remove one of them",
                            ),
                        )
                    )
                    continue
                self.age_bands[band] = (j, header)
            elif kind.name == "metrics" and C.is_derived(header):
                derived.append(header)
            elif kind.keeps_extra:
                key = self.extra_names.get(C.match_key(header)) or C.normalize_header(header)
                if key in seen_extra:
                    report.warnings.append(
                        tr(
                            f"列 {header!r} 与 {seen_extra[key]!r} 同名，已忽略",
                            f"column {header!r} repeats {seen_extra[key]!r} and was ignored",
                        )
                    )
                    continue
                seen_extra[key] = header
                self.extra.append((key, j))
                report.extra_columns.append(header)
            else:
                unknown.append(header)
        if self.age_bands and self.age_dist in self.index_of:
            # the distribution given both ways: its own column wins, the bands stay as data
            bands = [header for _j, header in self.age_bands.values()]
            for j, header in self.age_bands.values():
                self.extra.append((C.normalize_header(header), j))
                report.extra_columns.append(header)
            self.age_bands = {}
            report.warnings.append(
                tr(
                    f"已有列 {self.header_of[self.age_dist]!r}，年龄段列 {'、'.join(bands)} "
                    f"未用作 {self.age_dist}（保存在 extra 中）",
                    f"column {self.header_of[self.age_dist]!r} gives {self.age_dist}, so the "
                    f"age band columns {', '.join(bands)} were not used for it (kept in `extra`)",
                )
            )
        names = [n for c in kind.columns for n in C.all_names(kind, c, self.job.aliases)]
        for header in [*unknown, *report.extra_columns]:
            if C.match_key(header) in self.extra_names:
                continue  # a plugin's header map names it (成交人数 -> live_pay_ucnt): known
            close = C.suggest(header, names, cutoff=0.75)
            if close and C.match_key(close[0]) != C.match_key(header):
                report.warnings.append(
                    tr(
                        f"列 {header!r} 无法识别；你是不是想写 {close[0]!r}？",
                        f"column {header!r} is not known; did you mean {close[0]!r}?",
                    )
                )
        if unknown:
            report.ignored_columns.extend(unknown)
            report.warnings.append(
                tr("已忽略无法识别的列：", "ignored unknown columns: ") + ", ".join(unknown)
            )
        if report.extra_columns:
            report.notes.append(
                tr("以下列保存在 extra 中：", "kept in `extra`: ") + ", ".join(report.extra_columns)
            )
        if derived:
            report.ignored_columns.extend(derived)
            report.notes.append(
                tr(
                    "已忽略点击率/ROI/转化率列（由原始计数计算，不采信文件）：",
                    "ignored CTR/ROI/CVR columns (qcrules derives them from the raw counts): ",
                )
                + ", ".join(derived)
            )
        for line, first in sheet.skipped:
            report.notes.append(
                tr(
                    f"已跳过第 {line} 行的合计行（{first}）",
                    f"skipped the totals line {line} ({first})",
                )
            )
        if sheet.overflow_lines:
            report.warnings.append(
                tr(
                    "以下行的单元格比表头多，多出的已忽略：",
                    "cells beyond the header were ignored on lines ",
                )
                + _lines(sheet.overflow_lines)
            )
        found = ", ".join(h for h in sheet.headers if h) or tr("（无）", "(none)")
        if sheet.sheet_names and sheet.fits and sheet.sheet_name != sheet.sheet_names[0]:
            passed = sheet.sheet_names[: sheet.sheet_names.index(sheet.sheet_name)]
            report.notes.append(
                tr(
                    f"读取工作表「{sheet.sheet_name}」：第一个有必需列的工作表"
                    f"（跳过了 {'、'.join(passed)}）",
                    f"read the sheet {sheet.sheet_name!r}, the first with the required columns "
                    f"(passed over: {', '.join(map(repr, passed))})",
                )
            )
        sheets = ""
        if sheet.sheet_names and not sheet.fits:
            sheets = tr(
                f"；查看了全部工作表（{'、'.join(sheet.sheet_names)}），没有一个的表头含有"
                f"必需的列；以上是第一个工作表「{sheet.sheet_name}」的表头",
                f"; looked at every sheet ({', '.join(map(repr, sheet.sheet_names))}) and none "
                f"has a header with the required columns: these are the first sheet's, "
                f"{sheet.sheet_name!r}",
            )
        for column in self._missing_required(self.index_of):
            names = C.all_names(kind, column, self.job.aliases)
            unmapped = [h for h in sheet.headers if h and C.match_key(h) not in self.hmap]
            close = _closest(unmapped, names)
            reason = tr(
                f"缺少必需的列 {column.name}（也可写作：{'、'.join(names[1:6])}）；文件中的表头：{found}",
                f"required column {column.name!r} is missing (also accepted: "
                f"{', '.join(names[1:6])}); headers found: {found}",
            )
            reason += sheets
            if close:
                reason += did_you_mean(close, [close])
            if column.name == "merchant_id":
                reason += tr(
                    "（或用 --merchant 指定商家）", " (or pass --merchant to name the merchant)"
                )
            file_problems.append(Problem(sheet.header_line, None, None, reason))
        report.columns = dict(self.header_of)
        if file_problems:
            report.problems.extend(file_problems)
            return False
        if sheet.rows == 0:
            report.notes.append(tr("文件没有数据行", "the file has no data rows"))
        return True

    def _parse(self) -> None:
        sheet = self.sheet
        n = sheet.rows
        progress = self.job.progress
        for step, (name, j) in enumerate(self.index_of.items()):
            if progress:
                progress(self.name, "check", step, len(self.index_of))
            column = self.kind.by_name[name]
            values, errors, notes = parse_column(column, sheet.columns[j], sheet.texts)
            self.values[name] = values
            self.failed_cells[name] = {i for i, _ in errors}
            header = self.header_of[name]
            for i, reason in errors:
                self._bad(i, header, sheet.columns[j][i], reason, secret=column.secret)
            if column.secret:  # a rejects file hides codes: importing it back must not store that
                for i, value in enumerate(values):
                    if isinstance(value, str) and value.startswith("****"):
                        values[i] = None
                        self._bad(
                            i,
                            header,
                            value,
                            tr(
                                "是隐藏后的合作码（拒绝文件只写后 4 位）；请从原文件复制完整的码",
                                "a hidden code (a rejects file writes only its last 4 "
                                "characters): copy the whole code from the original file",
                            ),
                        )
            if "0–100" in notes:
                self.report.notes.append(
                    tr(f"列 {header!r} 按 0–100 读取", f"column {header!r} read on the 0–100 scale")
                )
        if self.age_bands:
            self._parse_age_bands()
        # the merchant: from --merchant (or the only merchant) where the file does not say
        if "merchant_id" in self.kind.by_name and self.kind.name != "merchants":
            default = self.job.default_merchant
            if "merchant_id" not in self.values:
                self.values["merchant_id"] = [default] * n
            elif default:
                values = self.values["merchant_id"]
                failed = self.failed_cells.get("merchant_id", set())
                for i, value in enumerate(values):
                    if value is None and i not in failed:
                        values[i] = default
                if self.job.merchant:
                    header = self.header_of["merchant_id"]
                    for i, value in enumerate(values):
                        if value is not None and value != self.job.merchant:
                            self._bad(
                                i,
                                header,
                                value,
                                tr(
                                    f"与 --merchant {self.job.merchant} 不一致",
                                    f"differs from --merchant {self.job.merchant}",
                                ),
                            )
        self._resolve_handles()
        for column in self.kind.columns:
            if not column.required or column.name not in self.values:
                continue
            values = self.values[column.name]
            if None not in values:
                continue
            header = self.header_of.get(column.name, column.name)
            j = self.index_of.get(column.name)
            failed = self.failed_cells.get(column.name, set())
            for i, value in enumerate(values):
                if value is None and i not in failed:
                    raw = sheet.columns[j][i] if j is not None else None
                    text = str(raw).strip() if isinstance(raw, str) else ""
                    self._bad(
                        i,
                        header,
                        raw,
                        tr(f"必填，但 {text!r} 表示空值", f"required, but {text!r} means empty")
                        if text  # "-", "nan", "N/A": an export's way of writing no value
                        else tr("必填，不能为空", "required, but empty"),
                    )

    def _parse_age_bands(self) -> None:
        """The per-band share columns as one age distribution per row, the same
        {band: share} the single column gives. The bands are one field, so they are read on
        one scale (0.12, 12% or all on 0–100); a blank cell is a band with no data, a row
        with every band blank has none, and shares adding up to more than 100% are refused."""
        sheet, n = self.sheet, self.sheet.rows
        bands = list(self.age_bands.items())
        cells = [cell for _band, (j, _h) in bands for cell in sheet.columns[j]]
        values, errors, notes = parse_column(C.Column("age_band", "ratio"), cells, sheet.texts)
        failed: set[int] = set()
        for k, reason in errors:
            band_index, i = divmod(k, n)
            j, header = bands[band_index][1]
            failed.add(i)
            self._bad(i, header, sheet.columns[j][i], reason)
        dists: list[dict[str, float] | None] = [None] * n
        for i in range(n):
            dist = {
                band: values[b * n + i]
                for b, (band, _where) in enumerate(bands)
                if values[b * n + i] is not None
            }
            if not dist or i in failed:
                continue
            if sum(dist.values()) > 1.02:
                failed.add(i)
                shown = ", ".join(f"{band}:{share:.4g}" for band, share in dist.items())
                first, last = bands[0][1][1], bands[-1][1][1]
                self._bad(
                    i,
                    first if first == last else f"{first}…{last}",
                    shown,
                    tr(
                        "各年龄段占比之和超过 100%",
                        "the age band shares add up to more than 100%",
                    ),
                )
                continue
            dists[i] = dist
        name = self.age_dist
        assert name is not None
        self.values[name] = dists
        self.failed_cells[name] = failed
        headers = [header for _j, header in self.age_bands.values()]
        self.header_of[name] = self.report.columns[name] = tr("、", ", ").join(headers)
        if "0–100" in notes:
            self.report.notes.append(
                tr(
                    f"年龄段列 {self.header_of[name]} 按 0–100 读取",
                    f"the age band columns {self.header_of[name]} were read on the 0–100 scale",
                )
            )

    def _resolve_handles(self) -> None:
        """Creators named by 抖音号 (the handle 千川 search shows) instead of 达人UID: in a
        抖音号 column, or written in the UID column itself. Each is matched to the UID of the
        creator already imported with that handle; a UID that is known always wins. The
        handle is never written to this file's table."""
        if self.kind.name == "creators" or "aweme_show_id" not in self.kind.by_name:
            return
        n = self.sheet.rows
        handles = self.values.pop("aweme_show_id", None)
        handle_header = self.header_of.pop("aweme_show_id", "aweme_show_id")
        self.index_of.pop("aweme_show_id", None)
        ids = self.values.get("aweme_id")
        if ids is None:
            ids = self.values["aweme_id"] = [None] * n
            self.header_of["aweme_id"] = handle_header
        wanted = {v for v in (*ids, *(handles or ())) if v is not None}
        if not wanted:
            return
        creators = table(Creator)
        by_handle: dict[str, str] = {}
        with self.job.db.connect() as conn:
            known = existing(conn, creators.c.aweme_id, wanted)
            rest = list(wanted - known)
            for start in range(0, len(rest), 900):
                query = select(creators.c.aweme_show_id, creators.c.aweme_id).where(
                    creators.c.aweme_show_id.in_(rest[start : start + 900])
                )
                by_handle.update({show: aweme for show, aweme in conn.execute(query)})
        failed = self.failed_cells.setdefault("aweme_id", set())
        matched = 0
        for i in range(n):
            value = ids[i]
            if value is not None:
                if value not in known and value in by_handle:
                    ids[i] = by_handle[value]
                    matched += 1
                continue
            handle = handles[i] if handles is not None else None
            if handle is None:
                continue
            if handle in by_handle:
                ids[i] = by_handle[handle]
                matched += 1
            elif handle in known:
                ids[i] = handle  # a UID in the 抖音号 column
            else:
                failed.add(i)
                self._bad(
                    i,
                    handle_header,
                    handle,
                    tr(
                        "未知抖音号（没有导入过该抖音号的达人）；请先导入达人（含抖音号列）",
                        "unknown 抖音号 (no imported creator has it); import the creators, "
                        "with their 抖音号, first",
                    ),
                )
        if matched:
            self.report.notes.append(
                tr(
                    f"{matched} 行按抖音号匹配到达人UID",
                    f"{matched} row(s) matched to a creator by 抖音号 (aweme_show_id)",
                )
            )
