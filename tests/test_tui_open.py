"""Opening the TUI on a workspace with a stored run: that run is shown at once (read back
from storage, not re-evaluated), then replaced by the new evaluation; if the new one fails,
the stored run stays on screen with the error."""

from __future__ import annotations

import gc
from datetime import date

import pytest
from textual.widgets import DataTable, TabbedContent

from conftest import settle_app
from qcrules import service
from qcrules.tui import QcrulesApp
from qcrules.workspace import Workspace

DAY = date(2026, 11, 27)
SIZE = (160, 45)


pytestmark = pytest.mark.usefixtures("english")  # conftest: English labels in every test


def essentials(finding: dict) -> tuple:
    entity = finding["entity"]
    return (
        finding["rule"],
        finding["level"],
        entity["type"],
        entity["id"],
        entity.get("merchant"),
        entity.get("creator"),
        entity.get("name"),
        finding["message"],
        finding["action"]["kind"],
        finding["fingerprint"],
        bool(finding.get("superseded_by")),
    )


def test_the_stored_report_reads_back_what_evaluate_stored(stored_demo):
    workspace, report = stored_demo
    back = service.stored_report(workspace)
    assert back is not None and back.run.stored is True
    assert back.run.id == report["run"]["id"]
    assert back.run.as_of.isoformat() == report["run"]["as_of"]
    assert back.summary["findings"] == report["summary"]["findings"]
    assert [essentials(f.to_json()) for f in back.findings] == [
        essentials(f) for f in report["findings"]
    ]


def test_no_stored_run_is_none(db_url, tmp_path):
    from qcrules.workspace import init_workspace

    workspace = init_workspace(tmp_path / "empty", database_url=db_url)
    try:
        assert service.stored_report(workspace) is None
    finally:
        workspace.close()


async def test_a_failed_evaluation_keeps_the_stored_run_on_screen(stored_demo):
    workspace, report = stored_demo
    # a broken pack makes the new evaluation fail
    folder = workspace.root / "team-packs"
    folder.mkdir()
    (folder / "bad.toml").write_text('[pack]\nid = "bad"\n[[rules]]\nid = 3\n', encoding="utf-8")
    config = workspace.root / "qcrules.toml"
    config.write_text(
        config.read_text(encoding="utf-8") + '\n[packs]\npaths = ["team-packs"]\n',
        encoding="utf-8",
    )
    broken = Workspace.discover(config)
    try:
        app = QcrulesApp(broken, as_of=DAY)
        async with app.run_test(size=SIZE) as pilot:
            await settle_app(app, pilot)
            table = app.query_one("#findings-table", DataTable)
            assert table.row_count == len(report["findings"])
            assert app.report is not None and app.report.run.stored
            assert f"stored run {report['run']['started_at'].replace('T', ' ')[:19]}" in (
                app.sub_title
            )
            info = str(app.query_one("#run-info").content)
            assert "invalid" in info.lower() or "bad.toml" in info
            assert f"still showing the stored run {report['run']['id']}" in info
    finally:
        broken.close()


async def test_the_new_evaluation_replaces_the_stored_run(stored_demo):
    workspace, report = stored_demo
    app = QcrulesApp(workspace, as_of=DAY)
    async with app.run_test(size=SIZE) as pilot:
        await settle_app(app, pilot)
        assert app.report is not None and not app.report.run.stored
        assert app.report.run.id != report["run"]["id"]
        assert app.sub_title == workspace.root.name
        assert app.query_one("#findings-table", DataTable).row_count == len(report["findings"])


BROKEN_FILE = ("file is not a database", "database disk image is malformed")


async def test_a_database_gone_bad_is_said_in_place_and_the_app_keeps_running(writable):
    """The workspace file overwritten under an open app (a sync tool, a bad copy): the next
    evaluation fails with the cause on the run line and in a toast, the last findings stay,
    and every key still works — a worker's surprise never takes the app down."""
    from textual.widgets import Static

    from qcrules.tui.widgets.findings import FindingsTab

    app = QcrulesApp(writable, as_of=DAY)
    async with app.run_test(size=SIZE) as pilot:
        await settle_app(app, pilot)
        shown = len(app.query_one(FindingsTab).shown)
        assert shown > 0
        writable.close()
        (writable.root / "qcrules.db").write_bytes(b"not a database" * 1000)
        await pilot.press("r")
        await settle_app(app, pilot)
        assert app.is_running
        assert gc.isenabled() and app.collector.workers == 0  # a failed evaluation too
        # SQLite names the damage by what it reads first: the header ("file is not a
        # database") or, when a page or the WAL was read before it, a malformed image.
        cause = next((c for c in BROKEN_FILE if c in (app.evaluation_error or "")), None)
        assert cause, app.evaluation_error
        assert "sqlalche.me" not in app.evaluation_error  # the cause, not a link to a FAQ
        assert any(cause in n.message for n in app._notifications)
        run_line = str(app.query_one("#run-info", Static).render())
        assert cause in run_line
        assert len(app.query_one(FindingsTab).shown) == shown  # the last run stays in view
        app.clear_notifications()
        await pilot.press("e")  # the Findings tab's own worker fails the same way: said too
        await settle_app(app, pilot)
        assert any(c in n.message for n in app._notifications for c in BROKEN_FILE)
        await pilot.press("c")
        await settle_app(app, pilot)
        assert app.is_running and app.query_one(TabbedContent).active == "creators"


@pytest.mark.usefixtures("english")
async def test_keys_typed_while_the_app_launches_are_kept_and_land_where_the_user_sees(workspace):
    """The tabs out of view get their widgets after the first screen; keys typed before
    then (`c`, `/`, a filter) are not lost: once every tab is there they act in order — the
    Creators tab in view, its filter holding what was typed."""
    from textual.widgets import Input

    from qcrules.tui.widgets import RunTab
    from qcrules.tui.widgets.creators import CreatorsTab

    app = QcrulesApp(workspace, as_of=DAY, store=False)
    async with app.run_test(size=SIZE) as pilot:
        later = [tab for tab in app.query(RunTab) if tab.id != "findings"]
        assert later and all(tab.deferred and not tab.children for tab in later)
        assert app.query_one("#findings-table", DataTable)  # the tab in view: at once
        await pilot.press("c", "slash", "1", "2")  # at once: before the other tabs are there
        await settle_app(app, pilot)
        assert app.early_keys is None and not any(tab.deferred for tab in later)
        assert app.query_one(TabbedContent).active == "creators"
        box = app.query_one("#creator-filter", Input)
        assert box.value == "12" and app.focused is box
        shown = app.query_one(CreatorsTab).shown
        assert 0 < len(shown) < len(app.creator_facts)  # the filter acted on the creators


@pytest.mark.usefixtures("english")
async def test_a_palette_command_picked_during_the_launch_runs_once_the_tabs_are_there(workspace):
    """The palette opens with the mouse too (the header's icon), so a command can be picked
    before the Packs tab has its widgets: it runs when they are there, not into nothing."""
    app = QcrulesApp(workspace, as_of=DAY, store=False)
    async with app.run_test(size=SIZE) as pilot:
        assert not app.ready
        await app.action_runner("show_tab('packs')")()  # what the palette's entry calls
        assert app.query_one(TabbedContent).active == "findings"  # held
        await settle_app(app, pilot)
        assert app.ready and app.query_one(TabbedContent).active == "packs"
        assert app.focused is app.query_one("#rules-table", DataTable)


async def test_closing_the_app_during_its_launch_starts_nothing(writable):
    """Quit (or a test leaving its block) before every tab has its widgets: no error from a
    tab that was being mounted, no evaluation started, no run stored afterwards."""
    before = len(service.recent_runs(writable))
    app = QcrulesApp(writable, as_of=DAY)
    async with app.run_test(size=SIZE) as pilot:
        assert app.in_turn.pending
        await pilot.press("ctrl+q")  # never held, even while launching
    assert app.return_code == 0 and not app.ready
    assert not list(app.workers) and len(service.recent_runs(writable)) == before
