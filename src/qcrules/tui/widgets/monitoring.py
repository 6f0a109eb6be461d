"""The Monitoring tab (效果监测): per active grant its 7-day CTR, ROI and CVR against the
merchant's bands, trends of the last 14 days, and the selected grant's days with charts."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Static

from qcrules.i18n import tr
from qcrules.tui.present import OUT_OF_BAND, bar_chart, num, pct, ratio_text, while_open
from qcrules.tui.widgets import RunTab, add_columns, split
from qcrules.tui.widgets.charts import GrantCharts
from qcrules.tui.widgets.paged import PagedTable


class MonitoringTab(RunTab):
    def __init__(self, title: str, **kwargs: Any) -> None:
        super().__init__(title, **kwargs)
        self.sheet: Any = None  # the monitoring sheet of the last run's as-of date
        self.grant_rows: list[tuple[str, list[Any]]] = []  # grant id -> its days, in the table

    def compose_content(self) -> ComposeResult:
        with Horizontal(classes=split(self.app.size.width)):
            yield PagedTable(id="grants-table", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="grant-detail-scroll", classes="detail"):
                yield Static(id="grant-detail")
                yield GrantCharts(id="grant-charts")

    def content_mounted(self) -> None:
        table = self.query_one("#grants-table", PagedTable)
        add_columns(
            table,
            (
                ("grant", tr("授权", "Grant")),
                ("name", tr("达人", "Creator")),
                ("merchant", tr("商家", "Merchant")),
                ("ctr", tr("点击率", "CTR")),
                ("ctr_trend", tr("点击率走势", "CTR trend")),
                ("roi", "ROI"),
                ("roi_trend", tr("ROI走势", "ROI trend")),
                ("cvr", tr("转化率", "CVR")),
                ("out", tr("超出区间天数", "days out of band")),
            ),
        )
        # the grant, its creator and CTR stay in view (80×24): a long nickname gives way
        table.keep_in_view("ctr", {"name": 8, "merchant": 6})

    def show_sheet(self, sheet: Any, grant_rows: list, cells: list) -> None:
        """`grant_rows` and `cells` come from `present.sheet_table`, built off the UI thread."""
        self.sheet = sheet
        self.grant_rows = grant_rows
        self.query_one("#grants-table", PagedTable).show(cells, list)
        self.show_detail()

    def show_detail(self) -> None:
        detail = self.query_one("#grant-detail", Static)
        row = self.query_one("#grants-table", DataTable).cursor_row
        charts = self.query_one(GrantCharts)
        if self.sheet is None or not self.grant_rows or not 0 <= row < len(self.grant_rows):
            detail.update(tr("这段时间没有投放数据。", "No delivery in this period."))
            charts.clear()
            return
        grant_id, days = self.grant_rows[row]
        bands = self.sheet.bands_for(days[0].merchant_id)
        charts.show(days, bands)
        out = Text()
        out.append(f"{grant_id}  {days[0].nickname}  {days[0].merchant_id}\n", style="bold")
        out.append(
            tr(
                f"点击率正常 {bands['ctr_normal_min']:.0%}–{bands['ctr_normal_max']:.0%}"
                f"（<{bands['ctr_low']:.0%} 过低，>{bands['ctr_broad']:.0%} 过泛）；"
                f"保本 ROI {num(days[0].break_even_roi)}；行业转化率 {pct(days[0].industry_cvr)}\n\n",
                f"CTR normal {bands['ctr_normal_min']:.0%}–{bands['ctr_normal_max']:.0%} "
                f"(<{bands['ctr_low']:.0%} too low, >{bands['ctr_broad']:.0%} too broad); "
                f"break-even ROI {num(days[0].break_even_roi)}; industry CVR "
                f"{pct(days[0].industry_cvr)}\n\n",
            ),
            style="dim",
        )
        grid = Table(box=None, padding=(0, 1), header_style="bold")
        for header in (
            tr("日期", "Date"),
            tr("消耗", "Spend"),
            tr("点击率", "CTR"),
            "ROI",
            tr("转化率", "CVR"),
        ):
            grid.add_column(header, justify="right")
        for d in days:
            grid.add_row(
                d.day.isoformat(),
                f"{d.spend:,.0f}",
                ratio_text(d.ctr, "{:.2%}", "bold red" if d.ctr_band in OUT_OF_BAND else ""),
                ratio_text(d.roi, "{:.2f}", "bold red" if d.roi_band == "below" else ""),
                ratio_text(d.cvr, "{:.2%}", "bold red" if d.cvr_band == "below" else ""),
            )
        detail.update(Group(out, grid, bar_chart(days, bands)))

    @on(DataTable.RowHighlighted, "#grants-table")
    @while_open
    def _highlighted(self) -> None:
        self.show_detail()
