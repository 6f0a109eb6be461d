"""Monitoring charts: one grant's CTR, ROI and CVR per day, with the rule bands drawn in
(the 3%–10% CTR band, the merchant's break-even ROI, the industry CVR) — what a 投手 reads
on the 千川 dashboard, next to the numbers the rules judged."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual_plotext import PlotextPlot

from qcrules.i18n import tr

LINE = "red"
BAND = "green"
SERIES = "cyan"


class GrantCharts(Vertical):
    """Three small charts; `show(days, bands)` draws them for one grant's sheet rows."""

    DEFAULT_CSS = """
    GrantCharts { height: auto; }
    GrantCharts PlotextPlot { height: 11; width: 1fr; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # what each chart shows: its series and its band lines (the grant's own numbers)
        self.series: dict[str, list[float | None]] = {}
        self.lines: dict[str, list[float]] = {}

    def compose(self) -> ComposeResult:
        yield PlotextPlot(id="chart-ctr")
        yield PlotextPlot(id="chart-roi")
        yield PlotextPlot(id="chart-cvr")

    def show(self, days: list[Any], bands: dict[str, float]) -> None:
        """Draw the charts of one grant (`days`: its monitoring-sheet rows, oldest first)."""
        labels = [d.day.strftime("%m-%d") for d in days]
        break_even = days[0].break_even_roi if days else None
        industry = days[0].industry_cvr if days else None
        self._draw(
            "#chart-ctr",
            tr("点击率 %（绿：正常区间）", "CTR % (green: the normal band)"),
            labels,
            [None if d.ctr is None else d.ctr * 100 for d in days],
            [
                (bands["ctr_normal_min"] * 100, BAND),
                (bands["ctr_normal_max"] * 100, BAND),
                (bands["ctr_low"] * 100, LINE),
            ],
        )
        self._draw(
            "#chart-roi",
            tr("ROI（红：保本线）", "ROI (red: break-even)"),
            labels,
            [d.roi for d in days],
            [(break_even, LINE)] if break_even else [],
        )
        self._draw(
            "#chart-cvr",
            tr("转化率 %（红：行业水平）", "CVR % (red: the industry)"),
            labels,
            [None if d.cvr is None else d.cvr * 100 for d in days],
            [(industry * 100, LINE)] if industry else [],
        )

    def clear(self) -> None:
        self.series, self.lines = {}, {}
        for plot in self.query(PlotextPlot):
            plot.plt.clear_figure()
            plot.refresh()

    def _draw(
        self,
        selector: str,
        title: str,
        labels: list[str],
        values: list[float | None],
        lines: list[tuple[float | None, str]],
    ) -> None:
        plot = self.query_one(selector, PlotextPlot)
        name = selector.removeprefix("#chart-")
        self.series[name] = values
        self.lines[name] = [level for level, _ in lines if level is not None]
        plt = plot.plt
        plt.clear_figure()
        plt.title(title)
        points = [(i, v) for i, v in enumerate(values) if v is not None]
        if points:
            xs, ys = zip(*points, strict=True)
            plt.plot(list(xs), list(ys), marker="braille", color=SERIES)
        for level, color in lines:
            if level is not None and labels:
                plt.hline(level, color)
        if labels:
            step = max(1, len(labels) // 4)
            ticks = list(range(len(labels) - 1, -1, -step))[::-1]  # the latest day always
            plt.xticks(ticks, [labels[i] for i in ticks])
        plot.refresh()
