"""`qcrules report`: the monitoring sheet (效果监测表) — CTR, ROI and CVR per grant and day,
each against the band the monitoring rules use, as CSV, a self-contained HTML page or XLSX."""

from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from qcrules.actions.agreement import require_grants, require_merchant
from qcrules.errors import UsageError
from qcrules.facts.single import grant_days
from qcrules.i18n import tr
from qcrules.model.db import table
from qcrules.model.tables import Creator
from qcrules.safety import for_terminal, spreadsheet_cell, spreadsheet_id
from qcrules.workspace import Workspace

FORMATS = ("csv", "html", "xlsx")
# the guide's CTR bands (seed 三.1), for a workspace whose packs declare none in [bands]
BANDS_DEFAULT = {"ctr_low": 0.01, "ctr_normal_min": 0.03, "ctr_normal_max": 0.10, "ctr_broad": 0.20}


@dataclass
class SheetRow:
    grant_id: str
    merchant_id: str
    aweme_id: str
    nickname: str
    day: date
    spend: float
    impressions: int
    clicks: int
    orders: int | None
    gmv: float | None
    ctr: float | None
    roi: float | None
    cvr: float | None
    ctr_band: str | None  # low | below | normal | above | broad
    roi_band: str | None  # below | ok (against break-even)
    cvr_band: str | None  # below | ok (against the industry)
    break_even_roi: float | None
    industry_cvr: float | None


@dataclass
class Sheet:
    as_of: date
    days: int
    bands: dict[str, float]  # the workspace's; a merchant's overrides in merchant_bands
    rows: list[SheetRow]
    merchant_bands: dict[str, dict[str, float]] = field(default_factory=dict)

    def bands_for(self, merchant_id: str | None) -> dict[str, float]:
        """The bands a merchant's rows are judged against: its [merchant.<id>.params] bind
        the pack's band parameters as they bind the rules'."""
        return self.merchant_bands.get(merchant_id or "", self.bands)


def _ratio(top: float | int | None, bottom: float | int | None) -> float | None:
    if top is None or not bottom:
        return None
    return float(top) / float(bottom)


def ctr_band(ctr: float | None, bands: dict[str, float]) -> str | None:
    """Where a CTR falls in the monitoring pack's bands (rule-catalog MON001–MON003)."""
    if ctr is None:
        return None
    if ctr < bands["ctr_low"]:
        return "low"
    if ctr < bands["ctr_normal_min"]:
        return "below"
    if ctr <= bands["ctr_normal_max"]:
        return "normal"
    return "above" if ctr <= bands["ctr_broad"] else "broad"


def _bands(workspace: Workspace) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """The sheet's bands from the pack in effect that declares them in [bands] (the built-in
    monitoring pack, or one that replaces it), and per merchant where its parameter overrides
    change them: the same binding as the rules', so the sheet and MON001–MON003 agree."""
    from qcrules.evaluation import merchant_params
    from qcrules.packs.registry import load_packs

    packset = load_packs(workspace.config)
    declaring = next((p for p in packset.packs if p.bands), None)
    if declaring is None:
        return dict(BANDS_DEFAULT), {}
    default = {**BANDS_DEFAULT, **declaring.band_values()}
    per_merchant = {}
    for merchant_id in workspace.config.merchant_params:
        bound = {
            **BANDS_DEFAULT,
            **declaring.band_values(merchant_params(declaring, workspace, merchant_id)),
        }
        if bound != default:
            per_merchant[merchant_id] = bound
    return default, per_merchant


def build_sheet(
    workspace: Workspace,
    *,
    as_of: date | None = None,
    days: int = 14,
    merchant: str | None = None,
    grants: list[str] | None = None,
) -> Sheet:
    if days < 1 or days > 366:
        raise UsageError(
            tr(f"--days {days} 不在 1 到 366 之间", f"--days {days} is not between 1 and 366"),
            hint=tr("例如 --days 14", "for example --days 14"),
        )
    as_of = as_of or date.today()
    with workspace.db.connect() as conn:
        if merchant is not None:
            require_merchant(conn, merchant)
        if grants:
            require_grants(conn, grants)
        creators = table(Creator)
        names = dict(conn.execute(select(creators.c.aweme_id, creators.c.nickname)).all())
    bands, merchant_bands = _bands(workspace)
    rows = []
    for d in grant_days(
        workspace.db,
        as_of,
        days=days,
        merchant_id=merchant,
        grant_ids=grants,
        merchant_defaults=workspace.config.merchants,
    ):
        ctr = _ratio(d.clicks, d.impressions)
        roi = _ratio(d.gmv, d.spend)
        cvr = _ratio(d.orders, d.clicks)
        rows.append(
            SheetRow(
                d.grant_id,
                d.merchant_id,
                d.aweme_id,
                names.get(d.aweme_id, ""),
                d.day,
                d.spend,
                d.impressions,
                d.clicks,
                d.orders,
                d.gmv,
                ctr,
                roi,
                cvr,
                ctr_band(ctr, merchant_bands.get(d.merchant_id, bands)),
                None
                if roi is None or d.break_even_roi is None
                else ("below" if roi < d.break_even_roi else "ok"),
                None
                if cvr is None or d.industry_cvr is None
                else ("below" if cvr < d.industry_cvr else "ok"),
                d.break_even_roi,
                d.industry_cvr,
            )
        )
    return Sheet(as_of, days, bands, rows, merchant_bands)


COLUMNS = [
    ("grant_id", "授权ID", "grant"),
    ("merchant_id", "商家", "merchant"),
    ("aweme_id", "达人UID", "creator"),
    ("nickname", "达人昵称", "nickname"),
    ("day", "日期", "date"),
    ("spend", "消耗", "spend"),
    ("impressions", "展示次数", "impressions"),
    ("clicks", "点击次数", "clicks"),
    ("orders", "成交订单数", "orders"),
    ("gmv", "成交金额", "GMV"),
    ("ctr", "点击率", "CTR"),
    ("ctr_band", "点击率区间", "CTR band"),
    ("roi", "ROI", "ROI"),
    ("break_even_roi", "保本ROI", "break-even ROI"),
    ("roi_band", "ROI对比保本", "ROI vs break-even"),
    ("cvr", "转化率", "CVR"),
    ("industry_cvr", "行业转化率", "industry CVR"),
    ("cvr_band", "转化率对比行业", "CVR vs industry"),
]
PERCENT = {"ctr", "cvr", "industry_cvr"}
IDS = {"grant_id", "merchant_id", "aweme_id"}  # text in a spreadsheet, however many digits
BAND_LABEL = {
    "low": ("过低", "too low"),
    "below": ("偏低", "below"),
    "normal": ("正常", "normal"),
    "above": ("偏高", "above"),
    "broad": ("过泛", "too broad"),
    "ok": ("达标", "ok"),
}
OUT_OF_BAND = {"low", "below", "above", "broad"}


def _headers() -> list[str]:
    return [tr(zh, en) for _, zh, en in COLUMNS]


def _text(row: SheetRow, key: str) -> str:
    value = getattr(row, key)
    if value is None:
        return ""
    if key.endswith("_band"):
        zh, en = BAND_LABEL[value]
        return tr(zh, en)
    if key in PERCENT:
        return f"{value:.2%}"
    if key in ("roi", "break_even_roi"):
        return f"{value:.2f}"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def render_csv(sheet: Sheet) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_headers())
    for row in sheet.rows:  # every cell a value: no formula from a nickname (OWASP)
        writer.writerow(
            [
                (spreadsheet_id if key in IDS else spreadsheet_cell)(_text(row, key))
                for key, _, _ in COLUMNS
            ]
        )
    return out.getvalue()


def render_html(sheet: Sheet) -> str:
    b = sheet.bands
    title = tr("效果监测表", "Monitoring sheet")
    legend = tr(
        f"点击率正常区间 {b['ctr_normal_min']:.0%}–{b['ctr_normal_max']:.0%}，"
        f"低于 {b['ctr_low']:.0%} 过低，高于 {b['ctr_broad']:.0%} 过泛；ROI 对比保本 ROI；"
        "转化率对比行业均值。标红为超出区间。",
        f"CTR normal band {b['ctr_normal_min']:.0%}–{b['ctr_normal_max']:.0%}, below "
        f"{b['ctr_low']:.0%} too low, above {b['ctr_broad']:.0%} too broad; ROI against the "
        "break-even ROI; CVR against the industry. Red cells are out of band.",
    )
    for merchant_id, mb in sorted(sheet.merchant_bands.items()):
        legend += tr(
            f"（商家 {merchant_id}：{mb['ctr_normal_min']:.0%}–{mb['ctr_normal_max']:.0%}，"
            f"{mb['ctr_low']:.0%} / {mb['ctr_broad']:.0%}）",
            f" (merchant {merchant_id}: {mb['ctr_normal_min']:.0%}–{mb['ctr_normal_max']:.0%}, "
            f"{mb['ctr_low']:.0%} / {mb['ctr_broad']:.0%})",
        )
    head = "".join(f"<th>{html.escape(h)}</th>" for h in _headers())
    body = []
    for row in sheet.rows:
        cells = []
        for key, _, _ in COLUMNS:
            value = getattr(row, key)
            css = ""
            if key.endswith("_band") and value is not None:
                css = ' class="out"' if value in OUT_OF_BAND else ' class="ok"'
            cells.append(f"<td{css}>{html.escape(for_terminal(_text(row, key)))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"""<!doctype html>
<html lang="{tr("zh", "en")}"><head><meta charset="utf-8"><title>{title} {sheet.as_of}</title>
<style>
body {{ font-family: system-ui, "PingFang SC", "Microsoft YaHei", sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; font-size: 13px; }}
th, td {{ border: 1px solid #ccc; padding: 3px 6px; text-align: right; white-space: nowrap; }}
th {{ background: #f3f3f3; position: sticky; top: 0; }}
td.out {{ background: #fde2e1; color: #a40000; font-weight: 600; }}
td.ok {{ background: #e6f4ea; }}
</style></head><body>
<h1>{title}</h1>
<p>{html.escape(tr(f"截至 {sheet.as_of}，近 {sheet.days} 天", f"{sheet.days} days to {sheet.as_of}"))}
 · {len(sheet.rows)} {tr("行", "rows")}</p>
<p>{html.escape(legend)}</p>
<table><thead><tr>{head}</tr></thead><tbody>
{chr(10).join(body)}
</tbody></table></body></html>
"""


def write_xlsx(sheet: Sheet, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill

    book = Workbook()
    ws = book.active
    ws.title = tr("效果监测", "Monitoring")
    ws.append(_headers())
    for cell in ws[1]:
        cell.font = Font(bold=True)
    red = PatternFill("solid", fgColor="FDE2E1")
    green = PatternFill("solid", fgColor="E6F4EA")
    for row in sheet.rows:
        values: list[Any] = []
        for key, _, _ in COLUMNS:
            value = getattr(row, key)
            values.append(spreadsheet_cell(_text(row, key) if key.endswith("_band") else value))
        ws.append(values)
        line = ws.max_row
        for index, (key, _, _) in enumerate(COLUMNS, start=1):
            cell = ws.cell(row=line, column=index)
            if isinstance(cell.value, str):
                cell.data_type = "s"  # a value, never a formula, whatever the text
            if key in PERCENT:
                cell.number_format = "0.00%"
            elif key in ("roi", "break_even_roi", "spend", "gmv"):
                cell.number_format = "0.00"
            elif key == "day":
                cell.number_format = "yyyy-mm-dd"
            if key.endswith("_band") and getattr(row, key) is not None:
                cell.fill = red if getattr(row, key) in OUT_OF_BAND else green
    ws.freeze_panes = "A2"
    for index, (key, _, _) in enumerate(COLUMNS, start=1):
        ws.column_dimensions[ws.cell(row=1, column=index).column_letter].width = (
            22 if key in ("aweme_id", "nickname") else 12
        )
    book.save(path)
