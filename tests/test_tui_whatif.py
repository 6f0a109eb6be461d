"""The TUI's what-if pane (Packs tab) and backtest charts (Dashboard, Packs), driven by a pilot
on the demo workspace, plus a snapshot of the pane."""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from typing import Any

import pytest
from textual.widgets import Button, Input, Select

from conftest import settle_whatif
from helpers import write_csv
from qcrules import service
from qcrules.remembered import FOLDER
from qcrules.tui import QcrulesApp
from qcrules.tui.screens import ConfirmChange
from qcrules.tui.widgets.packs import PacksTab
from qcrules.workspace import Workspace
from test_tui import SIZE, TODAY, evaluated, text_of

pytestmark = pytest.mark.usefixtures("english")  # conftest: English labels in every test


async def test_the_backtest_runs_apart_and_quitting_does_not_wait_for_it(writable):
    """The chart's backtest is a child process (its CPU and memory out of the app): a user who
    quits while it runs is not kept waiting, and the child does not outlive the app."""
    shutil.rmtree(writable.root / FOLDER)  # the demo's is remembered (conftest)
    app = QcrulesApp(writable, as_of=TODAY, store=False)
    async with app.run_test(size=SIZE) as pilot:
        await evaluated(app, pilot)
        await pilot.press("d")
        for _ in range(200):
            if app._children:
                break
            await pilot.pause(0.01)
        child = app._children[0]
        assert child.poll() is None and child.pid != os.getpid()  # running, elsewhere
    assert child.wait(timeout=10) != 0  # killed as the app closed, not left to finish


async def test_quitting_while_a_whatif_runs_exits_at_once(workspace, monkeypatch):
    """q while a what-if was being worked out kept the user waiting seconds: it was two
    evaluations in a thread of the app, and Python waits for such a thread before the
    process ends. It runs apart now, and its child is killed as the app closes. (Here the
    in-process what-if is made slow, as on a large workspace: the child is not.)"""
    import asyncio
    import time

    import qcrules.backtest

    real = qcrules.backtest.whatif

    def slow_whatif(*args: Any, **kwargs: Any) -> Any:
        time.sleep(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(qcrules.backtest, "whatif", slow_whatif)
    app = QcrulesApp(workspace, as_of=TODAY, store=False)
    tab = None
    async with app.run_test(size=SIZE) as pilot:
        await evaluated(app, pilot)
        await pilot.press("p")
        await pilot.pause()
        tab = app.query_one(PacksTab)
        tab.whatif_pause_s = 0.01
        app.query_one("#whatif-param", Select).value = "monitoring.ctr_normal_min"
        app.query_one("#whatif-value", Input).focus()
        children = len(app._children)
        await pilot.press(*"0.05")
        for _ in range(500):  # the what-if under way
            await pilot.pause(0.01)
            if tab._whatif_running:
                break
        for _ in range(200):  # its child started, if it has one
            if len(app._children) > children:
                break
            await pilot.pause(0.01)
        assert tab._whatif_running and "Working it out" in text_of(app, "#whatif-result")
        started = [child for child in app._children[children:] if child.poll() is None]
        quit_at = time.monotonic()
        await pilot.press("q")
    # what `asyncio.run` does as the app's process ends: wait for the app's threads
    await asyncio.get_running_loop().shutdown_default_executor()
    waited = time.monotonic() - quit_at
    assert waited < 1.5, f"quitting took {waited:.1f} s"
    for child in started:
        assert child.wait(timeout=10) != 0  # killed as the app closed, not left to finish


def import_a_costly_day(workspace) -> None:
    """A day of a demo grant with ¥9000 spent and nothing sold: the backtest's last day
    changes (a new data version)."""
    row = [TODAY.isoformat(), "M1", "2269146343602051947", "G-000004", "9000", "10", "1", "0"]
    header = ["日期", "商家ID", "达人UID", "授权ID", "整体消耗", "整体展示次数", "整体点击次数", "整体成交金额"]  # fmt: skip
    path = write_csv(workspace.root / "today.csv", header, [row])
    assert service.import_files(workspace, "metrics", [path]).ok


async def test_the_chart_is_worked_out_once_then_remembered_for_the_same_data(writable):
    """Opening the app again on the same records, packs and settings shows the chart without
    a second backtest; after an import it is worked out again."""
    shutil.rmtree(writable.root / FOLDER)

    async def session() -> tuple[list, Any]:
        app = QcrulesApp(writable, as_of=TODAY, store=False)
        async with app.run_test(size=SIZE) as pilot:
            await evaluated(app, pilot)
            await pilot.press("d")
            await evaluated(app, pilot)
            return list(app._children), app.backtest

    children, first = await session()
    assert len(children) == 1 and first is not None
    children, again = await session()
    assert children == [] and again.to_json() == first.to_json()
    import_a_costly_day(writable)
    children, changed = await session()
    assert len(children) == 1
    assert (
        changed.to_json() == service.backtest(writable, TODAY - timedelta(days=29), TODAY).to_json()
    )


async def what_if(app, pilot, param: str, value: str) -> None:
    await pilot.press("p")
    await pilot.pause()
    app.query_one("#whatif-param", Select).value = param
    box = app.query_one("#whatif-value", Input)
    box.focus()
    box.value = ""
    await pilot.press(*value)
    await settle_whatif(app, pilot)


async def test_the_whatif_pane_shows_what_a_value_adds_and_removes(workspace):
    expected = service.whatif(workspace, ["monitoring.ctr_normal_min=0.05"], as_of=TODAY)
    assert len(expected.added) >= 3
    app = QcrulesApp(workspace, as_of=TODAY, store=False)
    async with app.run_test(size=SIZE) as pilot:
        await evaluated(app, pilot)
        await what_if(app, pilot, "monitoring.ctr_normal_min", "0.05")
        shown = text_of(app, "#whatif-result")
        assert f"{len(expected.added)} added, {len(expected.removed)} removed" in shown
        for finding in expected.added:
            entity = finding.subject
            assert f"+ {finding.rule} {entity.type} {entity.id}" in shown
        assert app.query_one("#whatif-save", Button).disabled is False
        # typing on: a bad value says what is wrong, and cannot be saved
        await pilot.press("x")
        await settle_whatif(app, pilot)
        assert "must be a number" in text_of(app, "#whatif-result")
        assert app.query_one("#whatif-save", Button).disabled is True
        # read-only (--no-store): saving is refused
        app.query_one("#whatif-value", Input).value = "0.04"
        await settle_whatif(app, pilot)
        app.action_save_whatif()
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmChange)


async def test_save_asks_first_then_writes_qcrules_toml(writable):
    config = writable.config.path
    before = config.read_text(encoding="utf-8")
    app = QcrulesApp(writable, as_of=TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await evaluated(app, pilot)
        await what_if(app, pilot, "permissions.max_pending_days", "1")
        assert "1 added" in text_of(app, "#whatif-result")
        await pilot.click("#whatif-save")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmChange)
        preview = str(app.screen.query_one("#preview").content)
        assert "[params.permissions] max_pending_days = 1" in preview and "(now 3)" in preview
        await pilot.press("escape")  # cancelled: nothing written
        await pilot.pause()
        assert config.read_text(encoding="utf-8") == before
        await pilot.click("#whatif-save")
        await pilot.pause()
        await pilot.press("enter")
        await evaluated(app, pilot)
        text = config.read_text(encoding="utf-8")
        assert "[params.permissions]" in text and "max_pending_days = 1" in text
        assert all(line in text for line in before.splitlines() if line.startswith("#"))
        # the evaluation that follows uses it
        assert any(f.rule == "PRM008" for f in app.report.findings)
        assert "max_pending_days = 1" in str(app.query_one("#whatif-param", Select)._options)


async def test_the_note_typed_when_saving_lands_beside_the_value_in_qcrules_toml(writable):
    """The save dialog asks for a note: it is written as the value's comment (it was dropped)."""
    import tomllib

    config = writable.config.path
    app = QcrulesApp(writable, as_of=TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await evaluated(app, pilot)
        await what_if(app, pilot, "permissions.max_pending_days", "1")
        await pilot.click("#whatif-save")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmChange)
        await pilot.press(*"chase requests daily, ops review")
        await pilot.press("enter")
        await evaluated(app, pilot)
    text = config.read_text(encoding="utf-8")
    assert "max_pending_days = 1 # chase requests daily, ops review" in text.splitlines()
    assert tomllib.loads(text)["params"]["permissions"]["max_pending_days"] == 1


async def test_the_dashboard_and_packs_tab_draw_the_backtest(workspace):
    expected = service.backtest(workspace, TODAY - timedelta(days=29), TODAY)
    app = QcrulesApp(workspace, as_of=TODAY, store=False)
    async with app.run_test(size=SIZE) as pilot:
        await evaluated(app, pilot)
        assert app.backtest is None  # not computed until a tab that shows it is opened
        await pilot.press("d")
        await evaluated(app, pilot)
        chart = text_of(app, "#backtest-chart")
        assert app.backtest.to_json() == expected.to_json()
        # in view without scrolling: the demo's 26 kinds of waiting actions pushed it off
        assert app.query_one("#backtest-chart").region.bottom <= app.screen.size.height - 1
        for level in ("critical", "error", "warn", "info"):
            line = next(row for row in chart.splitlines() if row.startswith(level))
            last = expected.days[-1].by_level[level]
            assert line.split()[2] == str(last)
            assert len(line.split()[1]) == 30  # one bar per day
        assert "10-29" in chart and "11-27" in chart
        await pilot.press("p")
        await pilot.pause()
        rules = app.query_one("#rules-table")
        rules.move_cursor(row=[r.id for _, r, _ in app.query_one(PacksTab).rules].index("MON004"))
        await pilot.pause()
        detail = text_of(app, "#rule-detail")
        summary = expected.rules["MON004"]
        assert "Backtest, last 30 days:" in detail
        assert f"first seen {summary['first_seen']}, firing on {summary['days_firing']} days" in (
            detail
        )
        # the rule's own parameter is offered in the what-if pane
        assert app.query_one("#whatif-param", Select).value == "monitoring.roi_streak_days"


def test_whatif_pane_snapshot(snap_compare, demo_folder):
    workspace = Workspace.discover(demo_folder / "qcrules.toml")
    app = QcrulesApp(workspace, as_of=TODAY, store=False)

    async def settle(pilot) -> None:
        for _ in range(200):  # the first evaluation done, so it takes no focus later
            await evaluated(app, pilot)
            if app.report is not None:
                break
        await what_if(app, pilot, "monitoring.ctr_normal_min", "0.05")
        app.clear_notifications()
        app.query_one("#rules-table").focus()  # a deterministic focus, no blinking cursor
        await evaluated(app, pilot)
        assert app.query_one("TabbedContent").active == "packs"
        assert "added" in text_of(app, "#whatif-result")

    try:
        assert snap_compare(app, terminal_size=SIZE, run_before=settle)
    finally:
        workspace.close()


async def test_keys_typed_quickly_start_one_whatif_for_the_value_they_make(workspace):
    """A what-if is two evaluations that cannot be stopped once begun: typing "0.05" starts
    one, for 0.05, once typing pauses, not four competing ones."""
    app = QcrulesApp(workspace, as_of=TODAY, store=False)
    async with app.run_test(size=SIZE) as pilot:
        await evaluated(app, pilot)
        tab = app.query_one(PacksTab)
        tab.whatif_pause_s = 2.0  # a pause no keystroke of a busy test machine reaches
        await what_if(app, pilot, "monitoring.ctr_normal_min", "0.05")
        assert tab.whatif_runs == 1
        assert "ctr_normal_min" in str(tab.whatif_overrides)
        assert tab.whatif_overrides == {"monitoring": {"ctr_normal_min": 0.05}}
        # a value typed while one runs waits for it, then runs once
        box = app.query_one("#whatif-value", Input)
        box.value = "0.06"
        for _ in range(200):  # until that one has started
            await pilot.pause(0.05)
            if tab._whatif_running:
                break
        box.value = "0.07"  # typed while 0.06 is being worked out
        await settle_whatif(app, pilot)
        assert tab.whatif_runs == 3
        assert tab.whatif_overrides == {"monitoring": {"ctr_normal_min": 0.07}}


async def test_the_chart_follows_a_change_made_while_the_app_is_open(writable):
    """The chart was asked for once per as-of day: after a change and `r` it still showed the
    old days. Each new run asks again (at once when nothing changed: remembered)."""
    app = QcrulesApp(writable, as_of=TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await evaluated(app, pilot)
        await pilot.press("d")
        await evaluated(app, pilot)
        before = app.backtest.to_json()
        import_a_costly_day(writable)
        await pilot.press("r")
        await evaluated(app, pilot)
        await evaluated(app, pilot)
        fresh = service.backtest(writable, TODAY - timedelta(days=29), TODAY).to_json()
        assert app.backtest.to_json() == fresh != before


async def test_r_reads_qcrules_toml_and_the_pack_files_again(writable):
    """qcrules.toml edited while the app is open: `r` judged with the old settings (and stored
    that run as the last one), and the Packs tab kept the old values."""
    app = QcrulesApp(writable, as_of=TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await evaluated(app, pilot)
        before = sum(f.rule == "PRM008" for f in app.report.findings)
        config = writable.root / "qcrules.toml"
        config.write_text(
            config.read_text(encoding="utf-8") + "\n[params.permissions]\nmax_pending_days = 1\n",
            encoding="utf-8",
        )
        await pilot.press("r")
        await evaluated(app, pilot)
        await evaluated(app, pilot)
        assert sum(f.rule == "PRM008" for f in app.report.findings) > before
        assert "max_pending_days = 1" in str(app.query_one("#whatif-param", Select)._options)
        # a broken edit is said in place, and the settings in effect stay
        config.write_text("[params.permissions\n", encoding="utf-8")
        await pilot.press("r")
        await evaluated(app, pilot)
        assert app.evaluation_error and "qcrules.toml" in app.evaluation_error
        assert writable.config.params["permissions"]["max_pending_days"] == 1
