"""Writing an import: which rows go in (all, the good ones, or none), the rejects file, the
metric rows combined per creator-day, and the one transaction that writes them (all or
nothing). The reading and checking half is `importer._FileImport`."""

from __future__ import annotations

import csv
import difflib
import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select

from qcrules.errors import InputError
from qcrules.i18n import tr
from qcrules.ingest import columns as C
from qcrules.ingest.results import Problem
from qcrules.ingest.values import MAX_INT, cell_text, is_blank
from qcrules.ingest.writer import count, existing, table, upsert_columns
from qcrules.model.tables import Creator, DailyMetric, Grant, Merchant, PoolMember
from qcrules.safety import mask_secret, spreadsheet_cell, spreadsheet_id

MODELS = {
    "merchants": Merchant,
    "creators": Creator,
    "pool": PoolMember,
    "grants": Grant,
    "metrics": DailyMetric,
}
WRITE_CHUNK = 50_000
MAX_LINES_IN_MESSAGE = 8


class _Writing:
    """The writing half of `importer._FileImport` (it supplies the parsed, checked rows)."""

    def _settle(self) -> list[int] | range | None:
        """Decide what gets written: everything, the good rows (--skip-invalid), or nothing."""
        report = self.report
        if not self.bad:
            return range(self.sheet.rows)
        report.problems.extend(self._problems())
        report.rejected = len(self.bad)
        if not self.job.skip_invalid:
            report.failed = True
            return None
        if not self.job.dry_run:
            self._write_rejects()
        return [i for i in range(self.sheet.rows) if i not in self.bad]

    def _problems(self) -> list[Problem]:
        order = {h: j for j, h in enumerate(self.sheet.headers)}
        out = []
        lines = self.sheet.lines
        for i in sorted(self.bad):
            for header, value, reason in sorted(
                self.bad[i], key=lambda p: order.get(p[0], -1) if p[0] else -1
            ):
                out.append(
                    Problem(lines[i], header, None if value is None else cell_text(value), reason)
                )
        return out

    def _write_rejects(self) -> None:
        sheet = self.sheet
        secret = {
            self.index_of[c.name] for c in self.kind.columns if c.secret and c.name in self.index_of
        }
        ids = {  # fixed in a spreadsheet and imported again: Excel must keep them whole
            self.index_of[c.name]
            for c in self.kind.columns
            if c.type == "id" and c.name in self.index_of
        }
        target = self.rejects_target
        try:
            fh = target.open("w", encoding="utf-8-sig", newline="")
        except OSError as exc:
            raise InputError(
                tr(
                    f"无法写入拒绝文件 {target}：{exc.strerror}；未导入任何数据",
                    f"cannot write the rejects file {target}: {exc.strerror}; nothing was imported",
                )
            ) from None
        with fh:
            writer = csv.writer(fh)
            writer.writerow([*map(spreadsheet_cell, sheet.headers), "line", "reason"])
            for i in sorted(self.bad):
                row = [
                    mask_secret(cell)
                    if j in secret
                    else (spreadsheet_id if j in ids else spreadsheet_cell)(cell_text(cell))
                    for j, cell in enumerate(sheet.row(i))
                ]
                reasons = "; ".join(
                    f"{header}: {reason}" if header else reason
                    for header, _v, reason in self.bad[i]
                )
                writer.writerow([*row, sheet.lines[i], reasons])
        self.report.rejects_path = str(target)

    # -- rows ----------------------------------------------------------------------------------
    def _names(self) -> list[str]:
        return [*self.values, *(["extra"] if self.extra else [])]

    def _column_chunks(self, rows: Sequence[int]) -> Iterator[list[list[Any]]]:
        """The values to write, WRITE_CHUNK rows at a time, one list per `_names()` entry."""
        columns = list(self.values.values())
        extra = self.extra
        sheet_columns = self.sheet.columns
        everything = isinstance(rows, range) and len(rows) == self.sheet.rows
        for start in range(0, len(rows), WRITE_CHUNK):
            if everything:
                stop = min(start + WRITE_CHUNK, len(rows))
                part: Sequence[int] = range(start, stop)
                chunk = [col[start:stop] for col in columns]
            else:
                part = rows[start : start + WRITE_CHUNK]
                chunk = [[col[i] for i in part] for col in columns]
            if extra and self.extras is not None:
                chunk.append([self.extras[i] for i in part])
            elif extra:
                extras = []
                for i in part:
                    data = {
                        key: _extra_value(sheet_columns[j][i])
                        for key, j in extra
                        if not is_blank(sheet_columns[j][i])
                    }
                    extras.append(data or None)
                chunk.append(extras)
            yield chunk

    def _combine_metric_rows(self, rows: Sequence[int]) -> Sequence[int]:
        """One stored row per key (merchant, creator, day, grant, account): a file's rows of
        one key — several 计划 or 素材 rows of a creator-day — are summed, never rejected as
        duplicates, and an empty grant or account is '' (the key is NOT NULL). Re-importing
        the file produces the same sums, so it stays idempotent."""
        values, n = self.values, self.sheet.rows
        for name in ("grant_id", "account_id"):
            column = values.get(name)
            values[name] = [""] * n if column is None else ["" if v is None else v for v in column]
        groups = self._key_groups(rows)
        if groups is None:
            return rows
        extra, columns = self.extra, self.sheet.columns
        combined: dict[str, list[Any]] = {name: [] for name in values}
        extras: list[dict[str, Any] | None] = []
        for members in groups.values():
            for name in values:
                combined[name].append(_combine(name, members, values))
            if extra:
                cells = [
                    {
                        k: _extra_value(columns[j][i])
                        for k, j in extra
                        if not is_blank(columns[j][i])
                    }
                    for i in members
                ]
                extras.append(_combine_extras(cells))
        self.values = combined
        self.extras = extras if extra else None
        self.report.notes.append(
            tr(
                f"{len(rows)} 行按 商家+达人+日期+授权+账户 合并为 {len(groups)} 行（同一天的多个计划/素材行相加）",
                f"{len(rows)} rows summed into {len(groups)} by merchant, creator, day, grant "
                "and account (several plan or material rows of one day)",
            )
        )
        return range(len(groups))

    def _key_groups(self, rows: Sequence[int]) -> dict[tuple, list[int]] | None:
        """`rows` by their metrics key (an empty grant or account is ''), or None when no
        key is there twice — a daily export's usual case, found by zipping in C."""
        values, n = self.values, self.sheet.rows
        columns = [values.get(k) or [None] * n for k in self.kind.key]
        every = isinstance(rows, range) and rows == range(n)
        if every and len(set(zip(*columns, strict=True))) == n:
            return None
        keyed: Any = (
            enumerate(zip(*columns, strict=True))
            if every
            else ((i, tuple(c[i] for c in columns)) for i in rows)
        )
        groups: dict[tuple, list[int]] = {}
        for i, key in keyed:
            groups.setdefault(tuple("" if v is None else v for v in key), []).append(i)
        return None if len(groups) == len(rows) else groups

    def _check_sums(self) -> None:
        """Rows of one key are summed when written: a count whose sum is above 2**53 is
        refused on each of those rows, as one cell above it is (no count is that large, and
        every reading computes counts exactly only up to it)."""
        values = self.values
        groups = self._key_groups(range(self.sheet.rows))
        if groups is None:
            return
        counts = [
            name for name in _SUMMED if name in values and any(type(v) is int for v in values[name])
        ]
        for members in groups.values():
            if len(members) < 2:
                continue
            for name in counts:
                column = values[name]
                total = sum(column[i] or 0 for i in members)
                if total <= MAX_INT:
                    continue
                for i in members:
                    self._bad(
                        i,
                        self.header_of.get(name, name),
                        column[i],
                        tr(
                            f"同一达人同一天的 {len(members)} 行相加为 {total}，超过 2**53",
                            f"the {len(members)} rows of this creator-day add up to {total}, "
                            "above 2**53",
                        ),
                    )

    def _constants(self) -> dict[str, Any]:
        now = _now()
        model = MODELS[self.kind.name]
        cols = table(model).c
        out = {}
        if "created_at" in cols:
            out["created_at"] = now
        if "updated_at" in cols:
            out["updated_at"] = now
        return out

    def _other_layouts(self, conn, rows: Sequence[int]) -> None:
        """Warn when creator-days of this file already have rows of another layout — without
        an account or grant where the file names one, or the other way round: the same
        delivery imported from two export layouts would count twice (rows are summed)."""
        if self.kind.name != "metrics" or not rows:
            return
        values = self.values
        columns = [values[k] for k in ("merchant_id", "aweme_id", "date", "grant_id", "account_id")]
        every = isinstance(rows, range) and rows == range(len(columns[0]))

        def column(j: int) -> Any:
            return columns[j] if every else [columns[j][i] for i in rows]

        mids, awemes, dates = (sorted(set(column(j))) for j in range(3))
        # the stored rows on this file's creator-days first: a first import finds none, and
        # the file's rows need no pass at all
        m = table(DailyMetric).c
        stored: dict[tuple, list[tuple]] = {}
        for start in range(0, len(awemes), 900):
            query = select(m.merchant_id, m.aweme_id, m.date, m.grant_id, m.account_id).where(
                m.merchant_id.in_(mids),
                m.aweme_id.in_(awemes[start : start + 900]),
                m.date >= dates[0],
                m.date <= dates[-1],
            )
            for mid, aweme, day, grant, account in conn.execute(query):
                stored.setdefault((mid, aweme, day), []).append((grant, account))
        if not stored:
            return
        each: Any = (
            zip(*columns, strict=True) if every else (tuple(c[i] for c in columns) for i in rows)
        )
        layouts: dict[tuple, set[tuple[bool, bool]]] = {}
        for mid, aweme, day, grant, account in each:
            if (mid, aweme, day) in stored:
                layouts.setdefault((mid, aweme, day), set()).add((bool(grant), bool(account)))
        clashes: list[tuple] = [
            (key[1], key[2], grant, account)
            for key, mine in layouts.items()
            for grant, account in stored[key]
            if (bool(grant), bool(account)) not in mine
        ]
        if not clashes:
            return
        aweme, day, grant, account = min(clashes, key=lambda c: (c[1], c[0]))
        none = tr("无", "none")
        self.report.warnings.append(
            tr(
                f"{len(clashes)} 行已存的指标与本文件同一达人同一天，但账户/授权的有无不同"
                f"（如 达人 {aweme} {day.isoformat()}：千川账户 {account or none}，授权 {grant or none}）；"
                "它们会与本文件的行相加。若是同一份投放用不同导出格式导入了两次，会被重复计算",
                f"{len(clashes)} stored metric rows are on the same creator-days as this file but "
                f"with or without an account or grant where this file differs (e.g. creator "
                f"{aweme} on {day.isoformat()}: account {account or none}, grant {grant or none}); "
                "they are summed with this file's rows, so the same delivery imported from two "
                "export layouts counts twice",
            )
        )

    def _dry_run(self, rows: Sequence[int]) -> None:
        with self.job.db.connect() as conn:
            self._other_layouts(conn, rows)
        found = self._existing_keys(rows)
        self.report.updated = found
        self.report.inserted = len(rows) - found
        self._pool(rows, write=False)

    def _existing_keys(self, rows: Sequence[int]) -> int:
        kind, values = self.kind, self.values
        tbl = table(MODELS[kind.name])
        keys = {tuple(values[k][i] for k in kind.key) for i in rows}
        if not keys:
            return 0
        with self.job.db.connect() as conn:
            if len(kind.key) == 1:
                return len(existing(conn, tbl.c[kind.key[0]], [k[0] for k in keys]))
            by_merchant: dict[str, set] = {}
            for key in keys:
                by_merchant.setdefault(key[0], set()).add(key[1:])
            hits = 0
            for mid, rest in by_merchant.items():
                if kind.name == "pool":
                    hits += len(
                        existing(
                            conn, tbl.c.aweme_id, [r[0] for r in rest], tbl.c.merchant_id == mid
                        )
                    )
                    continue
                days = [r[1] for r in rest]
                query = select(*[tbl.c[k] for k in kind.key[1:]]).where(
                    tbl.c.merchant_id == mid, tbl.c.date >= min(days), tbl.c.date <= max(days)
                )
                stored = set(map(tuple, conn.execute(query)))
                hits += len(rest & stored)
            return hits

    def _write(self, rows: Sequence[int]) -> None:
        kind = self.kind
        model = MODELS[kind.name]
        constants = self._constants()
        names = self._names()
        merge = ["extra"] if self.extra else []
        update = [n for n in [*names, *constants] if n not in (*kind.key, "created_at", *merge)]
        total = len(rows)
        progress = self.job.progress

        def on_write(done: int) -> None:
            if progress:
                progress(self.name, "write", done, total)

        # under the write lock: the counts below see only this import's rows, and the upsert
        # sets only the columns the file brings (an action's change to others stays)
        with self.job.db.write(f"import {kind.name}") as conn:
            self._other_layouts(conn, rows)
            before = count(conn, model)
            upsert_columns(
                conn,
                model,
                kind.key,
                update,
                names,
                self._column_chunks(rows),
                merge_json=merge,
                constants=constants,
                progress=on_write,
                keep_stored=[n for n in names if n not in kind.key]
                if kind.blank_keeps_stored
                else (),
            )
            after = count(conn, model)
            self._pool(rows, write=True, conn=conn)
        self.report.inserted = max(0, min(total, after - before))
        self.report.updated = total - self.report.inserted
        self.report.written = True

    def _pool(self, rows: Sequence[int], *, write: bool, conn=None) -> None:
        """`import creators --merchant M`: every imported creator joins M's pool as candidate."""
        if self.kind.name != "creators":
            return
        merchant = self.job.default_merchant
        if not merchant:
            if self.job.many_merchants:
                self.report.notes.append(
                    tr(
                        "未加入任何商家的达人池（用 --merchant 指定）",
                        "creators were not added to any pool (pass --merchant M)",
                    )
                )
            return
        ids = self.values["aweme_id"]
        wanted = sorted({ids[i] for i in rows})
        pool = table(PoolMember)
        if write:
            before = count(conn, PoolMember, merchant_id=merchant)
            constants = {"merchant_id": merchant, "status": "candidate", "updated_at": _now()}
            chunks = ([wanted[s : s + WRITE_CHUNK]] for s in range(0, len(wanted), WRITE_CHUNK))
            key = ("merchant_id", "aweme_id")
            upsert_columns(conn, PoolMember, key, (), ["aweme_id"], chunks, constants=constants)
            added = max(0, count(conn, PoolMember, merchant_id=merchant) - before)
        else:
            with self.job.db.connect() as c2:
                there = existing(c2, pool.c.aweme_id, wanted, pool.c.merchant_id == merchant)
            added = len(wanted) - len(there)
        self.report.pool = {"merchant": merchant, "added": added, "kept": len(wanted) - added}

    # -- helpers -------------------------------------------------------------------------------
    def _bad(self, i: int, header: str | None, value: Any, reason: str, *, secret: bool = False):
        if secret and value is not None:
            value = mask_secret(value)
        self.bad.setdefault(i, []).append((header, value, reason))


@contextmanager
def _no_gc() -> Iterator[None]:
    """Millions of short-lived cell lists make the cyclic GC rescan everything over and over
    (it tripled the time of a 1.8M-row import); nothing here creates cycles."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _now() -> datetime:
    """Aware UTC: sqlmodel's datetime columns refuse naive values."""
    return datetime.now(UTC)


def _extra_value(cell: Any) -> Any:
    if isinstance(cell, str):
        return cell.strip()
    if isinstance(cell, date):
        return cell_text(cell)
    if isinstance(cell, float) and cell.is_integer():
        return int(cell)
    return cell


_RATE_MARKS = ("率", "占比", "比例", "%", "rate", "ratio")
_SUMMED = ("spend", "impressions", "clicks", "orders", "gmv", "conversions", "add_to_cart")


def _combine(name: str, members: list[int], values: dict[str, list[Any]]) -> Any:
    """One column of the rows (`members`) that share a metrics key: counts and money add up
    (unknown if any row lacks it); the old-fan share of orders is weighted by orders; key
    columns are equal anyway."""
    column = values[name]
    if len(members) == 1:
        return column[members[0]]
    cells = [column[i] for i in members]
    if name in _SUMMED:
        return None if any(c is None for c in cells) else sum(cells)
    if name == "old_fan_order_ratio":
        orders = [values["orders"][i] for i in members] if "orders" in values else []
        if not orders or any(c is None for c in cells) or any(o is None for o in orders):
            return None
        total = sum(orders)
        return sum(c * o for c, o in zip(cells, orders, strict=True)) / total if total else None
    return cells[0]


def _combine_extras(cells: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Extra columns of summed rows: equal values kept, differing numbers added up unless
    the header names a rate or share (a sum of rates means nothing), other values dropped."""
    out: dict[str, Any] = {}
    for key in dict.fromkeys(k for cell in cells for k in cell):
        found = [cell[key] for cell in cells if key in cell]
        if all(v == found[0] for v in found):
            out[key] = found[0]
        elif all(isinstance(v, int | float) and not isinstance(v, bool) for v in found) and not any(
            mark in key for mark in _RATE_MARKS
        ):
            out[key] = sum(found)
    return out or None


def _show(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def _lines(lines: Sequence[int]) -> str:
    shown = ", ".join(str(n) for n in lines[:MAX_LINES_IN_MESSAGE])
    more = len(lines) - MAX_LINES_IN_MESSAGE
    return shown + (tr(f" 等共 {len(lines)} 行", f" and {more} more") if more > 0 else "")


def _closest(headers: list[str], names: list[str]) -> str | None:
    best, best_score = None, 0.0
    for header in headers:
        for name in names:
            score = difflib.SequenceMatcher(None, C.match_key(header), C.match_key(name)).ratio()
            if score > best_score:
                best, best_score = header, score
    return best if best_score >= 0.5 else None
