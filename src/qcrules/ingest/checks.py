"""The checks of an import that look past one cell: across the rows of the file (an end
before its start, more clicks than impressions, a day not yet come, a key twice) and against
the records (unknown merchants, creators and grants). A mixin of `importer._FileImport`, which
supplies the parsed values, the sheet and `_bad`."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from qcrules.i18n import did_you_mean, tr
from qcrules.ingest.writer import existing, table
from qcrules.ingest.writing import _lines, _show
from qcrules.model.tables import Creator, Grant, Merchant


class _Checks:
    def _check_rows(self) -> None:
        values = self.values
        if self.kind.name == "grants" and "starts_at" in values and "ends_at" in values:
            header = self.header_of["ends_at"]
            for i, (start, end) in enumerate(
                zip(values["starts_at"], values["ends_at"], strict=True)
            ):
                if start is not None and end is not None and end < start:
                    self._bad(
                        i, header, end.isoformat(), tr("结束早于开始", "ends before it starts")
                    )
        if self.kind.name == "metrics":
            header = self.header_of.get("clicks", "clicks")
            for i, (shown, clicked) in enumerate(
                zip(values["impressions"], values["clicks"], strict=True)
            ):
                if shown is not None and clicked is not None and clicked > shown:
                    self._bad(
                        i,
                        header,
                        clicked,
                        tr(f"点击数多于展示数 {shown}", f"more clicks than impressions ({shown})"),
                    )
        if self.kind.name == "metrics":
            self._check_days()
            self._check_sums()  # rows of one key are plan or material rows: summed
            return
        # duplicate keys within the file
        key_columns = [values[k] for k in self.kind.key]
        keys = list(zip(*key_columns, strict=True))
        if len(set(keys)) == len(keys):
            return
        first_line: dict[tuple, int] = {}
        lines = self.sheet.lines
        for i, key in enumerate(keys):
            if None in key:
                continue
            first = first_line.setdefault(key, i)
            if first != i:
                shown = ", ".join(
                    f"{k}={_show(v)}" for k, v in zip(self.kind.key, key, strict=True)
                )
                self._bad(
                    i,
                    None,
                    None,
                    tr(
                        f"重复的键（{shown}），与第 {lines[first]} 行相同",
                        f"duplicate key ({shown}): also on line {lines[first]}",
                    ),
                )

    def _check_days(self) -> None:
        """A metric's day has happened: a later one is a typo (2062 for 2026) that would sit
        in no window, unseen. 千川's day is China's; the machine's today may be a day
        behind it, so tomorrow passes. Today's (and tomorrow's) numbers are not settled yet
        (千川 finishes a day the next morning): they go in, with a warning."""
        today: date = self.job.today
        header = self.header_of.get("date", "date")
        unsettled: list[int] = []
        for i, day in enumerate(self.values["date"]):
            if day is None or day < today:
                continue
            if day > today + timedelta(days=1):
                check = (
                    tr(
                        f"请检查年份（是否把 {today.year} 误写成了 {day.year}）",
                        f"check the year (was {today.year} meant?)",
                    )
                    if day.year != today.year
                    else tr("请检查日期", "check the date")
                )
                self._bad(
                    i,
                    header,
                    day.isoformat(),
                    tr(
                        f"日期在未来（今天是 {today}）：投放数据只能是已经过去的日子；{check}",
                        f"is in the future (today is {today}): a metric's day has already "
                        f"happened; {check}",
                    ),
                )
            else:
                unsettled.append(self.sheet.lines[i])
        if unsettled:
            self.report.warnings.append(
                tr(
                    f"{len(unsettled)} 行是今天（{today}）或之后的数据，尚未结算，之后还会变化："
                    f"千川次日上午才给出稳定数据；明天请重新导入这一天（第 {_lines(unsettled)} 行）",
                    f"{len(unsettled)} row(s) are dated today ({today}) or later and not settled "
                    "yet: 千川's numbers for a day are final the next morning; import that day "
                    f"again tomorrow (lines {_lines(unsettled)})",
                )
            )

    def _check_references(self) -> None:
        kind = self.kind
        if not kind.references:
            return
        with self.job.db.connect() as conn:
            for ref in kind.references:
                if ref not in self.values:
                    continue
                values = self.values[ref]
                wanted = {v for v in set(values) if v is not None}
                if not wanted:
                    continue
                if ref == "merchant_id":
                    tbl = table(Merchant)
                    known = existing(conn, tbl.c.merchant_id, wanted)
                elif ref == "aweme_id":
                    tbl = table(Creator)
                    known = existing(conn, tbl.c.aweme_id, wanted)
                else:
                    self._check_grants(conn, wanted)
                    continue
                unknown = wanted - known
                if not unknown:
                    continue
                reasons = self._unknown_reasons(conn, ref, unknown)
                header = self.header_of.get(ref, ref)
                for i, value in enumerate(values):
                    if value in unknown:
                        self._bad(i, header, value, reasons[value])

    def _unknown_reasons(self, conn, ref: str, unknown: set[str]) -> dict[str, str]:
        if ref == "merchant_id":
            merchants = list(conn.execute(select(table(Merchant).c.merchant_id)).scalars())
            out = {}
            for value in unknown:
                out[value] = tr(
                    "未知商家（数据库中没有）", "unknown merchant (not in the database)"
                ) + (
                    did_you_mean(value, merchants, cutoff=0.5)
                    or tr("；请先导入商家", "; import merchants first")
                )
            return out
        tbl = table(Creator)
        by_show: dict[str, str] = {}
        part = list(unknown)
        for start in range(0, len(part), 900):
            query = select(tbl.c.aweme_show_id, tbl.c.aweme_id).where(
                tbl.c.aweme_show_id.in_(part[start : start + 900])
            )
            by_show.update({show: aweme for show, aweme in conn.execute(query)})
        out = {}
        for value in unknown:
            if value in by_show:
                out[value] = tr(
                    f"这是抖音号；请用达人UID {by_show[value]}",
                    f"this is a 抖音号 (aweme_show_id); use the creator's aweme_id {by_show[value]}",
                )
            else:
                out[value] = tr(
                    "未知达人（数据库中没有）；请先导入达人",
                    "unknown creator (not in the database); import creators first",
                )
        return out

    def _check_grants(self, conn, wanted: set[str]) -> None:
        tbl = table(Grant)
        found: dict[str, tuple[str, str]] = {}
        part = list(wanted)
        for start in range(0, len(part), 900):
            query = select(tbl.c.grant_id, tbl.c.merchant_id, tbl.c.aweme_id).where(
                tbl.c.grant_id.in_(part[start : start + 900])
            )
            for gid, mid, aid in conn.execute(query):
                found[gid] = (mid, aid)
        header = self.header_of.get("grant_id", "grant_id")
        merchants, creators = self.values["merchant_id"], self.values["aweme_id"]
        for i, gid in enumerate(self.values["grant_id"]):
            if gid is None:
                continue
            pair = found.get(gid)
            if pair is None:
                self._bad(
                    i,
                    header,
                    gid,
                    tr("未知授权（数据库中没有）", "unknown grant (not in the database)"),
                )
            elif pair != (merchants[i], creators[i]):
                self._bad(
                    i,
                    header,
                    gid,
                    tr(
                        f"该授权属于商家 {pair[0]} 与达人 {pair[1]}",
                        f"this grant belongs to merchant {pair[0]} and creator {pair[1]}",
                    ),
                )
