"""Every tab at 80×24 and at 160×45, in Chinese and in English (pytest-textual-snapshot).

A snapshot is compared as an SVG: regenerate with `pytest --snapshot-update` only when a
change of the screen is meant, and read the SVG diff before keeping it."""

from __future__ import annotations

import pytest

from conftest import DEMO_DAY, settle_app
from qcrules.i18n import language
from qcrules.tui import QcrulesApp
from qcrules.tui.widgets.dashboard import DashboardTab
from qcrules.workspace import Workspace

TABS = {  # tab -> its key
    "dashboard": "d",
    "findings": "f",
    "actions": "o",
    "creators": "c",
    "grants": "g",
    "monitoring": "m",
    "packs": "p",
}
SIZES = {"80x24": (80, 24), "160x45": (160, 45)}


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("tab", list(TABS))
def test_tab_snapshot(snap_compare, demo_folder, monkeypatch, tab, size, lang):
    monkeypatch.setenv("QCRULES_LANG", lang)
    language.cache_clear()
    workspace = Workspace.discover(demo_folder / "qcrules.toml")
    app = QcrulesApp(workspace, as_of=DEMO_DAY, store=False)

    async def on_tab(pilot) -> None:
        await settle_app(app, pilot)
        # the run's id and duration change with every run, and its engine with the Python
        # version (3.13 reads the rules in plain Python): fixed ones, drawn by the app
        run = app.report.run
        run.id, run.duration_ms, run.engine = "20261127T090000-0a1b2c3d", 420, "durable-rules"
        app.query_one(DashboardTab).show_run(app.report, app.history)
        await pilot.press(TABS[tab])
        await settle_app(app, pilot, rounds=2)
        app.clear_notifications()
        await pilot.pause()

    try:
        assert snap_compare(app, terminal_size=SIZES[size], run_before=on_tab)
    finally:
        workspace.close()
        language.cache_clear()
